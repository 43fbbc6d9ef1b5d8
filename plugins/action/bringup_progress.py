# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bringup_progress: one round of the wait stage on the controller: observations -> machine states -> actions."""

from __future__ import annotations

import time

from ansible.errors import AnsibleActionFail
from ansible.utils.display import Display

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import callback, lifecycle, rounds, store
from ansible_collections.netboot.fleet.plugins.plugin_utils import machine_state
from ansible_collections.netboot.fleet.plugins.plugin_utils.sot_action import SotAction

display = Display()


class ActionModule(SotAction):
    _requires_connection = False
    TRANSFERS_FILES = False

    ACTION_ARGS = dict(
        machines=dict(type="list", elements="str", required=True),
        run=dict(type="str", required=True),
        power=dict(type="dict", default={}),
        observations=dict(type="list", elements="dict", default=[]),
        timeouts=dict(type="dict", default={}),
        retries=dict(type="int", default=2),
        **machine_state.STATE_DIR_ARG,
    )

    def answer(self, fleet, args, task_vars):
        try:
            policy = lifecycle.Policy({name: float(value) for name, value in args["timeouts"].items()}, args["retries"])
        except (TypeError, ValueError) as exc:
            raise AnsibleActionFail("bringup_timeouts / bringup_retries: %s" % exc) from None
        wanted = set(args["machines"])
        machines = [machine.as_dict() for machine in fleet.machines if machine.name in wanted]
        profiles = {profile.name: profile.as_dict() for profile in fleet.profiles}
        now = time.time()
        try:
            key = machine_state.callback_key(args, task_vars, self._templar)
            machine_store = machine_state.machine_store(args, task_vars, self._templar, self.sot_path(args, task_vars))
            with machine_store.update() as records:
                rounds.start_run(records, machines, args["run"], args["power"], now)
                actions = rounds.advance_all(records, machines, profiles, args["run"], args["observations"], now,
                                             policy, key)
                states = {name: _summary(records[name]) for name in sorted(wanted) if name in records}
        except (callback.CallbackKeyError, store.StoreError) as exc:
            raise AnsibleActionFail(str(exc)) from None
        for forged in actions["forged"]:
            display.warning("forged %(phase)s callback for %(machine)s from %(client)s (seen by %(node)s): "
                            "wrong token, ignored" % forged)
        return dict(changed=bool(actions["retry"] or actions["boot_local"]), states=states, **actions)


def _summary(record):
    return {"state": record["state"], "attempt": record["attempt"], "stage": record.get("stage"),
            "reason": record.get("reason")}
