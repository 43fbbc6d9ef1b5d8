# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the controller keeps the fleet's machine states and callback key, for the action plugins."""

from __future__ import annotations

import os

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
