"""Unit tests of the BMC code: pure logic, no BMC, no network."""

from __future__ import annotations

import pytest
from bmc_fakes import FakeClock


@pytest.fixture
def clock():
    return FakeClock()
