"""Fixtures: the shared-leases lab (PostgreSQL primary + synchronous standby, two Kea nodes), one per module."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import leases_lab  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot  # noqa: E402

EMBEDDED_SOT = leases_lab.kea_lab.EMBEDDED_SOT


@pytest.fixture(scope="module")
def lab():
    reason = leases_lab.missing()
    if reason:
        pytest.skip(reason)
    environment = leases_lab.LeasesLab(sot.load(EMBEDDED_SOT))
    try:
        environment.start(EMBEDDED_SOT)
        yield environment
    finally:
        environment.destroy()
