"""The loader on valid input: merging, normalisation, ordering, records."""

import json
import os
import random

import pytest
import yaml

from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot

REPO = os.path.join(os.path.dirname(__file__), "..", "..", "..")
EMBEDDED = os.path.join(REPO, "inventory", "sot")
MINIMAL = os.path.join(REPO, "tests", "sot_corpus", "good", "minimal.yml")


def minimal():
    with open(MINIMAL, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def write(path, data):
    with open(path, "w", encoding="utf-8") as handle:
        (json.dump if path.endswith(".json") else yaml.safe_dump)(data, handle)
    return path


def test_embedded_default_exercises_every_feature():
    fleet = sot.load(EMBEDDED)
    assert len(fleet.dhcp_nodes) == 2
    assert fleet.fabric.anycast_ipv4 and fleet.fabric.anycast_ipv6
    assert {m.firmware for m in fleet.machines} == set(sot.FIRMWARES)
    assert {p.installer for p in fleet.profiles} == set(sot.INSTALLERS)
    dual = [n for n in fleet.networks if n.ipv4 and n.ipv6]
    v6_only = [n for n in fleet.networks if n.ipv6 and not n.ipv4]
    assert dual and v6_only
    assert all(m.bmc for m in fleet.machines)


def test_directory_is_merged_in_file_order(tmp_path):
    data = minimal()
    write(str(tmp_path / "a-fabric.yml"), {"fabric": data["fabric"], "dhcp_nodes": data["dhcp_nodes"]})
    write(str(tmp_path / "b-networks.json"), {"networks": data["networks"], "profiles": data["profiles"]})
    extra = dict(data["machines"][0], name="m0", mac="52:54:00:00:00:09", ipv4="198.51.100.20",
                 bmc={"address": "192.0.2.109", "protocol": "redfish"})
    write(str(tmp_path / "c-machines.yaml"), {"machines": data["machines"] + [extra]})
    (tmp_path / "README.md").write_text("not data")
    fleet = sot.load(str(tmp_path))
    assert [m.name for m in fleet.machines] == ["m0", "m1"]
    assert [os.path.basename(source) for source in fleet.sources] == ["a-fabric.yml", "b-networks.json", "c-machines.yaml"]
    assert fleet.machines[0].source.endswith("c-machines.yaml")


def test_profile_and_fabric_defined_twice_across_files(tmp_path):
    data = minimal()
    write(str(tmp_path / "a.yml"), data)
    write(str(tmp_path / "b.yml"), {"fabric": data["fabric"], "profiles": data["profiles"]})
    with pytest.raises(sot.SotError) as raised:
        sot.load(str(tmp_path))
    messages = [str(problem) for problem in raised.value.problems]
    assert messages == ["%s: profiles.debian12: is also defined in %s" % (tmp_path / "b.yml", tmp_path / "a.yml"),
                        "%s: fabric: is also defined in %s" % (tmp_path / "b.yml", tmp_path / "a.yml")]


def test_addresses_are_normalised(tmp_path):
    data = minimal()
    data["machines"][0].update(mac="52-54-00-AB-CD-EF", ipv6="2001:DB8:12:0:0:0:0:10")
    fleet = sot.load(write(str(tmp_path / "s.yml"), data))
    machine = fleet.machines[0]
    assert machine.mac == "52:54:00:ab:cd:ef"
    assert machine.ipv6 == "2001:db8:12::10"
    assert machine.address == "198.51.100.10"


def test_record_order_does_not_matter(tmp_path):
    data = minimal()
    for index in range(2, 30):
        bmc = {"address": "192.0.2.%d" % (100 + index), "protocol": "ipmi"}
        data["machines"].append(dict(data["machines"][0], name="m%d" % index, mac="52:54:00:00:01:%02x" % index,
                                     ipv4="198.51.100.%d" % (index + 10), bmc=bmc))
    first = sot.load(write(str(tmp_path / "a.yml"), data))
    random.Random(7).shuffle(data["machines"])
    data["networks"].reverse()
    second = sot.load(write(str(tmp_path / "b.yml"), data))
    assert [m.as_dict() for m in first.machines] == [m.as_dict() for m in second.machines]
    assert [n.as_dict() for n in first.networks] == [n.as_dict() for n in second.networks]


def test_host_record_leaves_out_unset_fields():
    fleet = sot.load(MINIMAL)
    assert fleet.machines[0].as_dict() == {
        "name": "m1", "mac": "52:54:00:00:00:01", "ipv4": "198.51.100.10", "network": "rack12",
        "profile": "debian12", "firmware": "bios", "bmc": {"address": "192.0.2.101", "protocol": "ipmi"}}


def test_pxe_service_defaults_to_anycast_and_node_asn_to_fabric():
    fleet = sot.load(MINIMAL)
    assert (fleet.fabric.pxe_ipv4, fleet.fabric.pxe_ipv6, fleet.fabric.http_port) == ("203.0.113.53", "2001:db8:53::53", 80)
    assert fleet.dhcp_nodes[0].asn == 65053
    assert fleet.network("rack13").ipv4 is None
    assert fleet.profile("debian12").disk == "/dev/sda"


def test_report_is_capped_but_problems_are_all_kept(tmp_path):
    data = minimal()
    data["machines"] = [dict(data["machines"][0], name="m%d" % i, mac="zz") for i in range(150)]
    with pytest.raises(sot.SotError) as raised:
        sot.load(write(str(tmp_path / "s.yml"), data))
    assert len(raised.value.problems) >= 150
    assert "... and %d more" % (len(raised.value.problems) - sot.SotError.SHOWN) in str(raised.value)


def test_missing_source():
    with pytest.raises(sot.SotError, match="does not exist"):
        sot.load("/nonexistent/sot.yml")
