# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bulk_power: next boot device and power state of many machines from one controller task."""

from __future__ import annotations

import time

from ansible.errors import AnsibleActionFail

from ansible_collections.netboot.fleet.plugins.module_utils.bmc.actions import (
    POWER_STATES, boot_mode_for, set_boot, set_power)
from ansible_collections.netboot.fleet.plugins.module_utils.bmc.bulk import run_many
from ansible_collections.netboot.fleet.plugins.module_utils.bmc.client import BOOT_DEVICE_ALIASES, BOOT_DEVICES
from ansible_collections.netboot.fleet.plugins.plugin_utils.bmc_action import (
    CONNECTION_ARGS, BmcAction, bmc_hostvars, run_on_bmc)


class ActionModule(BmcAction):
    ARGS = dict(
        hosts=dict(type="list", elements="str"),
        state=dict(type="str", default="status", choices=list(POWER_STATES)),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
        boot_device=dict(type="str", choices=sorted(list(BOOT_DEVICES) + list(BOOT_DEVICE_ALIASES))),
        boot_persistent=dict(type="bool", default=False),
        parallel=dict(type="int", default=50),
    )

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(BmcAction, self).run(tmp, task_vars)
        state = self._task.args.get("state")
        if isinstance(state, bool):  # YAML 1.1 reads a bare `state: on` as true
            self._task.args["state"] = "on" if state else "off"
        dummy, args = self.validate_argument_spec(argument_spec=dict(CONNECTION_ARGS, **self.ARGS))
        if args["parallel"] < 1:
            raise AnsibleActionFail("parallel must be at least 1, not %d" % args["parallel"])
        names = args["hosts"] if args["hosts"] is not None else task_vars.get("ansible_play_batch", [])
        unknown = [name for name in names if name not in task_vars["hostvars"]]
        if unknown:
            raise AnsibleActionFail("hosts not in the inventory: %s" % ", ".join(sorted(unknown)[:20]))
        # Templated here, in the one task's process: the workers only talk to BMCs.
        jobs = dict((name, self._job(name, args, bmc_hostvars(self._templar, task_vars["hostvars"][name])))
                    for name in names)
        machines = run_many(jobs, args["parallel"])
        result["machines"] = machines
        result["failed_hosts"] = sorted(name for name, outcome in machines.items() if outcome.get("failed"))
        result["changed"] = any(outcome.get("changed") for outcome in machines.values())
        warnings = ["%s: %s" % (name, warning) for name, outcome in sorted(machines.items())
                    for warning in outcome.get("boot", {}).pop("warnings", [])]
        if warnings:
            result["warnings"] = warnings
        return result

    def _job(self, name, args, hostvars):
        check_mode = self._task.check_mode
        # A failed login fails the first step, as it fails ipmi_boot (or ipmi_power) for one machine.
        stage = {"name": "boot_device" if args["boot_device"] else "power"}

        def act(client, args, hostvars):
            outcome = {}
            if args["boot_device"]:
                device = BOOT_DEVICE_ALIASES.get(args["boot_device"], args["boot_device"])
                mode = boot_mode_for((hostvars["netboot"] or {}).get("firmware"))
                outcome["boot"] = set_boot(client, device, args["boot_persistent"], mode, check_mode=check_mode)
            stage["name"] = "power"
            power = set_power(client, args["state"], wait=args["wait"], wait_timeout=args["wait_timeout"],
                              check_mode=check_mode)
            outcome.update(power, changed=power["changed"] or outcome.get("boot", {}).get("changed", False))
            return outcome

        def job():
            outcome = run_on_bmc(act, args, hostvars, name)
            outcome["finished"] = time.time()
            if outcome.get("failed"):
                outcome["stage"] = stage["name"]
            return outcome
        return job
