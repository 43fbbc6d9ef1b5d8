# -*- coding: utf-8 -*-
"""Fixtures of the bring-up observer and report unit tests (data and helpers: bringup_testlib.py)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bringup_testlib import EMBEDDED_SOT, POWER, RUN, WAIT, node_result  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import report as bringup_report  # noqa: E402


@pytest.fixture(name="machines", scope="session")
def machines_fixture():
    """The embedded SoT's machine records, as the report action plugin hands them over."""
    return [machine.as_dict() for machine in sot.load(EMBEDDED_SOT).machines]


@pytest.fixture(name="observations", scope="session")
def observations_fixture():
    """boot_events results of two DHCP nodes, each having served a part of the boots."""
    return [
        node_result("dhcp-a2", http=["dhcp-a2/access.log"], journal="dhcp-a2/journal.json", leases4="dhcp-a2/kea-leases4.csv"),
        node_result("dhcp-a1", http=["dhcp-a1/netboot-pxe.log"], leases4="dhcp-a1/kea-leases4.csv", leases6="dhcp-a1/kea-leases6.csv"),
    ]


@pytest.fixture(name="report", scope="session")
def report_fixture(machines, observations):
    return bringup_report.build(machines, RUN, power=POWER, observations=observations,
                                nodes={"dhcp-a1": {}, "dhcp-a2": {}}, wait=WAIT)
