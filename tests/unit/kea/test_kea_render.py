"""Renderer: golden files, determinism, subnet ids, client classes, settings."""

from __future__ import annotations

import dataclasses
import json
import os
import random

import pytest

from kea_unit_helpers import GOLDEN, base_sot, kea_config_test, machine
from golden import assert_golden
from ansible_collections.netboot.fleet.plugins.module_utils.kea import config as kea


@pytest.mark.parametrize("family", kea.FAMILIES)
def test_embedded_sot_matches_golden_file(embedded_sot, family):
    assert_golden(os.path.join(GOLDEN, "%s.json" % family), kea.dumps(kea.render(embedded_sot, family), pretty=True))


def _two_rack_sot():
    data = base_sot()
    data["networks"] = [
        {"name": "rack%d" % rack, "ipv4": {"prefix": "198.51.100.%d/26" % (64 * rack), "gateway":
                                           "198.51.100.%d" % (64 * rack + 1)},
         "ipv6": {"prefix": "2001:db8:%d::/64" % rack, "gateway": "2001:db8:%d::1" % rack}}
        for rack in (0, 1)]
    data["machines"] = [machine("m%02d" % i, "52:54:00:00:00:%02x" % i, "rack%d" % (i % 2),
                                ipv4="198.51.100.%d" % (64 * (i % 2) + 10 + i),
                                ipv6="2001:db8:%d::%x" % (i % 2, 16 + i), port=i + 1) for i in range(12)]
    return data


def test_two_renders_are_byte_identical_whatever_the_record_order(load_sot, tmp_path):
    data = _two_rack_sot()
    first = {family: kea.dumps(kea.render(load_sot(data), family)) for family in kea.FAMILIES}
    shuffled = dict(data, machines=list(data["machines"]), networks=list(reversed(data["networks"])))
    random.Random(7).shuffle(shuffled["machines"])
    for path in tmp_path.iterdir():
        path.unlink()
    second = {family: kea.dumps(kea.render(load_sot(shuffled), family)) for family in kea.FAMILIES}
    assert first == second


