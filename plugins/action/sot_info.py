# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sot_info: validate the source of truth on the controller and summarise it."""

from __future__ import annotations

from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot
from ansible_collections.netboot.fleet.plugins.plugin_utils.sot_action import SotAction


class ActionModule(SotAction):
    _requires_connection = False
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        # 0.x called the option source; sot is the option every module that reads the SoT takes.
        if "source" in self._task.args:
            self._display.deprecated("netboot.fleet.sot_info: the option source is now called sot", version="2.0.0",
                                     collection_name="netboot.fleet")
            self._task.args["sot"] = self._task.args.pop("source")
        return super().run(tmp, task_vars)

    def answer(self, fleet, args, task_vars):
        return dict(changed=False, summary=sot.summary(fleet),
                    dhcp_nodes=[{"name": node.name, "address": node.address} for node in fleet.dhcp_nodes])
