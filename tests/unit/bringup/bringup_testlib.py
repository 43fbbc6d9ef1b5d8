# -*- coding: utf-8 -*-
"""Shared data and helpers of the bring-up observer and report unit tests."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, os.pardir, os.pardir, os.pardir))
sys.path.insert(0, os.path.join(REPO, "collections"))

from golden import assert_golden
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import events as boot_events  # noqa: E402

DATA_DIR = os.path.join(HERE, "data")
GOLDEN_DIR = os.path.join(HERE, "golden")
EMBEDDED_SOT = os.path.join(REPO, "inventory", "sot")

# The report scenario: run started 2026-11-26T15:00:00Z, three machines powered, one BMC unreachable.
SINCE = 1795705200.0
RUN = {"started": SINCE, "finished": SINCE + 75.5, "check_mode": False, "sot": "/srv/sot",
       "limit": None, "stages": ["validate", "deploy", "apply", "boot_device", "power", "wait"]}
WAIT = {"ran": True, "timeout": 60, "started": SINCE + 11, "finished": SINCE + 71}
POWER = {
    "img-server1": {"ok": True, "sent": SINCE + 10.0, "action": "on", "previous_state": "off"},
    "img-server2": {"ok": True, "sent": SINCE + 10.2, "action": "reset", "previous_state": "on"},
    "web1": {"ok": True, "sent": SINCE + 10.4, "action": "on", "previous_state": "off"},
    "v6-worker1": {"ok": False, "stage": "power",
                   "msg": "BMC IPMI 127.0.0.1:16234 did not answer within 10 s (unreachable)"},
}


def data(name):
    with open(os.path.join(DATA_DIR, name), encoding="utf-8") as handle:
        return handle.read()


def golden(name, text):
    """Compare with golden/<name>, or rewrite it under NBF_UPDATE_GOLDEN=1."""
    assert_golden(os.path.join(GOLDEN_DIR, name), text)


def node_result(node, http=(), journal=None, leases4=None, leases6=None):
    """What the boot_events task returns for one node inside the playbook's loop over the nodes."""
    events = []
    for name in http:
        events += boot_events.http_events(data(name).splitlines(), SINCE)
    if journal:
        events += boot_events.tftp_events(filter(None, map(boot_events.parse_journal_line, data(journal).splitlines())), SINCE)
    if leases4:
        events += boot_events.lease_events(data(leases4), 4, SINCE)
    if leases6:
        events += boot_events.lease_events(data(leases6), 6, SINCE)
    first = boot_events.first_events(events)
    return {"item": node, "changed": False, "events": first, "scripts_fetched": boot_events.scripts_fetched(first),
            "sources": [{"source": "http", "path": "/var/log/nginx/netboot-pxe.log", "events": len(first)}]}
