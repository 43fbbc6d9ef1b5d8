"""Test doubles for the BMC unit tests: a scripted client and a fake clock."""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "collections"))

from ansible_collections.netboot.fleet.plugins.module_utils.bmc.client import BmcError, BmcTarget  # noqa: E402


class ScriptedClient:
    """Stands in for BmcClient: power reads follow a script; requests are recorded or fail as told."""

    def __init__(self, power=("off",), boot=None, request_errors=(), retries=1, parts=None):
        self.target = BmcTarget("192.0.2.201", username="admin", password="pw", retries=retries)
        self._power = list(power)
        self._boot = boot
        self._request_errors = list(request_errors)
        self._parts = parts or {}
        self.requests = []
        self.boot_requests = []

    def power_state(self):
        return self._power.pop(0) if len(self._power) > 1 else self._power[0]

    def request_power(self, action):
        self.requests.append(action)
        if self._request_errors:
            raise self._request_errors.pop(0)

    def boot_override(self):
        return dict(self._boot)

    def set_boot_override(self, device, persistent, uefi):
        self.boot_requests.append((device, persistent, uefi))

    def _part(self, name):
        value = self._parts.get(name, {})
        if isinstance(value, BmcError):
            raise value
        return value

    def identity(self):
        return self._part("device")

    def firmware(self):
        return self._part("firmware")

    def inventory(self):
        return self._part("inventory")

    def health(self):
        return self._part("health")


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
