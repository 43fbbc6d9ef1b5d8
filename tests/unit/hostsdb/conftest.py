"""Fixtures for the host database unit tests: the collection on sys.path, the embedded SoT."""

from __future__ import annotations

import os
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
if os.path.join(REPO, "collections") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, "collections"))

from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot  # noqa: E402


@pytest.fixture(scope="session")
def embedded_sot():
    return sot.load(os.path.join(REPO, "inventory", "sot"))
