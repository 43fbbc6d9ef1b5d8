# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drain and undrain an anycast DHCP node (the flow behind the anycast_drain module).

The health loop (dhcp_probe.py watch, run by the anycast_bgp role) owns the BGP announcement.
Draining is asking it to withdraw: a drain file it checks every round. It withdraws at once
and keeps Kea running. Undraining removes the file; the loop announces again only after
`rise` passing probes. Both sides meet in the loop's status file, which this code waits on.
Standard library only.
"""

from __future__ import annotations

import json
import os
import time

DRAINED, ACTIVE = "drained", "active"
# A status file older than this means no health loop is running: nothing would act on a drain.
STALE_AFTER = 5.0


class AnycastStateError(Exception):
    """Draining/undraining did not reach the wanted state. .status is the loop's last status."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


def read_status(path: str):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _reached(state: str, status: dict, since: float) -> bool:
    if status is None or status.get("updated", 0) <= since or not status.get("bird_synced", False):
        return False
    if state == DRAINED:
        return status.get("drained") is True and status.get("state") == "withdrawn"
    return status.get("drained") is False and status.get("state") == "announced"


def ensure(state: str, drain_file: str, status_file: str, note: str = "", wait: bool = True, timeout: float = 30.0,
           settle: float = 1.0, check_mode: bool = False, clock=time.time, sleep=time.sleep) -> dict:
    """Bring the node to `state` (drained/active). Returns {"changed", "status", "waited"}."""
    if state not in (DRAINED, ACTIVE):
        raise ValueError("state must be %s or %s, got %r" % (DRAINED, ACTIVE, state))
    drained_now = os.path.exists(drain_file)
    changed = drained_now != (state == DRAINED)
    if check_mode:
        return {"changed": changed, "status": read_status(status_file), "waited": 0.0}
    started = clock()
    if changed:
        if state == DRAINED:
            directory = os.path.dirname(drain_file)
            if directory:
                os.makedirs(directory, exist_ok=True)
            with open(drain_file, "w", encoding="utf-8") as handle:
                handle.write(json.dumps({"since": round(started, 3), "note": note}) + "\n")
        else:
            os.unlink(drain_file)
    if not wait:
        return {"changed": changed, "status": read_status(status_file), "waited": 0.0}

    status = read_status(status_file)
    if status is None or started - status.get("updated", 0) > STALE_AFTER:
        raise AnycastStateError("the health loop is not running: %s is %s (start the netboot-anycast-health "
                                "service)" % (status_file, "missing" if status is None else "stale"), status)
    deadline = started + timeout
    while not _reached(state, status, started):
        if clock() >= deadline:
            raise AnycastStateError("the node did not become %s within %ss: %s" % (
                "withdrawn" if state == DRAINED else "announced", timeout,
                (status or {}).get("reason", "no status")), status)
        sleep(0.05)
        status = read_status(status_file)
    if state == DRAINED and changed and settle > 0:
        # The switch drops the route within milliseconds; exchanges already in flight to this
        # node still get their answer from the Kea that keeps running here.
        sleep(settle)
    return {"changed": changed, "status": status, "waited": round(clock() - started, 3)}
