# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bmc_console: record a machine's serial console through its BMC (IPMI Serial-over-LAN) on the controller."""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase

from ansible_collections.netboot.fleet.plugins.module_utils.bmc import console
from ansible_collections.netboot.fleet.plugins.module_utils.bmc.client import BmcError
from ansible_collections.netboot.fleet.plugins.plugin_utils.bmc_action import CONNECTION_ARGS, BmcAction, scrub


class ActionModule(BmcAction):
    _inventory_hostname = None  # the default recording name, set by run()
    ARGS = dict(
        state=dict(type="str", choices=["recording", "stopped"], default="recording"),
        dest=dict(type="path", default="/var/tmp/netboot-fleet/consoles"),
        name=dict(type="str"),
        max_seconds=dict(type="float", default=3600.0),
        lines=dict(type="int", default=20),
    )

    def _paths(self, args):
        name = args["name"] or self._inventory_hostname
        return os.path.join(args["dest"], name + ".log"), os.path.join(args["dest"], name + ".pid")

    def act(self, client, args, hostvars):
        """state=recording, after the base class logged in to the BMC (a refused login fails here, not later)."""
        target = client.target
        if target.protocol != "ipmi":
            raise BmcError("unsupported", "console recording needs IPMI Serial-over-LAN; %s is Redfish" % target.describe())
        output, pidfile = self._paths(args)
        running = console.running_recorder(pidfile) is not None
        result = {"changed": not running, "path": output}
        if not running and not self._play_context.check_mode:
            os.makedirs(args["dest"], mode=0o700, exist_ok=True)
            result["pid"] = console.start_recorder(target.address, target.port, target.username, target.password,
                                                   output, pidfile, args["max_seconds"])
        return result

    def _stop(self, args):
        """state=stopped: no BMC exchange (the recorder is local), so a BMC that went away still gives its lines."""
        output, pidfile = self._paths(args)
        running = console.running_recorder(pidfile) is not None
        if running and not self._play_context.check_mode:
            console.stop_recorder(pidfile)
        lines = console.read_lines(output)
        return {"changed": running, "path": output, "line_count": len(lines),
                "lines": lines[-args["lines"]:] if args["lines"] > 0 else [],
                "errors": console.read_lines(output + ".err")[-5:]}

    def run(self, tmp=None, task_vars=None):
        self._inventory_hostname = (task_vars or {}).get("inventory_hostname")
        if (self._task.args or {}).get("state") != "stopped":
            return super().run(tmp, task_vars)
        result = ActionBase.run(self, tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=dict(CONNECTION_ARGS, **self.ARGS))
        result.update(self._stop(args))
        # A console shows what was typed at it: never the BMC's password, in case someone did.
        password = self._templar.template((task_vars or {}).get("netboot_bmc_password"))
        return scrub(result, set(str(secret) for secret in (args.get("password"), password) if secret))
