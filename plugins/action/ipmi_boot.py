# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ipmi_boot: choose a machine's next boot device through its BMC, from the controller."""

from __future__ import annotations

from ansible_collections.netboot.fleet.plugins.module_utils.bmc.client import BOOT_DEVICE_ALIASES, BOOT_DEVICES
from ansible_collections.netboot.fleet.plugins.module_utils.bmc.actions import boot_mode_for, set_boot
from ansible_collections.netboot.fleet.plugins.plugin_utils.bmc_action import BmcAction


class ActionModule(BmcAction):
    ARGS = dict(
        device=dict(type="str", required=True, choices=sorted(list(BOOT_DEVICES) + list(BOOT_DEVICE_ALIASES))),
        persistent=dict(type="bool", default=False),
        mode=dict(type="str", choices=["uefi", "legacy"]),
    )

    def act(self, client, args, hostvars):
        device = BOOT_DEVICE_ALIASES.get(args["device"], args["device"])
        # The SoT knows each machine's firmware: boot it the way it is installed.
        mode = args["mode"] or boot_mode_for((hostvars["netboot"] or {}).get("firmware"))
        return set_boot(client, device, args["persistent"], mode, check_mode=self._task.check_mode)
