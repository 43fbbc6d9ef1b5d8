"""Fixtures: one anycast DHCP fabric (ToR + two nodes) per test session, healed between tests."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fabric as fabric_lab  # noqa: E402


@pytest.fixture(scope="session")
def anycast_fabric():
    missing = fabric_lab.missing_tools()
    if missing:
        pytest.skip(missing)
    lab = fabric_lab.Fabric()
    try:
        lab.build()
        lab.wait_paths(2)
        lab.wait_paths(2, fabric_lab.ANYCAST6)
        yield lab
    finally:
        lab.destroy()


@pytest.fixture
def fabric(anycast_fabric):
    """The shared fabric with two announced, healthy nodes; whatever a test breaks is healed after it."""
    anycast_fabric.heal()
    yield anycast_fabric
    anycast_fabric.heal()
