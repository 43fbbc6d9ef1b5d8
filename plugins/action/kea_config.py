# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of netboot.fleet.kea_config: render from the SoT here, ship a file, apply there.

Why on the controller: the SoT (and sot.py's dependencies) live on the controller, and a
100k-host config is ~20 MB; as module arguments it would be JSON-escaped into the module
payload and scanned by Ansible's argument handling. Copied as a file it is written once.
"""

from __future__ import annotations

import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.netboot.fleet.plugins.module_utils import sot

from ansible_collections.netboot.fleet.plugins.module_utils.kea import config as kea

FAMILY_KEYS = {"dhcp4": "Dhcp4", "dhcp6": "Dhcp6"}
# Options the action consumes; everything else goes to the module unchanged.
ACTION_ONLY = ("sot", "settings", "config", "hosts_db_password")


class ActionModule(ActionBase):

    TRANSFERS_FILES = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        family = args.get("family")
        if family not in FAMILY_KEYS:
            raise AnsibleActionFail("family must be one of %s, got %r" % (", ".join(FAMILY_KEYS), family))
        if (args.get("sot") is None) == (args.get("config") is None):
            raise AnsibleActionFail("give exactly one of sot (render from the source of truth) and config")
        if "src" in args:
            raise AnsibleActionFail("src is set by the action plugin itself; use sot or config")

        start = time.monotonic()
        text = self._render(args, family)
        render_seconds = time.monotonic() - start

        start = time.monotonic()
        tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
        remote_src = self._connection._shell.join_path(tmpdir, "kea-%s.json" % family)
        self._transfer_data(remote_src, text)
        self._fixup_perms2((tmpdir, remote_src))
        transfer_seconds = time.monotonic() - start

        module_args = {key: value for key, value in args.items() if key not in ACTION_ONLY}
        module_args["src"] = remote_src
        try:
            result.update(self._execute_module(module_name="netboot.fleet.kea_config", module_args=module_args,
                                               task_vars=task_vars))
        finally:
            self._remove_tmp_path(tmpdir)
        if isinstance(result.get("timing"), dict):
            result["timing"].update(render=round(render_seconds, 3), transfer=round(transfer_seconds, 3))
        return result

    def _render(self, args, family) -> str:
        if args.get("config") is not None:
            config = args["config"]
            if not isinstance(config, dict) or list(config) != [FAMILY_KEYS[family]]:
                raise AnsibleActionFail("config must be a map with the single key %s" % FAMILY_KEYS[family])
            return kea.dumps(config)
        path = self._loader.path_dwim(args["sot"])
        try:
            raw_settings = dict(args.get("settings") or {})
            if "hosts_db_password" in raw_settings:
                raise AnsibleActionFail("settings.hosts_db_password: give the password as hosts_db_password "
                                        "(not logged), not inside settings")
            if args.get("hosts_db_password"):
                raw_settings["hosts_db_password"] = args["hosts_db_password"]
            settings = kea.Settings.from_dict(raw_settings)
            return kea.dumps(kea.render(sot.load(path), family, settings))
        except (sot.SotError, kea.KeaRenderError) as exc:
            # Nothing is pushed: the error names file, record and field.
            raise AnsibleActionFail(str(exc))
