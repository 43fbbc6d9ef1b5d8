# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bmc_info: what a machine's BMC reports, read from the controller."""

from __future__ import annotations

from ansible_collections.netboot.fleet.plugins.module_utils.bmc.actions import INFO_PARTS, gather_info
from ansible_collections.netboot.fleet.plugins.plugin_utils.bmc_action import BmcAction


class ActionModule(BmcAction):
    ARGS = dict(
        gather=dict(type="list", elements="str", default=list(INFO_PARTS), choices=list(INFO_PARTS)),
    )

    def act(self, client, args, hostvars):
        result = gather_info(client, args["gather"])
        result["changed"] = False
        return result
