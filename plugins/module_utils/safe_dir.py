# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Directories under shared places (/var/tmp) that the controller writes: made, or checked before use.

A directory another user made first (or a symbolic link in its place) would let that user replace what we write
(the SoT cache is unpickled: that runs code; a report's `latest` link could be pointed anywhere)."""

from __future__ import annotations

import os
import stat


class UnsafeDirectory(OSError):
    """The directory or one of its parents may be changed by another user."""


def ensure_dir(path: str, mode: int = 0o700) -> str:
    """Make path (and missing parents) with mode, then check it and every parent: each owned by this user or root
    (so a symbolic link someone else made is refused) and, unless sticky like /var/tmp, not writable by group or
    others. path itself, when ours, is given mode again (a directory left world-writable is fixed, not refused).
    Returns the absolute path; raises UnsafeDirectory."""
    path = os.path.abspath(path)
    os.makedirs(path, mode=mode, exist_ok=True)
    uid = os.geteuid()
    info = os.lstat(path)
    if stat.S_ISDIR(info.st_mode) and info.st_uid == uid and stat.S_IMODE(info.st_mode) != mode:
        os.chmod(path, mode)
    current = path
    while True:
        info = os.lstat(current)
        if info.st_uid not in (uid, 0):
            raise UnsafeDirectory("%s is owned by uid %d, not by this user (uid %d) or root" % (current, info.st_uid, uid))
        if not stat.S_ISLNK(info.st_mode) and info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
            raise UnsafeDirectory("%s may be written by other users (mode %o)" % (current, stat.S_IMODE(info.st_mode)))
        parent = os.path.dirname(current)
        if parent == current:
            return path
        current = parent
