# -*- coding: utf-8 -*-
"""The bring-up lab, once for the module's tests (it takes a few seconds to build)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bringup_lab  # noqa: E402


@pytest.fixture(scope="module")
def lab():
    reason = bringup_lab.missing()
    if reason:
        pytest.skip(reason)
    busy = [port for port in range(bringup_lab.BMC_PORT, bringup_lab.BMC_PORT + len(bringup_lab.MACHINES))
            if not bringup_lab.free(port)]
    if busy:
        pytest.fail("BMC ports %s are taken: another bring-up lab is running?" % busy)
    built = bringup_lab.Lab()
    try:
        yield built.start()
    finally:
        built.stop()
