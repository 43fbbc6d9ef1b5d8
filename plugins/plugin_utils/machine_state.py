# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the controller keeps the fleet's machine states and callback key, for the action plugins."""

from __future__ import annotations

import fcntl
import hashlib
import os
from contextlib import contextmanager

from ansible.errors import AnsibleActionFail

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import callback, store

# The inventory variable naming the directory (default bringup/store.py's DEFAULT_DIR).
STATE_DIR_HOSTVAR = "netboot_state_dir"
STATE_DIR_ARG = dict(state_dir=dict(type="path"))


def state_dir(args, task_vars, templar):
    given = args.get("state_dir") or task_vars.get(STATE_DIR_HOSTVAR)
    return os.path.expanduser(templar.template(given) if given else store.DEFAULT_DIR)


def machine_store(args, task_vars, templar, sot_path):
    return store.MachineStore(store.default_path(sot_path, state_dir(args, task_vars, templar)))


def callback_key(args, task_vars, templar):
    return callback.load_key(os.path.join(state_dir(args, task_vars, templar), callback.KEY_FILE))


@contextmanager
def push_lock(args, task_vars, templar, node):
    """Hold the controller's lock for pushing the machine states to `node` (a file in the state directory).

    A push reads the states, then renders them on the node: two pushes to one node at once (the slices of one
    bring-up) could land in the other order than they read, and an older list of installed machines win. Under
    this lock whoever reads later pushes later. Slices on several controllers share the state directory, and
    so the lock.
    """
    directory = state_dir(args, task_vars, templar)
    path = os.path.join(directory, ".push-%s.lock" % hashlib.sha256(str(node).encode("utf-8")).hexdigest()[:16])
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        lock = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise AnsibleActionFail("cannot lock %s: %s" % (path, exc.strerror or exc)) from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
    finally:
        os.close(lock)
