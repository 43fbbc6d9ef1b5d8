"""Renderer, shared leases: the lease database every node shares, alone or with the host database."""

from __future__ import annotations

import os

import pytest

from kea_unit_helpers import GOLDEN
from golden import assert_golden
from ansible_collections.netboot.fleet.plugins.module_utils.kea import config as kea

# The database mode of a fleet: reservations and leases both in the shared PostgreSQL database.
DATABASE = {"hosts_backend": "postgresql", "lease_backend": "postgresql", "hosts_db_host": "/run/postgresql"}


@pytest.mark.parametrize("family", kea.FAMILIES)
def test_database_mode_matches_golden_file(embedded_sot, family):
    text = kea.dumps(kea.render(embedded_sot, family, kea.Settings.from_dict(DATABASE)), pretty=True)
    assert_golden(os.path.join(GOLDEN, "database-%s.json" % family), text)


@pytest.mark.parametrize("family", kea.FAMILIES)
def test_shared_leases_only_change_the_lease_database(embedded_sot, family):
    memfile = next(iter(kea.render(embedded_sot, family).values()))
    shared = next(iter(kea.render(embedded_sot, family, kea.Settings(lease_backend="postgresql")).values()))
    assert memfile["lease-database"]["type"] == "memfile"
    assert shared.pop("lease-database") == {
        "type": "postgresql", "name": "kea", "host": "/run/postgresql", "user": "kea_leases", "port": 5432,
        "connect-timeout": 5, "on-fail": "stop-retry-exit", "max-reconnect-tries": 10, "reconnect-wait-time": 1000}
    memfile.pop("lease-database")
    assert shared == memfile


def test_lease_database_over_tcp_has_a_port_and_its_own_password(embedded_sot):
    settings = kea.Settings.from_dict(dict(DATABASE, hosts_db_host="db.example.net", hosts_db_port=6432,
                                           hosts_db_password="reader-secret", lease_db_password="lease-secret"))
    assert "lease-secret" not in repr(settings)
    config = kea.render(embedded_sot, "dhcp4", settings)["Dhcp4"]
    leases, (hosts,) = config["lease-database"], config["hosts-databases"]
    assert (leases["host"], leases["port"], leases["user"], leases["password"]) == \
        ("db.example.net", 6432, "kea_leases", "lease-secret")
    assert "readonly" not in leases
    assert (hosts["user"], hosts["password"], hosts["readonly"]) == ("kea", "reader-secret", True)


def test_lease_backend_is_checked():
    with pytest.raises(kea.KeaRenderError, match="value of lease_backend must be one of: memfile, postgresql"):
        kea.Settings.from_dict({"lease_backend": "mysql"})
