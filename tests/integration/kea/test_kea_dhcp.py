"""Real Kea, configured from the SoT by netboot.fleet.kea_config, answering relayed clients."""

from __future__ import annotations

import json
import os

import pytest
import yaml

import kea_lab
from kea_lab import EMBEDDED_SOT
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot

SOT = sot.load(EMBEDDED_SOT)
PXE4, PXE6 = SOT.fabric.pxe_ipv4, SOT.fabric.pxe_ipv6
HTTP_VENDOR_CLASS = "HTTPClient:Arch:00016:UNDI:003001"

# What each firmware sends in its first (pre-iPXE) DHCP exchange, and what it must get back.
FIRMWARE4 = {
    "bios": ({"arch": 0}, PXE4, "undionly.kpxe"),
    "uefi": ({"arch": 7}, PXE4, "snponly.efi"),
    "uefi-http": ({"arch": 16, "vendor_class": HTTP_VENDOR_CLASS}, "0.0.0.0", "http://%s/snponly.efi" % PXE4),
}
# Legacy BIOS PXE has no DHCPv6: its DHCPv6 comes from iPXE (user class "iPXE").
FIRMWARE6 = {
    "bios": ({"user_class": "iPXE", "arch": 0}, "http://[%s]/ipxe/boot.ipxe" % PXE6),
    "uefi": ({"arch": 7}, "tftp://[%s]/snponly.efi" % PXE6),
    "uefi-http": ({"arch": 16}, "http://[%s]/snponly.efi" % PXE6),
}


def _ids(machines):
    return [machine.name for machine in machines]


MACHINES4 = [m for m in SOT.machines if m.ipv4]
MACHINES6 = [m for m in SOT.machines if m.ipv6]


@pytest.fixture(scope="module")
def applied(lab):
    returncode, output, results = lab.apply(sot_path=EMBEDDED_SOT)
    assert returncode == 0, output
    return lab


def _dora(lab, machine, **request):
    return kea_lab.dora4(lab.topology.cli, SOT.network(machine.network).ipv4.gateway, machine.mac, **request)


def _solicit(lab, machine, **request):
    return kea_lab.solicit6(lab.topology.cli, SOT.network(machine.network).ipv6.gateway, machine.mac,
                            duid=machine.duid, **request)


@pytest.mark.parametrize("machine", MACHINES4, ids=_ids(MACHINES4))
def test_firmware_gets_reserved_address_and_its_boot_file(applied, machine):
    request, next_server, boot_file = FIRMWARE4[machine.firmware]
    ack = _dora(applied, machine, **request)
    network = SOT.network(machine.network)
    assert ack["answer"] == "ack", ack
    assert (ack["yiaddr"], ack["hostname"]) == (machine.ipv4, machine.name)
    assert ack["router"] == network.ipv4.gateway
    assert ack["domain"] == network.domain
    assert ack["server_id"] == SOT.fabric.anycast_ipv4
    assert (ack["siaddr"], ack["file"]) == (next_server, boot_file)
    if machine.firmware == "uefi-http":
        assert ack["vendor_class"] == "HTTPClient"


@pytest.mark.parametrize("machine", MACHINES4, ids=_ids(MACHINES4))
def test_ipxe_gets_entry_script_and_no_pxedhcp(applied, machine):
    request = dict(FIRMWARE4[machine.firmware][0], user_class="iPXE")
    ack = _dora(applied, machine, **request)
    assert ack["answer"] == "ack", ack
    assert ack["yiaddr"] == machine.ipv4
    assert ack["file"] == "http://%s/ipxe/boot.ipxe" % PXE4
    # Option 175 carrying sub-option 176 (no-pxedhcp), length 1, value 1.
    assert ack["ipxe_encap"] == bytes([176, 1, 1])


@pytest.mark.parametrize("machine", MACHINES6, ids=_ids(MACHINES6))
def test_dhcpv6_reserved_address_and_bootfile_url(applied, machine):
    request, url = FIRMWARE6[machine.firmware]
    advertise = _solicit(applied, machine, **request)
    assert advertise == {"answer": "advertise", "address": machine.ipv6, "bootfile_url": url}


def test_dhcpv6_relayed_client_matched_by_relay_supplied_mac(applied):
    """A client whose DUID holds no MAC and whose link-local is not EUI-64: only the relay's
    client link-layer address option (RFC 6939) identifies it."""
    machine = next(m for m in MACHINES6 if not m.duid)
    gateway = SOT.network(machine.network).ipv6.gateway
    without = kea_lab.solicit6(applied.topology.cli, gateway, machine.mac, duid="en", arch=7,
                               peer_address="fe80::1234:5678:9abc:def0")
    assert without["address"] != machine.ipv6
    matched = kea_lab.solicit6(applied.topology.cli, gateway, machine.mac, duid="en", arch=7,
                               peer_address="fe80::1234:5678:9abc:def0", relay_link_layer=True)
    assert matched["address"] == machine.ipv6