def test_subnet_ids_come_from_the_prefix_alone(load_sot):
    data = _two_rack_sot()
    config = kea.render(load_sot(data), "dhcp4")["Dhcp4"]
    ids = {subnet["subnet"]: subnet["id"] for subnet in config["subnet4"]}
    # IPv4: network address / 2, so it is stable and readable.
    assert ids == {"198.51.100.0/26": 3325256704 // 2, "198.51.100.64/26": (3325256704 + 64) // 2}
    assert all(1 <= ident <= kea.SUBNET_ID_MAX for ident in ids.values())
    config6 = kea.render(load_sot(data), "dhcp6")["Dhcp6"]
    assert {s["subnet"]: s["id"] for s in config6["subnet6"]} == \
        {prefix: kea.subnet_id(prefix) for prefix in ("2001:db8::/64", "2001:db8:1::/64")}
    assert kea.subnet_id("2001:db8:1::/64") == kea.subnet_id("2001:db8:1::/56")


def test_subnet_id_collision_is_reported_with_both_networks(load_sot):
    # Found by search: these two prefixes hash to the same 31-bit id.
    colliding = ("2001:db8:34a6:1::/64", "2001:db8:7543::/64")
    assert kea.subnet_id(colliding[0]) == kea.subnet_id(colliding[1])
    data = base_sot()
    data["networks"] = [{"name": "net_a", "ipv6": {"prefix": colliding[0], "gateway": "2001:db8:34a6:1::1"}},
                        {"name": "net_b", "ipv6": {"prefix": colliding[1], "gateway": "2001:db8:7543::1"}}]
    loaded = load_sot(data)
    with pytest.raises(kea.KeaRenderError) as error:
        kea.render(loaded, "dhcp6")
    assert len(error.value.problems) == 1
    message = str(error.value)
    assert "net_a" in message and "net_b" in message and str(kea.subnet_id(colliding[0])) in message
    kea.render(loaded, "dhcp4")  # no IPv4 networks: nothing collides there
    with pytest.raises(kea.KeaRenderError) as error:
        kea.reservations(loaded.networks, loaded.machines, "dhcp6")
    assert str(error.value) == message


@pytest.mark.parametrize("family", kea.FAMILIES)
def test_host_database_reservations_are_the_rendered_ones(embedded_sot, family):
    """kea.reservations (what kea_hosts writes) lists every subnet's reservations exactly as render() does."""
    subnets = kea.render(embedded_sot, family)["Dhcp%s" % family[-1]]["subnet%s" % family[-1]]
    assert kea.reservations(embedded_sot.networks, embedded_sot.machines, family) == \
        {str(subnet["id"]): subnet["reservations"] for subnet in subnets}
    some = [network for network in embedded_sot.networks if getattr(network, "ipv%s" % family[-1])][:1]
    assert kea.reservations(some, embedded_sot.machines, family) == \
        {str(subnet["id"]): subnet["reservations"] for subnet in subnets if subnet["user-context"]["network"] == some[0].name}


def test_reservations_cover_every_machine_with_an_address(embedded_sot):
    dhcp4 = kea.render(embedded_sot, "dhcp4")["Dhcp4"]
    dhcp6 = kea.render(embedded_sot, "dhcp6")["Dhcp6"]
    v4 = {r["hw-address"]: r for s in dhcp4["subnet4"] for r in s["reservations"]}
    v6 = {r.get("duid", r.get("hw-address")): r for s in dhcp6["subnet6"] for r in s["reservations"]}
    for record in embedded_sot.machines:
        if record.ipv4:
            assert v4[record.mac] == {"hw-address": record.mac, "ip-address": record.ipv4, "hostname": record.name}
        else:
            assert record.mac not in v4
        if record.ipv6:
            key = record.duid or record.mac
            assert v6[key]["ip-addresses"] == [record.ipv6] and v6[key]["hostname"] == record.name
            assert ("duid" in v6[key]) == bool(record.duid)
    assert dhcp6["host-reservation-identifiers"] == ["hw-address"]
    assert dhcp6["mac-sources"][0] == "client-link-addr-option"


def test_a_machine_with_a_duid_is_reserved_by_it(embedded_sot):
    import dataclasses
    worker = next(machine for machine in embedded_sot.machines if machine.ipv6 and not machine.ipv4)
    duid = "00:03:00:01:" + worker.mac
    machines = tuple(dataclasses.replace(m, duid=duid) if m is worker else m for m in embedded_sot.machines)
    dhcp6 = kea.render(dataclasses.replace(embedded_sot, machines=machines), "dhcp6")["Dhcp6"]
    reservations = [r for s in dhcp6["subnet6"] for r in s["reservations"] if r["hostname"] == worker.name]
    assert reservations == [{"duid": duid, "ip-addresses": [worker.ipv6], "hostname": worker.name}]
    assert dhcp6["host-reservation-identifiers"] == ["duid", "hw-address"]


def test_subnet_relay_options_and_pool_flags(load_sot):
    data = _two_rack_sot()
    data["networks"][0].update(dns_servers=["192.0.2.53", "192.0.2.54", "2001:db8::53"], domain="r0.example.net")
    data["networks"][0]["ipv4"]["pool"] = "198.51.100.40-198.51.100.50"
    data["networks"][1]["ipv4"]["pool"] = "198.51.100.100-198.51.100.110"
    subnets = {s["subnet"]: s for s in kea.render(load_sot(data), "dhcp4")["Dhcp4"]["subnet4"]}
    rack0, rack1 = subnets["198.51.100.0/26"], subnets["198.51.100.64/26"]
    assert rack0["relay"] == {"ip-addresses": ["198.51.100.1"]}
    assert rack0["option-data"] == [{"name": "routers", "data": "198.51.100.1"},
                                    {"name": "domain-name-servers", "data": "192.0.2.53, 192.0.2.54"},
                                    {"name": "domain-name", "data": "r0.example.net"}]
    # The loader keeps reserved addresses out of the pools.
    assert rack0["reservations-out-of-pool"] is True and rack1["reservations-out-of-pool"] is True
    assert rack0["user-context"] == {"network": "rack0"}
    subnet6 = kea.render(load_sot(data), "dhcp6")["Dhcp6"]["subnet6"]
    rack0_v6 = next(s for s in subnet6 if s["subnet"] == "2001:db8::/64")
    assert rack0_v6["option-data"] == [{"name": "dns-servers", "data": "2001:db8::53"},
                                       {"name": "domain-search", "data": "r0.example.net"}]


def test_dhcp4_client_classes_and_server_identity(embedded_sot):
    config = kea.render(embedded_sot, "dhcp4", kea.Settings(boot_file_uefi="ipxe.efi"))["Dhcp4"]
    classes = {c["name"]: c for c in config["client-classes"]}
    assert [c["name"] for c in config["client-classes"]] == ["ipxe", "uefi-http", "uefi-x64", "bios"]
    pxe = embedded_sot.fabric.pxe_ipv4
    assert classes["ipxe"]["test"] == "substring(option[77].hex,0,4) == 'iPXE'"
    assert classes["ipxe"]["boot-file-name"] == "http://%s/ipxe/boot.ipxe" % pxe
    assert {"name": "no-pxedhcp", "space": "ipxe", "data": "1", "always-send": True} in classes["ipxe"]["option-data"]
    assert "option[93].hex == 0x0010" in classes["uefi-http"]["test"]
    assert "'HTTPClient'" in classes["uefi-http"]["test"]
    assert classes["uefi-http"]["boot-file-name"] == "http://%s/snponly.efi" % pxe
    assert classes["uefi-x64"]["test"] == \
        "(option[93].hex == 0x0007 or option[93].hex == 0x0009) and not member('ipxe')"
    assert (classes["uefi-x64"]["next-server"], classes["uefi-x64"]["boot-file-name"]) == (pxe, "ipxe.efi")
    assert (classes["bios"]["next-server"], classes["bios"]["boot-file-name"]) == (pxe, "undionly.kpxe")
    assert all("not member('ipxe')" in c["test"] for name, c in classes.items() if name != "ipxe")
    assert {o["code"] for o in config["option-def"]} == {175, 176}
    assert config["option-data"] == [{"name": "dhcp-server-identifier", "data": embedded_sot.fabric.anycast_ipv4}]
    assert config["interfaces-config"]["dhcp-socket-type"] == "udp"
    assert config["multi-threading"]["enable-multi-threading"] is True
    assert config["control-socket"] == {"socket-type": "unix", "socket-name": "/run/kea/kea4-ctrl-socket"}


def test_dhcp6_client_classes_and_shared_server_duid(load_sot):
    data = base_sot()
    data["fabric"]["pxe"] = {"ipv6": "2001:db8:99::9", "http_port": 8080}
    data["networks"] = [{"name": "rack0", "ipv6": {"prefix": "2001:db8:0::/64", "gateway": "2001:db8::1"}}]
    config = kea.render(load_sot(data), "dhcp6")["Dhcp6"]
    urls = {c["name"]: c["option-data"][0]["data"] for c in config["client-classes"]}
    assert urls == {"ipxe": "http://[2001:db8:99::9]:8080/ipxe/boot.ipxe",
                    "uefi-http": "http://[2001:db8:99::9]:8080/snponly.efi",
                    "uefi-x64": "tftp://[2001:db8:99::9]/snponly.efi"}
    assert all(c["option-data"][0]["name"] == "bootfile-url" for c in config["client-classes"])
    assert config["client-classes"][0]["test"] == "substring(option[15].hex,2,4) == 'iPXE'"
    # Derived from the anycast address: every node renders the same DUID.
    assert config["server-id"] == {"type": "LL", "htype": 1, "identifier": "020000000053", "persist": False}
    shared = kea.render(load_sot(data), "dhcp6", kea.Settings(server_duid="00:02:00:00:09:bf:01:02"))
    assert shared["Dhcp6"]["server-id"] == {"type": "EN", "enterprise-id": 2495, "identifier": "0102",
                                            "persist": False}


def test_ipxe_script_url_convention():
    assert kea.ipxe_script_url("203.0.113.53", 80, "52:54:00:AB:00:01") == \
        "http://203.0.113.53/ipxe/52:54:00:ab:00:01.ipxe"
    assert kea.ipxe_script_url("2001:db8::1", 8080, "52:54:00:ab:00:01") == \
        "http://[2001:db8::1]:8080/ipxe/52:54:00:ab:00:01.ipxe"


def test_settings_from_role_variables_are_checked():
    settings = kea.Settings.from_dict({"interfaces4": ["eth0"], "valid_lifetime": 600, "multi_threading": False})
    assert settings.interfaces4 == ("eth0",) and settings.valid_lifetime == 600
    # Typed as Ansible types module options: a role variable given as a string is converted.
    assert kea.Settings.from_dict({"valid_lifetime": "600", "multi_threading": "yes"}).multi_threading is True
    with pytest.raises(kea.KeaRenderError) as error:
        kea.Settings.from_dict({"interfaces4": {"eth0": 1}, "valid_lifetme": 5, "multi_threading": "maybe",
                                "dhcp_socket_type": "tcp"})
    problems = "\n".join(error.value.problems)
    for expected in ("argument 'interfaces4' is of type", "settings.valid_lifetme: unknown", "'multi_threading'",
                     "value of dhcp_socket_type must be one of: udp, raw"):
        assert expected in problems
    with pytest.raises(kea.KeaRenderError, match="settings.server_duid: '00:09:01' is not a DUID-LLT"):
        kea.Settings.from_dict({"server_duid": "00:09:01"})
    with pytest.raises(kea.KeaRenderError, match="settings.lfc_interval: must not be negative"):
        kea.Settings.from_dict({"lfc_interval": -1})


def test_rendered_config_is_plain_json(embedded_sot):
    for family in kea.FAMILIES:
        config = kea.render(embedded_sot, family)
        assert json.loads(kea.dumps(config)) == config


@pytest.mark.parametrize("family", kea.FAMILIES)
@pytest.mark.parametrize("mode", ["", "hostsdb-"])
def test_golden_config_is_accepted_by_kea(family, mode, tmp_path):
    with open(os.path.join(GOLDEN, "%s%s.json" % (mode, family))) as handle:
        config = json.load(handle)
    if family == "dhcp6":
        # kea-dhcp6 -t insists that data-directory exists; /var/lib/kea may not on a build host.
        config["Dhcp6"]["data-directory"] = str(tmp_path)
    proc = kea_config_test(family, config, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_pxe_address_renders_no_classes_and_kea_accepts_it(load_sot, tmp_path):
    """Without an IPv6 anycast/PXE address there is no DHCPv6 boot URL: the classes are left
    out, because Kea 2.2 rejects an empty client-classes list."""
    data = base_sot()
    data["fabric"]["anycast"] = {"ipv4": "203.0.113.53"}
    data["networks"] = [{"name": "rack0", "ipv6": {"prefix": "2001:db8::/64", "gateway": "2001:db8::1"}}]
    config = kea.render(load_sot(data), "dhcp6", kea.Settings(data_directory=str(tmp_path)))
    assert "client-classes" not in config["Dhcp6"]
    proc = kea_config_test("dhcp6", config, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("family", kea.FAMILIES)
@pytest.mark.parametrize("field, value", [("domain", "r0.example.net, evil.example"),
                                          ("dns_servers", ("192.0.2.53, 198.51.100.66", "2001:db8::53,2001:db8::66")),
                                          ("domain", "r0.example.net\nx")])
def test_option_data_kea_would_split_is_refused(embedded_sot, family, field, value):
    """Defence in depth behind the loader: Kea splits option data at commas, so a value with one never reaches it."""
    network = embedded_sot.networks[0]
    hostile = dataclasses.replace(network, **{field: value})
    fleet = dataclasses.replace(embedded_sot, networks=(hostile,) + embedded_sot.networks[1:])
    with pytest.raises(kea.KeaRenderError, match=r"networks %s\.%s: .* cannot be written into Kea option data"
                       % (network.name, field)):
        kea.render(fleet, family)
