"""bmc_actions: decisions from the state read before acting, no double actions, waiting."""

from __future__ import annotations

import pytest
from bmc_fakes import ScriptedClient

from ansible_collections.netboot.fleet.plugins.module_utils.bmc.client import BmcError
from ansible_collections.netboot.fleet.plugins.module_utils.bmc.actions import (
    boot_mode_for, gather_info, plan_power, send_power, set_boot, set_power, wait_for_power)

LOST = BmcError("unreachable", "power on on BMC IPMI 192.0.2.201:623: no answer after 10.0 s (UDP)")

PLAN = [
    # state, current power, request sent (None: nothing to do)
    ("status", "on", None), ("status", "off", None),
    ("on", "off", "on"), ("on", "on", None),
    ("off", "on", "off"), ("off", "off", None),
    ("shutdown", "on", "shutdown"), ("shutdown", "off", None),
    ("reset", "on", "reset"), ("reset", "off", "reset"),
    ("cycle", "on", "cycle"), ("cycle", "off", "cycle"),
    ("boot", "off", "on"), ("boot", "on", "reset"),
    ("on", "poweringon", "on"),
]


@pytest.mark.parametrize("state,current,sent", PLAN)
def test_plan_power(state, current, sent):
    assert plan_power(state, current) == sent


def test_nothing_sent_when_already_there(clock):
    client = ScriptedClient(power=["on"])
    result = set_power(client, "on", clock=clock, sleep=clock.sleep)
    assert (result["changed"], result["action"], result["previous_state"], result["power_state"]) == \
        (False, None, "on", "on")
    assert client.requests == []


def test_acts_then_waits_for_the_state(clock):
    client = ScriptedClient(power=["off", "off", "off", "on"])
    result = set_power(client, "on", wait=True, wait_timeout=30, clock=clock, sleep=clock.sleep)
    assert client.requests == ["on"]
    assert (result["changed"], result["previous_state"], result["power_state"]) == (True, "off", "on")
    assert result["elapsed"] == 2.0  # two polls a second apart


def test_check_mode_sends_nothing(clock):
    client = ScriptedClient(power=["off"])
    result = set_power(client, "boot", check_mode=True, clock=clock, sleep=clock.sleep)
    assert (result["changed"], result["action"], result["power_state"]) == (True, "on", "off")
    assert client.requests == []


def test_wait_gives_up_after_the_timeout(clock):
    client = ScriptedClient(power=["on"])
    with pytest.raises(BmcError) as raised:
        wait_for_power(client, "off", 5, clock=clock, sleep=clock.sleep)
    assert raised.value.kind == "timeout"
    assert "still 'on' after waiting 5 s for 'off'" in raised.value.message
    assert clock.now == 5


def test_a_shutdown_nobody_honours_says_what_to_do(clock):
    client = ScriptedClient(power=["on"])
    with pytest.raises(BmcError) as raised:
        set_power(client, "shutdown", wait_timeout=60, clock=clock, sleep=clock.sleep)
    assert client.requests == ["shutdown"]
    assert "still 'on' after waiting 60 s for 'off'" in raised.value.message
    assert "use state=off to cut the power" in raised.value.message


def test_lost_answer_is_checked_not_resent_when_the_state_shows_it_happened():
    client = ScriptedClient(power=["on"], request_errors=[LOST])
    send_power(client, "on")
    assert client.requests == ["on"]


def test_lost_answer_is_resent_while_the_state_shows_it_did_not_happen():
    client = ScriptedClient(power=["off"], request_errors=[LOST])
    send_power(client, "on")
    assert client.requests == ["on", "on"]


def test_lost_reset_is_never_resent():
    client = ScriptedClient(power=["on"], request_errors=[LOST])
    with pytest.raises(BmcError) as raised:
        send_power(client, "reset")
    assert client.requests == ["reset"]
    assert "not resent, since the first reset may have happened" in raised.value.message


def test_refusal_is_not_retried():
    refused = BmcError("unsupported", "power on: not supported by this BMC")
    client = ScriptedClient(power=["off"], request_errors=[refused])
    with pytest.raises(BmcError):
        send_power(client, "on")
    assert client.requests == ["on"]


def test_retries_are_bounded():
    client = ScriptedClient(power=["off"], request_errors=[LOST, LOST, LOST], retries=1)
    with pytest.raises(BmcError):
        send_power(client, "on")
    assert client.requests == ["on", "on"]


BOOT = [
    # what the BMC reports, request (device, persistent, mode), changed, sent, warned
    ({"device": "network", "persistent": False, "mode": "uefi", "valid": True}, ("network", False, "uefi"),
     False, False),
    ({"device": "network", "persistent": False, "mode": None, "valid": True}, ("network", False, "uefi"),
     False, False),
    ({"device": "disk", "persistent": False, "mode": "uefi", "valid": True}, ("network", False, "uefi"),
     True, True),
    ({"device": "network", "persistent": True, "mode": "uefi", "valid": True}, ("network", False, "uefi"),
     True, True),
    ({"device": "network", "persistent": False, "mode": "legacy", "valid": True}, ("network", False, "uefi"),
     True, True),
    ({"device": "default", "persistent": True, "mode": None, "valid": True}, ("default", False, "uefi"),
     False, False),
    ({"device": "default", "persistent": True, "mode": None, "valid": False}, ("network", False, "uefi"),
     True, True),
    ({"device": "default", "persistent": True, "mode": None, "valid": False}, ("default", False, "uefi"),
     True, True),
]


@pytest.mark.parametrize("reported,wanted,changed,sent", BOOT)
def test_set_boot(reported, wanted, changed, sent):
    client = ScriptedClient(boot=reported)
    device, persistent, mode = wanted
    result = set_boot(client, device, persistent, mode)
    assert result["changed"] is changed
    assert client.boot_requests == ([(device, persistent, mode == "uefi")] if sent else [])
    assert bool(result["warnings"]) is (not reported["valid"])
    if not reported["valid"]:
        assert "does not mark its boot flags valid" in result["warnings"][0]


def test_set_boot_check_mode():
    client = ScriptedClient(boot={"device": "disk", "persistent": False, "mode": "uefi", "valid": True})
    assert set_boot(client, "network", False, "uefi", check_mode=True)["changed"] is True
    assert client.boot_requests == []


@pytest.mark.parametrize("firmware,mode", [("bios", "legacy"), ("uefi", "uefi"), ("uefi-http", "uefi"),
                                           (None, "uefi")])
def test_boot_mode_from_sot_firmware(firmware, mode):
    assert boot_mode_for(firmware) == mode


def test_info_lists_unsupported_parts():
    unsupported = BmcError("unsupported", "read inventory: not supported by this BMC")
    client = ScriptedClient(power=["on"], boot={"device": "default", "persistent": True, "mode": None,
                                                "valid": False},
                            parts={"device": {"device_id": 32}, "inventory": unsupported,
                                   "health": BmcError("refused", "read health: the BMC answered Node Busy")})
    info = gather_info(client)
    assert info["power_state"] == "on" and info["device"] == {"device_id": 32}
    assert sorted(info["unsupported"]) == ["health", "inventory"]
    assert "inventory" not in info


def test_info_fails_when_the_bmc_goes_away():
    client = ScriptedClient(parts={"device": LOST})
    with pytest.raises(BmcError):
        gather_info(client, ["device"])
