"""The loader's fast paths against the reference checks, on thousands of mutated records.

load() builds each machine with sot/machines_fast.py and falls back to records.build_machine (the reference,
which writes every problem report) for any record the fast path declines. Here every mutated SoT is loaded
twice - as load() does it, and with the fast path switched off - and the outcomes must be identical: the same
records, or the same problem list in the same order.
"""

import copy
import json
import os
import random

import pytest
import yaml

from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot
from ansible_collections.netboot.fleet.plugins.module_utils.sot import loader

REPO = os.path.join(os.path.dirname(__file__), "..", "..", "..")
MINIMAL = os.path.join(REPO, "tests", "sot_corpus", "good", "minimal.yml")

# Values a field may be set to: the valid spellings the fast path must build alike, the near misses
# it must leave to the reference, wrong types, and values other records already use.
FIELD_VALUES = {
    "name": ["m2", "M2", "m-2", "m2.example.net", "-m2", "m2-", "m_2", "m2\n", "m2 ", "a" * 63, "a" * 64,
             "é", "\u212a2", "m\u017f2", "", "m1", "dhcp-a1", 7, True, None],
    "mac": ["52:54:00:00:00:02", "52:54:00:00:00:0A", "52-54-00-00-00-03", "5254.0000.0004", "525400000005",
            "53:54:00:00:00:06", "01:00:5e:00:00:01", "00:00:00:00:00:00", "00-00-00-00-00-00", "52:54:00:00:00:01", "52:54:00:00:00:0g",
            "52:54:00:00:00:02\n", "52:54:00:00:00", 5, None],
    "ipv4": ["198.51.100.11", "198.51.100.10", "198.51.100.0", "198.51.100.63", "198.51.100.1",
             "198.51.100.64", "198.51.100.011", "198.51.100.11\n", " 198.51.100.11", "2001:db8:12::11",
             "203.0.113.53", "192.0.2.1", "1.2.3", "198.51.100.57", "198.51.100.62", "127.0.0.1", "224.0.0.1",
             "0.0.0.1", "169.254.0.1", 3, None],
    "ipv6": ["2001:db8:12::11", "2001:DB8:12::12", "2001:db8:12:0::13", "2001:db8:12:0:0:0:0:14",
             "2001:0db8:12::15", "2001:db8:12::", "2001:db8:12::1", "2001:db8:13::16", "2001:db8:53::53",
             "::ffff:198.51.100.12", "2001:db8:12::17\n", "198.51.100.12", "2001:db8:12::zz", "2001:db8:12::1001",
             "2001:db8:12::2000", "::1", "fe80::1", "ff02::1", "::", [], None],
    "duid": ["00:01:00:01:2a:3b:4c:5d", "00:01:00:01:2A:3B:4C:5D", "00-01", "0:1", "00:01:00:01:2a:3b:4c:5d\n",
             "", 1, None],
    "network": ["rack12", "rack13", "rack99", "Rack12", 12, None],
    "profile": ["debian12", "rocky9", "", [], None],
    "firmware": ["bios", "uefi", "uefi-http", "UEFI", "efi", 1, None],
    "rack": ["r1", "R_1", "_r", "1r", "r-1", "all", "machines", "a" * 63, "a" * 64, "r1\n", ["r1"], {"r": 1}, 1, None],
    "labels": [{}, {"role": "web"}, {"role": 1, "ok": True, "w": 0.5}, {"bad key": 1}, {"1role": "x"},
               {"role": ["a"]}, {"role": None}, {5: "x"}, {"role": "x" * 1024}, {"role": "x" * 1025}, {"role": "a\nb"},
               {"role": "a\u2028b"}, ["role"],
               "role", None],
    "bmc": [{"address": "192.0.2.102", "protocol": "ipmi"}, {"address": "192.0.2.101", "protocol": "ipmi"},
            {"address": "192.0.2.101", "protocol": "ipmi", "port": 6230},
            {"address": "2001:db8:b::1", "protocol": "redfish", "port": 443},
            {"address": "2001:DB8:B::2", "protocol": "redfish"}, {"address": "bmc-1.example.net", "protocol": "ipmi"},
            {"address": "BMC-2.Example.NET", "protocol": "ipmi"}, {"address": "192.0.2", "protocol": "ipmi"},
            {"address": "192.0.2.300", "protocol": "ipmi"}, {"address": "bmc_1", "protocol": "ipmi"},
            {"address": "2001:db8:b::zz", "protocol": "ipmi"}, {"address": "192.0.2.103", "protocol": "IPMI"},
            {"address": "192.0.2.104", "protocol": "ipmi", "port": 0},
            {"address": "192.0.2.105", "protocol": "ipmi", "port": 65536},
            {"address": "192.0.2.106", "protocol": "ipmi", "port": True},
            {"address": "192.0.2.107", "protocol": "ipmi", "user": "x"}, {"address": "192.0.2.108"},
            {"protocol": "ipmi"}, {"address": 5, "protocol": "ipmi"}, "192.0.2.109",
            {"address": "127.0.0.1", "protocol": "ipmi", "port": 6231}, {"address": "::1", "protocol": "redfish"},
            {"address": "224.0.0.1", "protocol": "ipmi"}, {"address": "fe80::1", "protocol": "ipmi"},
            {"address": "0.0.0.0", "protocol": "ipmi"}, {"address": "::", "protocol": "ipmi"},
            {"address": "2001:db8:b:0:0::10", "protocol": "ipmi"}, {"address": "198.51.100.10", "protocol": "ipmi"},
            None],
    "gatway": ["198.51.100.1"],  # an unknown field
}


