"""Reservations -> host rows, the diff, the summary: pure parts of kea_hostsdb (the database
side runs against a real PostgreSQL in tests/integration/hostsdb)."""

from __future__ import annotations

import pytest

from ansible_collections.netboot.fleet.plugins.module_utils.kea import config as kea
from ansible_collections.netboot.fleet.plugins.module_utils.kea import hostsdb

SUBNET = 1662628352


def test_every_json_reservation_becomes_exactly_one_host(embedded_sot):
    for family in kea.FAMILIES:
        config = kea.render(embedded_sot, family)
        subnets = config[next(iter(config))]["subnet%s" % family[-1]]
        reservations = [(s["id"], r) for s in subnets for r in s["reservations"]]
        hosts = hostsdb.hosts_from_config(config)
        assert len(hosts) == len(reservations)
        for subnet_id, reservation in reservations:
            host = hostsdb.host_from_reservation(family, subnet_id, reservation)
            assert hosts[hostsdb.host_key(host)] == host
            assert host.hostname == reservation["hostname"]


# (family, reservation) -> expected Host fields. Adding a case is adding data.
CASES = [
    ("dhcp4", {"hw-address": "52:54:00:12:00:01", "ip-address": "198.51.100.10", "hostname": "a"},
     {"subnet4": SUBNET, "subnet6": None, "identifier_type": 0, "identifier": bytes.fromhex("525400120001"),
      "ipv4_address": 3325256714, "hostname": "a", "next_server": None, "boot_file_name": None, "options4": ()}),
    ("dhcp4", {"hw-address": "52:54:00:12:00:01", "ip-address": "198.51.100.10", "next-server": "192.0.2.1",
               "boot-file-name": "x.efi", "server-hostname": "tftp1", "client-classes": ["a", "b"],
               "option-data": [{"name": "domain-name", "data": "example.net"},
                               {"code": 252, "data": "0a0b", "csv-format": False, "always-send": True}]},
     {"next_server": 3221225985, "boot_file_name": "x.efi", "server_hostname": "tftp1", "client_classes4": "a,b",
      "options4": ((15, "dhcp4", "example.net", None, False), (252, "dhcp4", None, b"\x0a\x0b", True))}),
    ("dhcp6", {"duid": "00:03:00:01:52:54:00:13:00:01", "ip-addresses": ["2001:DB8:13:0::10"], "hostname": "v6"},
     {"subnet4": None, "subnet6": SUBNET, "identifier_type": 1, "identifier": bytes.fromhex("00030001525400130001"),
      "addresses": (("2001:db8:13::10", 128, 0, None),), "ipv4_address": None}),
    ("dhcp6", {"hw-address": "52:54:00:12:00:01", "ip-addresses": ["2001:db8:12::10"],
               "prefixes": ["2001:db8:ff00::/56"], "option-data": [{"name": "bootfile-url", "data": "http://x/"}]},
     {"identifier_type": 0, "addresses": (("2001:db8:12::10", 128, 0, None), ("2001:db8:ff00::", 56, 2, None)),
      "options6": ((59, "dhcp6", "http://x/", None, False),)}),
]


@pytest.mark.parametrize("family, reservation, expected", CASES)
def test_reservation_to_host(family, reservation, expected):
    host = hostsdb.host_from_reservation(family, SUBNET, reservation)
    assert {field: getattr(host, field) for field in expected} == expected


BAD = [
    ("dhcp4", {"hw-address": "52:54:00:12:00:01", "ip-addresses": ["198.51.100.1"]}, "ip-addresses not supported"),
    ("dhcp4", {"hw-address": "52:54:00:12:00:01", "duid": "00:01"}, "exactly one identifier"),
    ("dhcp4", {"ip-address": "198.51.100.1", "hostname": "h"}, "reservation h in subnet"),
    ("dhcp4", {"hw-address": "52:54:zz"}, "is not hex octets"),
    ("dhcp4", {"hw-address": "52:54:00:12:00:01", "ip-address": "198.51.100.300"}, "is not an IPv4 address"),
    ("dhcp4", {"hw-address": "52:54:00:12:00:01", "option-data": [{"name": "no-such-option", "data": "1"}]},
     "'no-such-option' in space dhcp4 has no known code"),
]


@pytest.mark.parametrize("family, reservation, message", BAD)
def test_bad_reservation_is_reported_by_name_and_field(family, reservation, message):
    with pytest.raises(ValueError) as error:
        hostsdb.host_from_reservation(family, SUBNET, reservation)
    assert message in str(error.value)


def _hosts(*specs):
    return {hostsdb.host_key(host): host for host in
            (hostsdb.host_from_reservation(family, SUBNET, reservation) for family, reservation in specs)}


