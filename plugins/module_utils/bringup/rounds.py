# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One round of the bring-up's wait stage: what the DHCP nodes saw -> each machine's state -> what to do.

Pure: records in, records and actions out (the bringup_progress action reads and writes the store).
"""

from __future__ import annotations

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import lifecycle, timeline
from ansible_collections.netboot.fleet.plugins.module_utils.bringup.report import normalise_observation


def start_run(records, machines, run, power, now):
    """Begin this run for the machines it powered: attempt 1 from the power command, or failed at power.

    power: {name: the power stage's outcome}; machines the run did not power (installed ones, left alone)
    are not touched. Records of another run start over; a second call in the same run changes nothing.
    """
    for machine in machines:
        name = machine["name"]
        record = records.get(name) or lifecycle.new_record(now)
        outcome = power.get(name)
        if not outcome or record.get("run") == run:
            continue
        if outcome.get("ok"):
            detail = "%s (was %s)" % (outcome.get("action") or "none needed", outcome.get("previous_state") or "unknown")
            record = lifecycle.start(record, run, float(outcome.get("sent") or now), detail)
        else:
            record = dict(record, run=run, attempt=1)
            record = lifecycle.fail(record, outcome.get("stage") or "power", outcome.get("msg") or "failed", now)
        records[name] = record
    return records


def advance_all(records, machines, profiles, run, observations, now, policy, key):
    """Advance every machine of this run. Returns {"retry", "boot_local", "pending", "failed_machines", "forged"}."""
    index = timeline.Index([normalise_observation(result) for result in observations])
    actions = {"retry": [], "boot_local": [], "pending": [], "failed_machines": [], "forged": []}
    for machine in machines:
        name = machine["name"]
        record = records.get(name)
        if record is None or record.get("run") != run:
            continue
        seen, refused, forged = timeline.attempt_steps(machine, profiles[machine["profile"]], index,
                                                       record["attempt_started"], key)
        actions["forged"] += [{"machine": name, "time": time, "client": client, "phase": phase, "node": node}
                              for time, client, phase, node in forged]
        record, action = lifecycle.advance(record, seen, refused, now, policy)
        records[name] = record
        if action == "boot_local" or (action == "retry" and record["state"] in lifecycle.LOCAL_BOOT):
            actions["boot_local"].append(name)  # installed: next boot from its disk
        elif action == "retry":
            actions["retry"].append(name)
        if record["state"] == "failed":
            actions["failed_machines"].append(name)
        elif record["state"] not in lifecycle.FINAL:
            actions["pending"].append(name)
    return actions
