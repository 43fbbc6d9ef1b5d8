"""ipmi_power / ipmi_boot / bmc_info over Redfish against sushy-tools' emulator (--fake, HTTPS).

The fake driver applies every power change 1-11 s after the request, so these tests
also prove the waiting.
"""

from __future__ import annotations

import bmc_lab
from bmc_lab import ipmi_record, redfish_record

# (state, changed, power afterwards) from a machine that is off
POWER_STEPS = [
    ("status", False, "off"), ("status", False, "off"),
    ("on", True, "on"), ("on", False, "on"),
    ("reset", True, "on"), ("reset", True, "on"),  # ForceRestart: off at once, on again later
    ("boot", True, "on"), ("boot", True, "on"),
    ("shutdown", True, "off"), ("shutdown", False, "off"),
    ("boot", True, "on"),
    ("off", True, "off"), ("off", False, "off"),
]


def test_every_power_state_twice(redfish_bmcs, inventory, ansible):
    hosts = inventory({"m1": redfish_record(redfish_bmcs())})
    for state, changed, power in POWER_STEPS:
        run = ansible(hosts, "netboot.fleet.ipmi_power", "state=%s wait_timeout=30" % state)
        result = run["m1"]
        assert run.rc == 0, run.stdout + run.stderr
        assert (result["changed"], result["power_state"]) == (changed, power), (state, result)
        assert result["bmc"].startswith("Redfish 127.0.0.1:")


def test_cycle_is_refused_with_what_the_bmc_offers(redfish_bmcs, inventory, ansible):
    result = ansible(inventory({"m1": redfish_record(redfish_bmcs(power="On"))}), "netboot.fleet.ipmi_power",
                     "state=cycle")["m1"]
    assert result["bmc_error"] == "unsupported"
    assert "power cycle is not offered by this Redfish BMC (it offers On, ForceOff" in result["msg"]
    assert "use state=reset" in result["msg"]


def test_waits_for_the_delayed_transition(redfish_bmcs, inventory, ansible):
    hosts = inventory({"m1": redfish_record(redfish_bmcs())})
    hurried = ansible(hosts, "netboot.fleet.ipmi_power", "state=on wait_timeout=0")["m1"]
    assert hurried["bmc_error"] == "timeout", hurried
    assert "power state is still 'off' after waiting 0 s for 'on'" in hurried["msg"]
    patient = ansible(hosts, "netboot.fleet.ipmi_power", "state=on wait_timeout=30")["m1"]
    assert patient["power_state"] == "on"
    # the first request is pending in the emulator: the second finds "off" and asks again (harmless)
    assert patient["previous_state"] in ("off", "on")


def test_boot_device_is_idempotent_and_read_back(redfish_bmcs, inventory, ansible):
    hosts = inventory({"m1": redfish_record(redfish_bmcs())})
    for device, mode, changed in (("network", "uefi", True), ("pxe", "uefi", False), ("cdrom", "legacy", True),
                                  ("cdrom", "legacy", False)):
        run = ansible(hosts, "netboot.fleet.ipmi_boot", "device=%s persistent=true mode=%s" % (device, mode))
        assert run["m1"]["changed"] is changed, (device, run["m1"])
        assert "boot flags valid" not in run.stderr
        boot = ansible(hosts, "netboot.fleet.bmc_info", "gather=boot")["m1"]["boot"]
        assert boot == {"device": "network" if device == "pxe" else device, "persistent": True, "mode": mode,
                        "valid": True}


def test_bmc_info(redfish_bmcs, inventory, ansible):
    result = ansible(inventory({"m1": redfish_record(redfish_bmcs(power="On"))}), "netboot.fleet.bmc_info")["m1"]
    assert result["status"] == "SUCCESS"
    assert result["power_state"] == "on"
    assert result["device"]["manufacturer"] == "Sushy Emulator" and result["device"]["firmware_version"] == "1.00"
    assert result["health"]["status"] == "ok"
    assert "firmware" in result["unsupported"]  # the fake driver has no firmware inventory


def test_errors_are_explained(redfish_bmcs, inventory, ansible):
    bmc = redfish_bmcs()
    wrong = ansible(inventory({"m1": redfish_record(bmc)}, credentials=False, netboot_bmc_username="admin",
                              netboot_bmc_password="not-the-one"), "netboot.fleet.ipmi_power", "state=on")["m1"]
    assert wrong["bmc_error"] == "auth" and "login refused for user 'admin'" in wrong["msg"]
    assert "not-the-one" not in str(wrong)

    strict = ansible(inventory({"m1": redfish_record(bmc)}, netboot_bmc_validate_certs=True),
                     "netboot.fleet.ipmi_power", "state=status")["m1"]
    assert strict["bmc_error"] == "tls" and "self-signed certificate" in strict["msg"]

    closed = {"address": "127.0.0.1", "protocol": "redfish", "port": bmc_lab.free_port()}
    refused = ansible(inventory({"m1": closed}), "netboot.fleet.ipmi_power", "state=status retries=0")["m1"]
    assert refused["bmc_error"] == "unreachable" and "connection refused" in refused["msg"]

    unknown = {"address": "bmc-m1.invalid", "protocol": "redfish", "port": None}
    unresolved = ansible(inventory({"m1": unknown}), "netboot.fleet.ipmi_power", "state=status")["m1"]
    assert unresolved["bmc_error"] == "resolve" and "Redfish bmc-m1.invalid:443" in unresolved["msg"]


def test_adhoc_status_across_protocols(ipmi_sims, redfish_bmcs, inventory, ansible):
    sims = [ipmi_sims(), ipmi_sims()]
    sims[0].power = "on"
    machines = {"m0": ipmi_record(sims[0]), "m1": ipmi_record(sims[1]), "m2": redfish_record(redfish_bmcs("On"))}
    run = ansible(inventory(machines), "netboot.fleet.ipmi_power", "state=status", "all", "-vvvv")
    assert run.rc == 0, run.stdout + run.stderr
    assert {host: result["power_state"] for host, result in run.results.items()} == \
        {"m0": "on", "m1": "off", "m2": "on"}
    assert bmc_lab.PASSWORD not in run.stdout + run.stderr
