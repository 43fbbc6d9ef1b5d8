"""Renderer, hosts-db mode: golden files, same subnets as json mode, no inline reservations."""

from __future__ import annotations

import os

import pytest

from kea_unit_helpers import GOLDEN
from golden import assert_golden
from ansible_collections.netboot.fleet.plugins.module_utils.kea import config as kea

HOSTS_DB = {"hosts_backend": "postgresql", "hosts_db_host": "/run/postgresql", "hosts_db_user": "kea"}


@pytest.mark.parametrize("family", kea.FAMILIES)
def test_hosts_db_mode_matches_golden_file(embedded_sot, family):
    text = kea.dumps(kea.render(embedded_sot, family, kea.Settings.from_dict(HOSTS_DB)), pretty=True)
    assert_golden(os.path.join(GOLDEN, "hostsdb-%s.json" % family), text)


@pytest.mark.parametrize("family", kea.FAMILIES)
def test_same_subnets_as_json_mode_without_reservations(embedded_sot, family):
    key = "subnet%s" % family[-1]
    json_mode = next(iter(kea.render(embedded_sot, family).values()))
    db_mode = next(iter(kea.render(embedded_sot, family, kea.Settings.from_dict(HOSTS_DB)).values()))
    assert [(s["id"], s["subnet"]) for s in db_mode[key]] == [(s["id"], s["subnet"]) for s in json_mode[key]]
    for with_hosts, without in zip(json_mode[key], db_mode[key]):
        assert "reservations" not in without
        # Only where no pool exists may Kea skip checking pool addresses against reservations.
        assert without["reservations-out-of-pool"] is (not without["pools"])
        assert {k: v for k, v in with_hosts.items() if k not in ("reservations", "reservations-out-of-pool")} == \
            {k: v for k, v in without.items() if k != "reservations-out-of-pool"}
    assert "hosts-databases" not in json_mode
    (database,) = db_mode["hosts-databases"]
    assert database == {"type": "postgresql", "name": "kea", "host": "/run/postgresql", "user": "kea", "port": 5432,
                        "readonly": True, "connect-timeout": 5, "on-fail": "stop-retry-exit",
                        "max-reconnect-tries": 10, "reconnect-wait-time": 1000}


def test_tcp_database_gets_a_port_and_the_password_stays_out_of_repr(embedded_sot):
    settings = kea.Settings.from_dict(dict(HOSTS_DB, hosts_db_host="db1.example.net", hosts_db_port=6432,
                                           hosts_db_password="s3cret"))
    assert "s3cret" not in repr(settings)
    (database,) = kea.render(embedded_sot, "dhcp6", settings)["Dhcp6"]["hosts-databases"]
    assert (database["host"], database["port"], database["password"]) == ("db1.example.net", 6432, "s3cret")
    assert kea.render(embedded_sot, "dhcp6", settings)["Dhcp6"]["host-reservation-identifiers"] == \
        ["duid", "hw-address"]


def test_hosts_settings_are_checked():
    with pytest.raises(kea.KeaRenderError) as error:
        kea.Settings.from_dict({"hosts_backend": "mysql", "hosts_db_on_fail": "ignore", "hosts_db_port": "x"})
    problems = "\n".join(error.value.problems)
    for expected in ("value of hosts_backend", "value of hosts_db_on_fail", "'hosts_db_port'"):
        assert expected in problems
