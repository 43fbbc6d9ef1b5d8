# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SoT as pxe_assets ships it to a node: one tar of its files under sot/ (pack on the controller, unpack there)."""

from __future__ import annotations

import os
import shutil
import tarfile

ARCHIVE_ROOT = "sot"


def pack(source, destination):
    """Write source (a SoT file, or a directory shipped whole minus hidden entries) as a tar under sot/."""
    with tarfile.open(destination, "w") as bundle:
        if os.path.isfile(source):
            bundle.add(source, arcname="%s/%s" % (ARCHIVE_ROOT, os.path.basename(source)), recursive=False)
            return
        for current, dirs, files in os.walk(source):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                path = os.path.join(current, name)
                if name.startswith(".") or not os.path.isfile(path):
                    continue
                relative = os.path.relpath(path, source).replace(os.sep, "/")
                bundle.add(path, arcname="%s/%s" % (ARCHIVE_ROOT, relative), recursive=False)


def unpack(archive, workdir):
    """Extract a pack()ed archive (regular files under sot/ only) into workdir; return the SoT path there."""
    root = os.path.join(workdir, ARCHIVE_ROOT)
    with tarfile.open(archive) as bundle:
        for member in bundle.getmembers():
            parts = member.name.split("/")
            if (not member.isfile() or parts[0] != ARCHIVE_ROOT or len(parts) < 2
                    or any(part in ("", ".", "..") for part in parts)):
                raise ValueError("unexpected member %r in the SoT archive" % member.name)
            target = os.path.join(workdir, *parts)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with bundle.extractfile(member) as source, open(target, "wb") as handle:
                shutil.copyfileobj(source, handle)
    return root
