# -*- coding: utf-8 -*-
"""Fixtures of the PXE renderer and asset sync unit tests."""

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pxe_testlib import ALL_KINDS_SOT  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import layout  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import render as pxe  # noqa: E402


@pytest.fixture(scope="session")
def fleet():
    return sot.load(ALL_KINDS_SOT)


@pytest.fixture(scope="session")
def templates(fleet):
    return pxe.Templates(pxe.read_templates(), pxe.read_profile_templates(fleet))


@pytest.fixture
def sot_copy(tmp_path):
    """A writable copy of the embedded SoT (tests remove machines, add templates)."""
    target = tmp_path / "sot"
    shutil.copytree(ALL_KINDS_SOT, target)
    return target


@pytest.fixture
def roots(tmp_path):
    paths = {layout.TFTP: tmp_path / "tftp", layout.HTTP: tmp_path / "http"}
    for path in paths.values():
        path.mkdir()
    return {name: str(path) for name, path in paths.items()}
