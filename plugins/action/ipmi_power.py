# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ipmi_power: set or read a machine's power through its BMC, from the controller."""

from __future__ import annotations

from ansible_collections.netboot.fleet.plugins.module_utils.bmc.actions import POWER_STATES, set_power
from ansible_collections.netboot.fleet.plugins.plugin_utils.bmc_action import BmcAction


class ActionModule(BmcAction):
    ARGS = dict(
        state=dict(type="str", default="status", choices=list(POWER_STATES)),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
    )

    def run(self, tmp=None, task_vars=None):
        state = self._task.args.get("state")
        if isinstance(state, bool):  # YAML 1.1 reads a bare `state: on` as true
            self._task.args["state"] = "on" if state else "off"
        return super().run(tmp, task_vars)

    def act(self, client, args, hostvars):
        return set_power(client, args["state"], wait=args["wait"], wait_timeout=args["wait_timeout"],
                         check_mode=self._task.check_mode)