def minimal():
    with open(MINIMAL, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def mutated_machine(rng, base, index):
    """A copy of base with a fresh valid identity, then one to three fields set to listed values or removed."""
    machine = copy.deepcopy(base)
    machine.update(name="x%d" % index, mac="52:54:00:01:%02x:%02x" % divmod(index, 256),
                   ipv4="198.51.100.%d" % (20 + index % 40),
                   bmc={"address": "2001:db8:b::%x" % (index + 16), "protocol": "ipmi"})
    for fieldname in rng.sample(sorted(FIELD_VALUES), rng.randint(1, 3)):
        value = rng.choice(FIELD_VALUES[fieldname] + ["<remove>"])
        if value == "<remove>":
            machine.pop(fieldname, None)
        else:
            machine[fieldname] = copy.deepcopy(value)
    return machine


def outcome(path):
    try:
        return sot.load(path)
    except sot.SotError as exc:
        return exc.problems


def reference_outcome(monkeypatch, path):
    with monkeypatch.context() as patched:
        patched.setattr(loader, "fast_machine_builder", lambda networks, profiles: lambda raw, source: None)
        return outcome(path)


@pytest.mark.parametrize("seed", range(150))
def test_fast_paths_agree_with_the_reference(tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    data = minimal()
    data["profiles"]["rocky9"] = {"installer": "kickstart", "kernel": "rocky9/vmlinuz", "initrd": "rocky9/initrd.img"}
    data["networks"][0]["ipv4"]["pool"] = "198.51.100.56-198.51.100.62"
    data["networks"][0]["ipv6"]["pool"] = "2001:db8:12::1000-2001:db8:12::1fff"
    base = data["machines"][0]
    data["machines"] += [mutated_machine(rng, base, seed * 100 + index) for index in range(rng.randint(1, 6))]
    path = str(tmp_path / "sot.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    fast, reference = outcome(path), reference_outcome(monkeypatch, path)
    assert type(fast) is type(reference)
    if isinstance(reference, list):
        assert fast == reference
    else:
        assert fast.machines == reference.machines
        assert fast == reference


def test_the_fast_path_builds_most_valid_machines(monkeypatch):
    """Guards the speed: a valid generated fleet must not silently fall back to the reference per machine."""
    calls = []
    reference = loader.build_machine
    monkeypatch.setattr(loader, "build_machine", lambda *args: calls.append(args) or reference(*args))
    fleet = sot.load(os.path.join(REPO, "inventory", "sot"))
    assert fleet.machines and not calls
