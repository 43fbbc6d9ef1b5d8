"""bmc: target resolution, error explanations, retries and deadlines of the client."""

from __future__ import annotations

import json
import os
import socket
import ssl
import time

import pytest
from bmc_fakes import HERE

import pyghmi.exceptions as pyghmi_exc
from ansible_collections.netboot.fleet.plugins.module_utils.bmc.client import (
    BmcClient, BmcError, BmcTarget, explain, plain, target_from)
from ansible_collections.netboot.fleet.plugins.plugin_utils.bmc_action import scrub

with open(os.path.join(HERE, "cases", "target_from.json")) as cases:
    TARGET_CASES = json.load(cases)


@pytest.mark.parametrize("case", TARGET_CASES, ids=[case["name"] for case in TARGET_CASES])
def test_target_from(case):
    if "error" in case:
        with pytest.raises(BmcError) as raised:
            target_from(case["args"], case["hostvars"])
        assert case["error"] in raised.value.message and raised.value.kind == "config"
        return
    target = target_from(case["args"], case["hostvars"])
    for field, expected in case["expect"].items():
        actual = target.describe() if field == "describe" else getattr(target, field)
        assert actual == expected, field


def test_target_repr_hides_the_password():
    target = BmcTarget("192.0.2.201", username="admin", password="hunter2")
    assert "hunter2" not in repr(target) and "hunter2" not in target.describe()


IPMI = BmcTarget("192.0.2.201", username="admin", password="pw")
REDFISH = BmcTarget("192.0.2.202", protocol="redfish", username="admin", password="pw")

EXPLAIN = [
    # exception, target, kind, words in the message
    (socket.gaierror(-2, "Name or service not known"), IPMI, "resolve", "cannot resolve BMC name '192.0.2.201'"),
    (pyghmi_exc.IpmiException(None), IPMI, "unreachable", "no answer after 5.7 s (UDP)"),
    (pyghmi_exc.IpmiException("Session no longer connected"), IPMI, "unreachable", "no answer"),
    (TimeoutError(), REDFISH, "unreachable", "no answer after 5.7 s (HTTPS)"),
    (ConnectionRefusedError(111, "Connection refused"), REDFISH, "unreachable", "nothing listens on port 443"),
    (pyghmi_exc.IpmiException("Incorrect password provided"), IPMI, "auth", "login refused for user 'admin'"),
    (pyghmi_exc.IpmiException("Unauthorized name in RAKP2"), IPMI, "auth", "Unauthorized name"),
    (pyghmi_exc.IpmiException("Insufficient resources to create new session (wait for existing sessions to "
                              "timeout)"), IPMI, "refused", "no free session"),
    (pyghmi_exc.IpmiException("Invalid data field in request"), IPMI, "unsupported",
     "not supported by this BMC: Invalid data field in request (completion code 0xCC)"),
    (pyghmi_exc.IpmiException("Invalid command", 0xc1), IPMI, "unsupported", "(completion code 0xC1)"),
    (pyghmi_exc.IpmiException("Node Busy", 0xc0), IPMI, "refused", "the BMC answered Node Busy (completion code 0xC0)"),
    (pyghmi_exc.IpmiException("Insufficient privilege level or firmware firewall", 0xd4), IPMI, "auth",
     "privilege"),
    (pyghmi_exc.RedfishError("The action is not supported", msgid="Base.1.8.ActionNotSupported"), REDFISH,
     "unsupported", "not supported by this BMC"),
    (pyghmi_exc.PyghmiException("Access Denied"), REDFISH, "auth", "login refused"),
    (pyghmi_exc.UnsupportedFunctionality("Bios management not detected"), REDFISH, "unsupported", "Bios"),
    (ssl.SSLCertVerificationError(1, "certificate verify failed"), REDFISH, "tls", "validate_certs=false"),
    (ValueError("odd"), IPMI, "refused", "unexpected ValueError: odd"),
]


@pytest.mark.parametrize("exc,target,kind,words", EXPLAIN)
def test_explain(exc, target, kind, words):
    error = explain(exc, target, "power on", 5.7)
    assert error.kind == kind
    assert error.message.startswith("power on on BMC %s: " % target.describe())
    assert words in error.message, error.message


class FakeProtocol:
    """Stands in for the pyghmi adapters: counts logins, can hang or fail on demand."""

    def __init__(self, failures=(), hang=0.0):
        self.failures = list(failures)
        self.hang = hang
        self.logins = 0
        self.closed = 0
        self.forgotten = 0

    def open(self, target):
        self.logins += 1
        time.sleep(self.hang)
        return self

    def close(self, session, target):
        self.closed += 1

    def forget(self, target):
        self.forgotten += 1

    def power_state(self, session):
        if self.failures:
            raise self.failures.pop(0)
        return "on"

    def request_power(self, session, action):
        if self.failures:
            raise self.failures.pop(0)


def client(protocol, **target):
    return BmcClient(BmcTarget("192.0.2.201", username="admin", password="pw", **target),
                     protocols={"ipmi": protocol})


def test_reads_are_retried_on_a_fresh_session():
    protocol = FakeProtocol(failures=[pyghmi_exc.IpmiException(None)])
    with client(protocol, retries=1) as bmc:
        assert bmc.power_state() == "on"
    assert (protocol.logins, protocol.forgotten, protocol.closed) == (2, 1, 1)


def test_requests_are_not_retried_by_the_client():
    protocol = FakeProtocol(failures=[pyghmi_exc.IpmiException(None)])
    with pytest.raises(BmcError) as raised:
        client(protocol, retries=3).request_power("reset")
    assert raised.value.kind == "unreachable" and "attempts" not in raised.value.message


def test_refusals_are_not_retried():
    protocol = FakeProtocol(failures=[pyghmi_exc.IpmiException("Incorrect password provided")])
    with pytest.raises(BmcError) as raised:
        client(protocol, retries=3).power_state()
    assert raised.value.kind == "auth" and protocol.logins == 1


def test_the_timeout_bounds_a_hanging_bmc():
    protocol = FakeProtocol(hang=5)
    started = time.monotonic()
    with pytest.raises(BmcError) as raised:
        client(protocol, timeout=0.3, retries=1).power_state()
    assert time.monotonic() - started < 1.5
    assert raised.value.kind == "unreachable" and "(2 attempts)" in raised.value.message


def test_plain_makes_pyghmi_results_json_friendly():
    assert plain({"data": bytearray(b"\x01\xff"), 3: (1, None), "when": object}) == \
        {"data": "01ff", "3": [1, None], "when": str(object)}


def test_scrub_masks_secrets_everywhere():
    result = {"msg": "login as admin:hunter2 failed", "nested": [{"x": "hunter2"}], "n": 1}
    assert scrub(result, {"hunter2"}) == {"msg": "login as admin:******** failed", "nested": [{"x": "********"}],
                                          "n": 1}
