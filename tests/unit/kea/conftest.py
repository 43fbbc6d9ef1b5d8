"""Fixtures for the Kea renderer/diff/control unit tests: SoTs written to tmp files and loaded
through sot.load, exactly as the collection reads them."""

from __future__ import annotations

import os
import sys

import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kea_unit_helpers import EMBEDDED_SOT  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot  # noqa: E402


@pytest.fixture()
def load_sot(tmp_path):
    """Write data (a dict, or a list of dicts as separate files) and sot.load it."""
    def load(data):
        parts = data if isinstance(data, list) else [data]
        for index, part in enumerate(parts):
            (tmp_path / ("part%02d.yml" % index)).write_text(yaml.safe_dump(part))
        return sot.load(str(tmp_path))
    return load


@pytest.fixture(scope="session")
def embedded_sot():
    return sot.load(EMBEDDED_SOT)