A = ("dhcp4", {"hw-address": "52:54:00:00:00:0a", "ip-address": "198.51.100.10", "hostname": "a"})
B = ("dhcp4", {"hw-address": "52:54:00:00:00:0b", "ip-address": "198.51.100.11", "hostname": "b"})
B2 = ("dhcp4", {"hw-address": "52:54:00:00:00:0b", "ip-address": "198.51.100.12", "hostname": "b"})
C6 = ("dhcp6", {"hw-address": "52:54:00:00:00:0c", "ip-addresses": ["2001:db8::c"], "hostname": "c"})


def _current(hosts, first_id=1):
    return {key: [(first_id + index, host)] for index, (key, host) in enumerate(hosts.items())}


def test_diff_insert_update_delete_unchanged():
    current = _current(_hosts(A, B, C6))
    changes = hostsdb.diff(current, _hosts(B2, C6, ("dhcp4", dict(A[1], **{"hw-address": "52:54:00:00:00:0d"}))))
    assert [host.hostname for host in changes.insert] == ["a"]
    assert [(host_id, old.ipv4_address, new.ipv4_address) for host_id, old, new in changes.update] == \
        [(2, 3325256715, 3325256716)]
    assert [host_id for host_id, _host in changes.delete] == [1]
    assert changes.unchanged == 1


def test_diff_leaves_other_families_and_drops_duplicates_and_global_rows():
    hosts = _hosts(A, C6)
    key_a = next(key for key, host in hosts.items() if host.hostname == "a")
    current = _current(hosts)
    current[key_a].append((9, hosts[key_a]))  # a second row for the same key
    orphan = hosts[key_a]._replace(subnet4=None, identifier=b"\x01")
    current[hostsdb.host_key(orphan)] = [(10, orphan)]  # a global (subnet-less) row
    changes = hostsdb.diff(current, _hosts(A), families=("dhcp4",))
    assert sorted(host_id for host_id, _host in changes.delete) == [9, 10]  # C6 is not ours to touch
    assert not changes.insert and not changes.update and changes.unchanged == 1


def test_summary_is_bounded_and_readable():
    desired = {}
    for index in range(30):
        desired.update(_hosts(("dhcp4", {"hw-address": "52:54:00:00:01:%02x" % index,
                                         "ip-address": "198.51.100.%d" % (index + 1), "hostname": "m%02d" % index})))
    changes = hostsdb.diff({}, desired)
    summary = hostsdb.summarize(changes)
    assert summary["inserted"]["count"] == 30 and len(summary["inserted"]["sample"]) == hostsdb.SAMPLE
    assert summary["inserted"]["sample"][0] == "m00 (hw-address 52:54:00:00:01:00) 198.51.100.1 in dhcp4 subnet %d" \
        % SUBNET
    text = hostsdb.render_text(summary)
    assert text.startswith("hosts: +30 ~0 -0, 0 unchanged\n") and "... and 10 more host(s) inserted" in text
    assert hostsdb.counts(changes, 30) == {"desired": 30, "inserted": 30, "updated": 0, "deleted": 0, "unchanged": 0}


def test_only_changed_subnets_are_keyed_for_an_incremental_sync(embedded_sot):
    reservations = {family: kea.reservations(embedded_sot.networks, embedded_sot.machines, family)
                    for family in kea.FAMILIES}
    edited = {family: {subnet: [dict(r) for r in entries] for subnet, entries in subnets.items()}
              for family, subnets in reservations.items()}
    subnet = sorted(edited["dhcp6"])[0]
    edited["dhcp6"][subnet][0]["hostname"] = "renamed"
    now, before = hostsdb._changed_subnets(edited, reservations, kea.FAMILIES)
    assert now == {"dhcp6": {subnet: edited["dhcp6"][subnet]}}
    assert before == {"dhcp6": {subnet: reservations["dhcp6"][subnet]}}
    keyed = hostsdb.keyed_reservations(reservations, kea.FAMILIES)
    assert set(keyed) == set(hostsdb.hosts_for(keyed, keyed))
    assert len(keyed) == sum(len(entries) for subnets in reservations.values() for entries in subnets.values())


def test_missing_psycopg_is_reported_with_an_install_hint(monkeypatch):
    monkeypatch.setattr(hostsdb, "HAS_PSYCOPG", False)
    with pytest.raises(hostsdb.HostsDbError) as error:
        hostsdb.HostsDatabase({"dbname": "kea"})
    assert "python3-psycopg" in str(error.value)


def test_connect_params_leave_unset_values_to_libpq():
    params = hostsdb.connect_params("kea", host="/run/postgresql", user="kea_sync", password="secret")
    assert params == {"dbname": "kea", "host": "/run/postgresql", "user": "kea_sync", "password": "secret",
                      "connect_timeout": 10, "application_name": "netboot.fleet kea_hosts"}
