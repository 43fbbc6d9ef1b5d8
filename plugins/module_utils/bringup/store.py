# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where machines' provisioning states live between runs: one JSON file per fleet on the controller.

Why a file: the states are written by the controller only (the bring-up's wait stage and
netboot.fleet.machine_state), read by the next run, and must survive a controller restart; a
file next to the controller's other state needs no service. Each change takes an exclusive lock
(flock on <file>.lock: two runs on one fleet serialise their rounds) and replaces the file
atomically (temporary file, fsync, rename), so a crash leaves the old or the new file, never half.
The file is 0600: it names machines and their history. The store's interface (read, update) is what
a database-backed store would offer too.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from contextlib import contextmanager

SCHEMA = "netboot.fleet/machine-state/1"
DEFAULT_DIR = "~/.local/state/netboot.fleet"


class StoreError(Exception):
    pass


def default_path(sot_path, state_dir=None):
    """The store of the fleet whose SoT is at sot_path (absolute): one file per SoT."""
    digest = hashlib.sha256(os.path.abspath(sot_path).encode("utf-8")).hexdigest()[:24]
    return os.path.join(os.path.expanduser(state_dir or DEFAULT_DIR), "machines-%s.json" % digest)


class MachineStore:
    def __init__(self, path):
        self.path = os.path.expanduser(path)

    def read(self) -> dict:
        """{machine name: record}; empty when the file does not exist yet."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StoreError("machine state %s cannot be read: %s" % (self.path, exc)) from None
        if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("machines"), dict):
            raise StoreError("machine state %s is not a %s file" % (self.path, SCHEMA))
        return data["machines"]

    @contextmanager
    def update(self):
        """Lock, yield the records to change in place, write them back (only if changed) and unlock."""
        directory = os.path.dirname(self.path) or "."
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            lock = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError("machine state %s cannot be locked: %s" % (self.path, exc)) from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            machines = self.read()
            before = json.dumps(machines, sort_keys=True)
            yield machines
            text = json.dumps({"schema": SCHEMA, "machines": machines}, sort_keys=True, indent=1)
            if json.dumps(machines, sort_keys=True) != before:
                self._write(directory, text)
        finally:
            os.close(lock)

    def _write(self, directory, text):
        handle, temp = tempfile.mkstemp(dir=directory, prefix=".machines-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temp, 0o600)
            os.replace(temp, self.path)
        except OSError as exc:
            if os.path.exists(temp):
                os.unlink(temp)
            raise StoreError("machine state %s cannot be written: %s" % (self.path, exc)) from None
