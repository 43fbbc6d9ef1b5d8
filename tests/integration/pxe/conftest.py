# -*- coding: utf-8 -*-
"""Fixture: the PXE lab (pxe_lab.py), built once for the module and torn down after it."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pxe_lab  # noqa: E402


@pytest.fixture(scope="module")
def lab():
    reason = pxe_lab.missing()
    if reason:
        pytest.skip(reason)
    lab = pxe_lab.PxeLab()
    try:
        lab.create_namespace()
        lab.install_boot_loaders()
        lab.first_result = lab.sync()
        lab.start_tftpd()
        lab.start_nginx()
        lab.wait_listening()
        yield lab
    finally:
        lab.stop()
