# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""machine_state: read or set machines' provisioning states in the controller's store (e.g. mark for reinstall)."""

from __future__ import annotations

import copy
import time

from ansible.errors import AnsibleActionFail

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import lifecycle, store
from ansible_collections.netboot.fleet.plugins.plugin_utils import machine_state
from ansible_collections.netboot.fleet.plugins.plugin_utils.sot_action import SotAction

SETTABLE = ("new", "installed", "booted", "failed")


class ActionModule(SotAction):
    _requires_connection = False
    TRANSFERS_FILES = False

    ACTION_ARGS = dict(
        names=dict(type="list", elements="str", aliases=["name"]),
        state=dict(type="str", choices=list(SETTABLE)),
        reason=dict(type="str", default="set by hand"),
        **machine_state.STATE_DIR_ARG,
    )

    def answer(self, fleet, args, task_vars):
        known = [machine.name for machine in fleet.machines]
        names = args["names"] if args["names"] is not None else known
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise AnsibleActionFail("names: not machines of the source of truth: %s" % ", ".join(unknown[:20]))
        if args["state"] and args["names"] is None:
            raise AnsibleActionFail("names is required to set a state (a state is never set on every machine by default)")
        machine_store = machine_state.machine_store(args, task_vars, self._templar, self.sot_path(args, task_vars))
        now = time.time()
        try:
            if not args["state"]:
                records = machine_store.read()
                views = {name: _view(records.get(name) or lifecycle.new_record(None)) for name in sorted(names)}
                return dict(changed=False, store=machine_store.path, machines=views,
                            local_boot=[name for name, view in views.items() if view["state"] in lifecycle.LOCAL_BOOT])
            with machine_store.update() as records:
                before = {name: copy.deepcopy(records.get(name) or lifecycle.new_record(None)) for name in names}
                changed = sorted(name for name in names if before[name]["state"] != args["state"])
                after = dict(before)
                for name in changed:
                    after[name] = lifecycle.mark(before[name], args["state"], now, args["reason"])
                    if args["state"] == "failed":
                        after[name].update(stage="new", reason=args["reason"])
                if not self._task.check_mode:
                    records.update((name, after[name]) for name in changed)
        except store.StoreError as exc:
            raise AnsibleActionFail(str(exc)) from None
        result = dict(changed=bool(changed), store=machine_store.path, changed_machines=changed,
                      machines={name: _view(after[name]) for name in sorted(names)})
        if self._task.diff:
            result["diff"] = {"before": "".join("%s: %s\n" % (name, before[name]["state"]) for name in changed),
                              "after": "".join("%s: %s\n" % (name, after[name]["state"]) for name in changed)}
        return result


def _view(record):
    return {"state": record["state"], "since": record.get("since"), "attempt": record.get("attempt", 0),
            "stage": record.get("stage"), "reason": record.get("reason"), "history": record.get("history", [])}
