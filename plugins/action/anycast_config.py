# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""anycast_config: render a DHCP node's BIRD and health-check configuration from the SoT, on the controller."""

from __future__ import annotations

from ansible_collections.netboot.fleet.plugins.module_utils.anycast import bird
from ansible_collections.netboot.fleet.plugins.plugin_utils.sot_action import SotAction


class ActionModule(SotAction):
    _requires_connection = False
    TRANSFERS_FILES = False
    ACTION_ARGS = dict(
        node=dict(type="str", required=True),
        settings=dict(type="dict", default={}),
    )

    def answer(self, fleet, args, task_vars):
        rendered = bird.render_node(fleet, args["node"], bird.Settings.from_dict(args["settings"]))
        return dict(changed=False, **rendered)
