# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files replaced whole: a reader (a browser reloading a report, git reading an export) sees the old file or the new one."""

from __future__ import annotations

import os
import tempfile


def replace_text(path: str, text: str, mode: int = 0o644) -> None:
    """Writes text to a temporary file beside path and renames it over path."""
    descriptor, temporary = tempfile.mkstemp(prefix=".netboot-", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
