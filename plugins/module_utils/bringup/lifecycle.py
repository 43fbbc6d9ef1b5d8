# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A machine's provisioning state and the rules that move it: pure, the clock is an argument.

    new -> power -> dhcp -> loader -> script -> kernel -> answer -> installing -> installed -> booted
                                          any of them -> failed (stage, reason, attempts)

A record is a plain dict (the store keeps it as JSON):

  {"state", "since" (epoch it entered the state), "attempt" (1-based, this run's), "run" (the run that
   started the attempt), "attempt_started", "stage" and "reason" (failed only), "history": [entries]}

Each round of the bring-up's wait stage calls advance() with what the DHCP nodes saw of the machine
since its attempt started (`seen`: {state: (time, detail)}, `refused`: {state: (time, detail)} for
requests answered with an HTTP error or cut short). A stalled or refused attempt is retried (the
playbook power-cycles the machine, next boot from the network) while the retry budget lasts, then the
machine is failed at the stage it did not reach. `installed` asks the playbook to switch the machine's
boot scripts to its local disk and power it on; `booted` and `failed` are final for the run.
"""

from __future__ import annotations

import copy

STATES = ("new", "power", "dhcp", "loader", "script", "kernel", "answer", "installing", "installed", "booted",
          "failed")
LABELS = {"new": "new", "power": "power", "dhcp": "DHCP lease", "loader": "boot loader", "script": "iPXE script",
          "kernel": "kernel", "answer": "answer file", "installing": "installing", "installed": "installed",
          "booted": "booted from disk", "failed": "failed"}
# The steps an attempt goes through, in order.
PROGRESS = STATES[1:10]
# States that boot from the local disk: their scripts say so, and a bring-up leaves them alone.
LOCAL_BOOT = frozenset(("installed", "booted"))
FINAL = frozenset(("booted", "failed"))
# Timeout groups: the step waited for -> the setting that bounds it, counted from the last step reached.
TIMEOUT_OF = {"dhcp": "lease", "loader": "script", "script": "script", "kernel": "answer", "answer": "answer",
              "installing": "installed", "installed": "installed", "booted": "booted"}
# Defaults sized from the lab's figures (lab/README.md "Measured here"), with room for a loaded host.
DEFAULT_TIMEOUTS = {"lease": 120, "script": 120, "answer": 240, "installed": 1800, "booted": 300}
HISTORY_LIMIT = 60
# A refused or cut-short fetch fails the attempt when no success of that step followed within this long:
# iPXE and the installers retry some fetches themselves.
REFUSAL_GRACE = 15


class Policy:
    """Per-stage timeouts (seconds, TIMEOUT_OF's groups) and how many retries a machine gets per run."""

    def __init__(self, timeouts=None, retries=2):
        self.timeouts = dict(DEFAULT_TIMEOUTS, **(timeouts or {}))
        unknown = sorted(set(self.timeouts) - set(DEFAULT_TIMEOUTS))
        if unknown:
            raise ValueError("unknown timeout(s) %s (known: %s)" % (", ".join(unknown), ", ".join(DEFAULT_TIMEOUTS)))
        bad = sorted(name for name, value in self.timeouts.items() if not isinstance(value, (int, float)) or value <= 0)
        if bad:
            raise ValueError("timeouts must be positive numbers of seconds: %s" % ", ".join(bad))
        if not isinstance(retries, int) or retries < 0:
            raise ValueError("retries must be a whole number >= 0, not %r" % (retries,))
        self.retries = retries


def new_record(now):
    return {"state": "new", "since": now, "attempt": 0, "run": None, "attempt_started": None,
            "stage": None, "reason": None, "history": []}


def _enter(record, state, when, detail=None):
    record["state"] = state
    record["since"] = when
    record["history"].append({"time": when, "state": state, "attempt": record["attempt"], "detail": detail})
    del record["history"][:-HISTORY_LIMIT]


def start(record, run, now, detail=None):
    """A new attempt of this run begins: the power command was sent (or is about to be) at `now`."""
    record = copy.deepcopy(record)
    record["attempt"] = record["attempt"] + 1 if record.get("run") == run else 1
    record["run"] = run
    record["attempt_started"] = now
    record["stage"] = record["reason"] = None
    _enter(record, "power", now, detail)
    return record


def fail(record, stage, reason, now):
    """Failed for good (this run): the stage it did not reach and why."""
    record = copy.deepcopy(record)
    record["stage"], record["reason"] = stage, reason
    _enter(record, "failed", now, "%s: %s" % (LABELS.get(stage, stage), reason))
    return record


def mark(record, state, now, detail="set by hand"):
    """Set by an operator (netboot.fleet.machine_state): `new` brings the installer back at the next bring-up."""
    if state not in STATES:
        raise ValueError("unknown state %r (known: %s)" % (state, ", ".join(STATES)))
    record = copy.deepcopy(record)
    record["stage"] = record["reason"] = None
    if state == "new":
        record["run"], record["attempt"], record["attempt_started"] = None, 0, None
    _enter(record, state, now, detail)
    return record


def advance(record, seen, refused, now, policy):
    """(record, action) after a round: action None, "retry" (power-cycle, next boot network), "boot_local"
    (just installed: render its local-boot scripts, then power it on) or "failed" (out of retries now)."""
    state = record["state"]
    if state in FINAL or state == "new":
        return record, None
    record = copy.deepcopy(record)
    position = PROGRESS.index(state)
    reached = state
    for step in PROGRESS[position + 1:]:
        if step in seen:
            when, detail = seen[step]
            _enter(record, step, max(when, record["since"]), detail)
            reached = step
    if reached == "installed" and state != "installed":
        return record, "boot_local"
    if reached == "booted":
        return record, None
    later = PROGRESS[PROGRESS.index(reached) + 1:]
    refusal = next(((step, refused[step]) for step in later
                    if step in refused and step not in seen and now - refused[step][0] >= REFUSAL_GRACE), None)
    if refusal:
        step, (when, detail) = refusal
        return _retry_or_fail(record, step, detail, now, policy)
    waited_for = later[0]
    timeout = policy.timeouts[TIMEOUT_OF[waited_for]]
    if now - record["since"] > timeout:
        reason = "no %s within %d s after %s" % (LABELS[waited_for], timeout, LABELS[reached])
        return _retry_or_fail(record, waited_for, reason, now, policy)
    return record, None


def _retry_or_fail(record, stage, reason, now, policy):
    if record["attempt"] <= policy.retries:
        record["history"].append({"time": now, "state": "failed", "attempt": record["attempt"],
                                  "detail": "%s: %s" % (LABELS[stage], reason)})
        if stage == "booted":  # installed: it keeps booting its disk, only the power cycle is retried
            record["attempt"] += 1
            record["attempt_started"] = now
            _enter(record, "installed", now, "retry after %s: %s" % (LABELS[stage], reason))
            return record, "retry"
        return start(record, record["run"], now, "retry after %s: %s" % (LABELS[stage], reason)), "retry"
    return fail(record, stage, reason, now), "failed"


def deadline(record, policy):
    """When the step a machine waits for is overdue (epoch), or None in a final or idle state."""
    state = record["state"]
    if state in FINAL or state == "new":
        return None
    waited_for = PROGRESS[PROGRESS.index(state) + 1]
    return record["since"] + policy.timeouts[TIMEOUT_OF[waited_for]]