def test_second_apply_and_check_mode_change_nothing(applied):
    pids = {family: process.pid for family, process in applied.daemons.items()}
    returncode, output, results = applied.apply(sot_path=EMBEDDED_SOT)
    assert returncode == 0, output
    assert [result["changed"] for result in results] == [False, False]
    returncode, output, results = applied.apply(sot_path=EMBEDDED_SOT, check=True)
    assert returncode == 0, output
    assert [result["changed"] for result in results] == [False, False]
    assert {family: process.pid for family, process in applied.daemons.items()} == pids


def _edit_machines(sot_dir, edit):
    path = os.path.join(sot_dir, "machines.yml")
    with open(path) as handle:
        data = yaml.safe_load(handle)
    edit(data["machines"])
    with open(path, "w") as handle:
        yaml.safe_dump(data, handle)


def test_add_change_remove_served_without_restart(applied, sot_copy):
    pids = {family: process.pid for family, process in applied.daemons.items()}
    removed = next(m for m in SOT.machines if m.name == "web1")
    changed = next(m for m in SOT.machines if m.name == "img-server2")
    new = {"name": "web2", "mac": "52:54:00:12:00:04", "ipv4": "198.51.100.13", "ipv6": "2001:db8:12::13",
           "network": "rack12", "rack": "r12", "profile": "debian12", "firmware": "uefi",
           "bmc": {"address": "127.0.0.1", "port": 16235, "protocol": "ipmi"}}

    def edit(machines):
        machines[:] = [m for m in machines if m["name"] != removed.name]
        next(m for m in machines if m["name"] == changed.name)["ipv4"] = "198.51.100.21"
        machines.append(new)
    _edit_machines(sot_copy, edit)

    # Check mode first: reports the change, applies nothing.
    returncode, output, results = applied.apply(sot_path=str(sot_copy), check=True)
    assert returncode == 0, output
    assert [result["changed"] for result in results] == [True, True]
    assert _dora(applied, removed, arch=7)["yiaddr"] == removed.ipv4

    try:
        returncode, output, results = applied.apply(sot_path=str(sot_copy))
        assert returncode == 0, output
        dhcp4 = results[0]["summary"]["reservations"]
        assert {kind: dhcp4[kind]["count"] for kind in ("added", "removed", "changed")} == \
            {"added": 1, "removed": 1, "changed": 1}
        assert "+ reservation web2" in output and "- reservation web1" in output

        ack = kea_lab.dora4(applied.topology.cli, "198.51.100.1", new["mac"], arch=7)
        assert (ack["yiaddr"], ack["hostname"], ack["file"]) == (new["ipv4"], "web2", "snponly.efi")
        assert _dora(applied, changed, arch=7)["yiaddr"] == "198.51.100.21"
        gone = _dora(applied, removed, arch=7)
        assert gone.get("yiaddr") != removed.ipv4
        advertise = kea_lab.solicit6(applied.topology.cli, "2001:db8:12::1", new["mac"], arch=7)
        assert advertise["address"] == new["ipv6"]
        assert _solicit(applied, removed, arch=16)["address"] != removed.ipv6
        # Applied over the control channel: same processes, no restart.
        assert {family: process.pid for family, process in applied.daemons.items()} == pids
        assert all(process.alive() for process in applied.daemons.values())
        # Persisted: the file the daemon starts from now holds the new data.
        with open(os.path.join(applied.tmp, "kea-dhcp4.conf")) as handle:
            assert "52:54:00:12:00:04" in handle.read()
    finally:
        returncode, output, _results = applied.apply(sot_path=EMBEDDED_SOT)
        assert returncode == 0, output


def test_config_kea_rejects_leaves_previous_config_serving(applied):
    pids = {family: process.pid for family, process in applied.daemons.items()}
    before = kea_lab.control(applied.socket("dhcp4"), "config-get")["arguments"]
    bad = json.loads(json.dumps(before))
    bad["Dhcp4"]["subnet4"][0]["reservations"][0]["hw-address"] = "52:54:00:zz:00:01"
    returncode, output, _results = applied.apply(raw_config=bad, families=["dhcp4"])
    assert returncode != 0
    assert "config-test" in output and "52:54:00:zz:00:01" in output
    assert kea_lab.control(applied.socket("dhcp4"), "config-get")["arguments"] == before
    machine = MACHINES4[0]
    assert _dora(applied, machine, arch=0)["yiaddr"] == machine.ipv4
    assert {family: process.pid for family, process in applied.daemons.items()} == pids


def test_invalid_sot_pushes_nothing(applied, sot_copy):
    before = kea_lab.control(applied.socket("dhcp4"), "config-get")["arguments"]

    def edit(machines):
        machines[0]["mac"] = "not-a-mac"
    _edit_machines(sot_copy, edit)
    returncode, output, _results = applied.apply(sot_path=str(sot_copy))
    assert returncode != 0
    assert "mac" in output and "not-a-mac" in output
    assert kea_lab.control(applied.socket("dhcp4"), "config-get")["arguments"] == before
