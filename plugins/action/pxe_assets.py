# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pxe_assets: validate the SoT on the controller, ship it and the templates, render and sync on the node.

Why render on the node: at 100,000 machines the rendered tree is some 300,000 files, the SoT one archive of
a few MB. Shipping the SoT keeps the transfer small and lets the node compare and skip unchanged files
locally; rendering on the controller would mean moving the whole tree (or a checksum round trip per file)
on every run. See docs/architecture.md for the measurement.
"""

from __future__ import annotations

import os
import tempfile

from ansible.errors import AnsibleActionFail

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import callback, lifecycle, store
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import render as pxe
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import sot_archive
from ansible_collections.netboot.fleet.plugins.plugin_utils import machine_state
from ansible_collections.netboot.fleet.plugins.plugin_utils.sot_action import LocalFile, Payload, SotAction


class ActionModule(SotAction):
    MODULE = "netboot.fleet.pxe_assets"
    ACTION_ARGS = dict(template_dir=dict(type="path"), ssh_authorized_keys=dict(type="list", elements="str", no_log=False),
                       **machine_state.STATE_DIR_ARG)

    def act(self, fleet, args, module_args, task_vars, timing):
        # From reading the machine states to the node's sync: see push_lock.
        node = self._task.delegate_to or task_vars.get("inventory_hostname")
        with machine_state.push_lock(args, task_vars, self._templar, node):
            return super().act(fleet, args, module_args, task_vars, timing)

    def payload(self, fleet, args, module_args, task_vars):
        # The controller's load (fleet) is the check: an invalid SoT fails before anything travels.
        source = self.sot_path(args, task_vars)
        template_dir = self._loader.path_dwim(args["template_dir"]) if args.get("template_dir") else None
        module_args["templates"] = pxe.read_templates(template_dir)
        module_args["sot_label"] = source if os.path.isdir(source) else os.path.dirname(source)
        # The lifecycle: each machine's callback token comes from this key; installed machines boot their disk.
        try:
            module_args["callback_key"] = machine_state.callback_key(args, task_vars, self._templar)
            records = machine_state.machine_store(args, task_vars, self._templar, source).read()
        except (callback.CallbackKeyError, store.StoreError) as exc:
            raise AnsibleActionFail(str(exc)) from None
        # Default: the inventory's keys, so that every task rendering the assets (the role, the wait stage) agrees.
        keys = args["ssh_authorized_keys"]
        module_args["ssh_authorized_keys"] = list(keys if keys is not None else
                                                  self._templar.template(task_vars.get("netboot_ssh_authorized_keys") or []))
        module_args["local_boot"] = sorted(name for name, record in records.items()
                                           if record.get("state") in lifecycle.LOCAL_BOOT)
        handle, archive = tempfile.mkstemp(prefix="netboot-sot-", suffix=".tar")
        os.close(handle)
        try:
            sot_archive.pack(source, archive)
        except BaseException:
            os.unlink(archive)
            raise
        return Payload(files={"sot": ("sot.tar", LocalFile(archive))}, args=module_args, temporary=[archive],
                       hidden=["templates", "callback_key"])
