# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kea_config: render the Kea configuration on the controller, ship it as a file, apply it on the node.

Rendered on the controller because the SoT lives there, and shipped as a file because a 100,000-host
configuration as module arguments would be escaped into the module payload and scanned by Ansible's
argument handling (see benchmarks/README.md).
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail

from ansible_collections.netboot.fleet.plugins.module_utils.kea import config as kea
from ansible_collections.netboot.fleet.plugins.module_utils.kea.families import FAMILY_KEYS
from ansible_collections.netboot.fleet.plugins.plugin_utils.sot_action import Payload, SotAction


class ActionModule(SotAction):
    MODULE = "netboot.fleet.kea_config"
    ACTION_ARGS = dict(
        settings=dict(type="dict", default={}),
        config=dict(type="dict"),
        hosts_db_password=dict(type="str", no_log=True),
        lease_db_password=dict(type="str", no_log=True),
    )

    def sot_path(self, args, task_vars):
        if args.get("config") is not None:
            if args.get("sot") is not None:
                raise AnsibleActionFail("give exactly one of sot (render from the source of truth) and config")
            return None
        return super().sot_path(args, task_vars)

    def payload(self, fleet, args, module_args, task_vars):
        family = module_args.get("family")
        if family not in FAMILY_KEYS:
            raise AnsibleActionFail("family must be one of %s, got %r" % (", ".join(FAMILY_KEYS), family))
        if "src" in module_args:
            raise AnsibleActionFail("src is set by the action plugin itself; use sot or config")
        if args.get("config") is not None:
            config = args["config"]
            if list(config) != [FAMILY_KEYS[family]]:
                raise AnsibleActionFail("config must be a map with the single key %s" % FAMILY_KEYS[family])
            text = kea.dumps(config)
        else:
            settings = dict(args["settings"])
            for secret in ("hosts_db_password", "lease_db_password"):
                if secret in settings:
                    raise AnsibleActionFail("settings.%s: give the password as %s (not logged), not inside settings"
                                            % (secret, secret))
                if args.get(secret):
                    settings[secret] = args[secret]
            text = kea.dumps(kea.render(fleet, family, kea.Settings.from_dict(settings)))
        return Payload(files={"src": ("kea-%s.json" % family, text)}, args=module_args)
