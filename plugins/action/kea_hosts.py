# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of netboot.fleet.kea_hosts: render the reservations here, ship one file, sync there.

The SoT lives on the controller; the module runs wherever the database is reachable (often the
database host itself, over its Unix socket). The reservations are the ones the json mode puts in
each subnet (kea.render with the same SoT), so both modes serve the same answers.
"""

from __future__ import annotations

import json
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.netboot.fleet.plugins.module_utils import kea, kea_hostsdb, sot

FAMILIES = ("dhcp4", "dhcp6")
ACTION_ONLY = ("sot",)


class ActionModule(ActionBase):

    TRANSFERS_FILES = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        families = args.get("families") or list(FAMILIES)
        if not isinstance(families, list) or not families or any(family not in FAMILIES for family in families):
            raise AnsibleActionFail("families must be a non-empty list of %s, got %r" % (", ".join(FAMILIES), families))
        if not args.get("sot"):
            raise AnsibleActionFail("sot is required: the source of truth (file or directory) on the controller")
        if "src" in args:
            raise AnsibleActionFail("src is set by the action plugin itself; use sot")

        start = time.monotonic()
        path = self._loader.path_dwim(args["sot"])
        try:
            loaded = sot.load(path)
            load_seconds = time.monotonic() - start
            start = time.monotonic()
            # Reservations do not depend on server settings: the default Settings render the same ones.
            reservations = {family: kea_hostsdb.reservations_from_config(kea.render(loaded, family))
                            for family in families}
        except (sot.SotError, kea.KeaRenderError) as exc:
            # Nothing is written: the error names file, record and field.
            raise AnsibleActionFail(str(exc))
        text = json.dumps(reservations, sort_keys=True, separators=(",", ":"))
        render_seconds = time.monotonic() - start

        start = time.monotonic()
        tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
        remote_src = self._connection._shell.join_path(tmpdir, "kea-hosts.json")
        self._transfer_data(remote_src, text)
        self._fixup_perms2((tmpdir, remote_src))
        transfer_seconds = time.monotonic() - start

        module_args = {key: value for key, value in args.items() if key not in ACTION_ONLY}
        module_args["src"] = remote_src
        module_args["families"] = families
        try:
            result.update(self._execute_module(module_name="netboot.fleet.kea_hosts", module_args=module_args,
                                               task_vars=task_vars))
        finally:
            self._remove_tmp_path(tmpdir)
        if isinstance(result.get("timing"), dict):
            result["timing"].update(load_sot=round(load_seconds, 3), render=round(render_seconds, 3),
                                    transfer=round(transfer_seconds, 3))
        return result
