# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read what was appended to a log or lease file since the last read: a cursor per file.

The wait stage reads every DHCP node's logs every few seconds for as long as the bring-up lasts; at
thousands of machines re-reading a whole log per poll costs more than the machines' boots. A cursor
remembers the file's identity (device, inode) and the offset of the first byte not read yet, so a
poll reads only the new whole lines, in bounded chunks. A file replaced by rotation (nginx's
logrotate: `<file>.1`; Kea's lease-file cleanup: `<file>.2`) is finished from its companion name,
then the new file is read from its start; a truncated file is read again from its start.

Cursors are plain dicts ({"device", "inode", "offset", "header"}) so the caller stores them as JSON.
"""

from __future__ import annotations

import os

CHUNK = 4 * 1024 * 1024  # bytes per read: what one poll holds in memory per file at most


def _identity(stat):
    return [stat.st_dev, stat.st_ino]


def new_lines(path, cursor, companions=(), start=None):
    """Yield lists of the whole lines appended to `path` since `cursor` (updated in place as they are read).

    cursor: {} for a file never read; `start(handle, size)` then gives the offset to begin at (default 0).
    companions: the suffixes the file may have been renamed to by rotation, where its rest is read.
    A missing `path` raises FileNotFoundError (the cursor is kept: the file may come back rotated).
    """
    stat = os.stat(path)
    if cursor.get("inode") is not None and [cursor.get("device"), cursor["inode"]] != _identity(stat):
        for suffix in companions:
            try:
                with open(path + suffix, "rb") as handle:
                    if _identity(os.fstat(handle.fileno())) == [cursor.get("device"), cursor["inode"]]:
                        yield from _read(handle, cursor, final=True)
                        break
            except FileNotFoundError:
                continue
        cursor.clear()
    with open(path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        if cursor.get("inode") is None:
            cursor.update(device=stat.st_dev, inode=stat.st_ino, header=None,
                          offset=start(handle, stat.st_size) if start else 0)
        elif stat.st_size < cursor["offset"]:  # truncated in place (copytruncate): all of it is new
            cursor.update(offset=0, header=None)
        yield from _read(handle, cursor, final=False)


def _read(handle, cursor, final):
    """Whole lines from cursor["offset"] to the end, CHUNK bytes at a time; a last line without its
    newline is left for the next poll (it is being written) unless the file is `final` (rotated away)."""
    handle.seek(cursor["offset"])
    pending = b""
    while True:
        data = handle.read(CHUNK)
        if not data:
            break
        data = pending + data
        cut = data.rfind(b"\n") + 1
        pending = data[cut:]
        if cut:
            cursor["offset"] += cut
            yield _decoded(data[:cut], cursor)
    if final and pending:
        cursor["offset"] += len(pending)
        yield _decoded(pending, cursor)


def _decoded(data, cursor):
    lines = data.decode("utf-8", "replace").splitlines()
    if cursor.get("header") is None and lines and cursor["offset"] == len(data):
        cursor["header"] = lines[0]  # the file's first line: a CSV file's column names
    return lines
