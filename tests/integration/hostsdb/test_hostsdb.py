"""Kea in hosts-db mode against a real PostgreSQL, next to Kea in json mode with the same SoT.

The last test stops the database: keep it last."""

from __future__ import annotations

import os
import time

import psycopg
import pytest
import yaml

import kea_lab
from ansible_collections.netboot.fleet.plugins.module_utils.anycast import bird as bgp
from ansible_collections.netboot.fleet.plugins.module_utils.anycast import dhcp_probe
from ansible_collections.netboot.fleet.plugins.module_utils.kea import config as kea
from ansible_collections.netboot.fleet.plugins.module_utils.kea import hostsdb as kea_hostsdb
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot_model
from test_kea_dhcp import FIRMWARE4, FIRMWARE6  # the Kea issue's client expectations, reused as they are

MAC_FROM_RELAY_PEER = "fe80::1234:5678:9abc:def0"


def _machines(lab, family):
    return [machine for machine in lab.sot.machines if getattr(machine, family)]


def _dora(node, sot, machine, **request):
    return kea_lab.dora4(node.topology.cli, sot.network(machine.network).ipv4.gateway, machine.mac, **request)


def _solicit(node, sot, machine, **request):
    return kea_lab.solicit6(node.topology.cli, sot.network(machine.network).ipv6.gateway, machine.mac,
                            duid=machine.duid, **request)


def snapshot(lab):
    """Every row of the host tables, with the transaction that wrote it: equal means untouched."""
    tables = {"hosts": "host_id", "ipv6_reservations": "reservation_id", "dhcp4_options": "option_id",
              "dhcp6_options": "option_id"}
    with lab.cluster.connect() as connection, connection.cursor() as cursor:
        dump = {}
        for table, key in tables.items():
            cursor.execute("SELECT xmin::text, * FROM %s ORDER BY %s" % (table, key))
            dump[table] = cursor.fetchall()
    return dump


def _edit_machines(sot_dir, edit):
    path = os.path.join(sot_dir, "machines.yml")
    with open(path) as handle:
        data = yaml.safe_load(handle)
    edit(data["machines"])
    with open(path, "w") as handle:
        yaml.safe_dump(data, handle)


NEW_MACHINE = {"name": "web2", "mac": "52:54:00:12:00:04", "ipv4": "198.51.100.13", "ipv6": "2001:db8:12::13",
               "network": "rack12", "rack": "r12", "profile": "debian12", "firmware": "uefi",
               "bmc": {"address": "127.0.0.1", "port": 16235, "protocol": "ipmi"}}


def add_change_remove(machines):
    """web1 removed, img-server2 renumbered, web2 added."""
    machines[:] = [m for m in machines if m["name"] != "web1"]
    next(m for m in machines if m["name"] == "img-server2")["ipv4"] = "198.51.100.21"
    machines.append(dict(NEW_MACHINE))


# --------------------------------------------------------------------------
# Set-up: the role, the rendered config
# --------------------------------------------------------------------------

def test_role_is_idempotent_and_grants_least_privilege(lab):
    assert "changed=0" in lab.role_runs[1].split("PLAY RECAP")[-1], lab.role_runs[1]
    with lab.cluster.connect(user="kea", password=lab.passwords["reader"]) as reader, reader.cursor() as cursor:
        cursor.execute("SELECT version, minor FROM schema_version")
        assert cursor.fetchone() == (13, 0)
        cursor.execute("SELECT count(*) FROM hosts")
        assert cursor.fetchone()[0] > 0
        for statement in ("DELETE FROM hosts", "SELECT * FROM lease4", "UPDATE schema_version SET minor = 1"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                cursor.execute(statement)
            reader.rollback()
    with lab.cluster.connect(user="kea_sync", password=lab.passwords["sync"]) as writer, writer.cursor() as cursor:
        cursor.execute("DELETE FROM ipv6_reservations")  # allowed; rolled back below
        writer.rollback()
        for statement in ("UPDATE schema_version SET minor = 1", "DROP TABLE hosts", "SELECT * FROM lease4"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                cursor.execute(statement)
            writer.rollback()
    with lab.cluster.connect() as admin, admin.cursor() as cursor:
        cursor.execute("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
        assert cursor.fetchall() == [("kea_owner",)]
        cursor.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'kea_owner'")
        assert cursor.fetchone() == (False,)
        # PUBLIC (every role of the cluster) keeps neither CONNECT nor TEMPORARY on the hosts database.
        cursor.execute("SELECT has_database_privilege('public', 'kea', 'CONNECT'), "
                       "has_database_privilege('public', 'kea', 'TEMPORARY')")
        assert cursor.fetchone() == (False, False)


def test_hosts_db_config_has_the_same_subnets_and_no_reservations(lab):
    for family, key in (("dhcp4", "subnet4"), ("dhcp6", "subnet6")):
        running = kea_lab.control(lab.db_node.socket(family), "config-get")["arguments"]["Dhcp%s" % family[-1]]
        reference = kea_lab.control(lab.json_node.socket(family), "config-get")["arguments"]["Dhcp%s" % family[-1]]
        assert [(s["id"], s["subnet"]) for s in running[key]] == [(s["id"], s["subnet"]) for s in reference[key]]
        assert all(not subnet.get("reservations") for subnet in running[key])
        assert any(subnet.get("reservations") for subnet in reference[key])
        (database,) = running["hosts-databases"]
        assert (database["type"], database["user"], database["readonly"], database["on-fail"]) == \
            ("postgresql", "kea", True, "stop-retry-exit")


# --------------------------------------------------------------------------
# The Kea issue's client assertions, in hosts-db mode, and field-by-field equality with json mode
# --------------------------------------------------------------------------

def test_every_machine_gets_its_reservation_and_boot_file(lab):
    sot = lab.sot
    for machine in _machines(lab, "ipv4"):
        request, next_server, boot_file = FIRMWARE4[machine.firmware]
        ack = _dora(lab.db_node, sot, machine, **request)
        network = sot.network(machine.network)
        assert ack["answer"] == "ack", (machine.name, ack)
        assert (ack["yiaddr"], ack["hostname"]) == (machine.ipv4, machine.name)
        assert (ack["router"], ack["domain"], ack["server_id"]) == \
            (network.ipv4.gateway, network.domain, sot.fabric.anycast_ipv4)
        assert (ack["siaddr"], ack["file"]) == (next_server, boot_file), machine.name
        ipxe = _dora(lab.db_node, sot, machine, **dict(request, user_class="iPXE"))
        assert ipxe["file"] == "http://%s/ipxe/boot.ipxe" % sot.fabric.pxe_ipv4
        assert ipxe["ipxe_encap"] == bytes([176, 1, 1])
    for machine in _machines(lab, "ipv6"):
        request, url = FIRMWARE6[machine.firmware]
        assert _solicit(lab.db_node, sot, machine, **request) == \
            {"answer": "advertise", "address": machine.ipv6, "bootfile_url": url}, machine.name


def test_answers_are_identical_to_json_mode(lab):
    sot, compared = lab.sot, 0
    for machine in _machines(lab, "ipv4"):
        request = FIRMWARE4[machine.firmware][0]
        for variant in (request, dict(request, user_class="iPXE")):
            in_db, in_json = (_dora(node, sot, machine, **variant) for node in (lab.db_node, lab.json_node))
            assert in_db["answer"] == "ack"
            # Every field and every option of the two ACKs, one by one.
            assert set(in_db) == set(in_json) and set(in_db["raw_options"]) == set(in_json["raw_options"])
            for field in in_db:
                assert in_db[field] == in_json[field], (machine.name, variant, field)
            compared += 1
    for machine in _machines(lab, "ipv6"):
        request = FIRMWARE6[machine.firmware][0]
        answers = [_solicit(node, sot, machine, **request) for node in (lab.db_node, lab.json_node)]
        assert answers[0]["answer"] == "advertise" and answers[0] == answers[1], machine.name
        compared += 1
    # Matched by the MAC the relay supplies (RFC 6939), not by a DUID or link-local address.
    machine = next(m for m in _machines(lab, "ipv6") if not m.duid)
    gateway = sot.network(machine.network).ipv6.gateway
    answers = [kea_lab.solicit6(node.topology.cli, gateway, machine.mac, duid="en", arch=7,
                                peer_address=MAC_FROM_RELAY_PEER, relay_link_layer=True)
               for node in (lab.db_node, lab.json_node)]
    assert answers[0]["address"] == machine.ipv6 and answers[0] == answers[1]
    assert compared == 2 * len(_machines(lab, "ipv4")) + len(_machines(lab, "ipv6"))


# --------------------------------------------------------------------------
# Sync: incremental, one transaction, served at once, idempotent
# --------------------------------------------------------------------------

def test_add_change_remove_is_one_transaction_served_without_restart(lab, sot_copy):
    sot = lab.sot
    pids = lab.db_node.pids()
    removed = next(m for m in sot.machines if m.name == "web1")
    changed = next(m for m in sot.machines if m.name == "img-server2")
    _edit_machines(sot_copy, add_change_remove)
    before = snapshot(lab)

    returncode, output, result = lab.sync(sot_copy, check=True)
    assert returncode == 0, output
    assert result["changed"] and snapshot(lab) == before
    assert "+ host web2" in output and "- host web1" in output and "~ host img-server2" in output
    try:
        returncode, output, result = lab.sync(sot_copy)
        assert returncode == 0, output
        # web2: a DHCPv4 and a DHCPv6 row; img-server2: its DHCPv4 row; web1: both rows.
        assert {kind: result["counts"][kind] for kind in ("inserted", "updated", "deleted")} == \
            {"inserted": 2, "updated": 1, "deleted": 2}
        assert result["mode"] == "incremental" and result["schema_version"] == "13.0"
        # Served at once: the very first exchange after the commit gets the new reservation.
        ack = kea_lab.dora4(lab.db_node.topology.cli, "198.51.100.1", NEW_MACHINE["mac"], arch=7)
        assert (ack["yiaddr"], ack["hostname"], ack["file"]) == ("198.51.100.13", "web2", "snponly.efi")
        assert _dora(lab.db_node, sot, changed, arch=7)["yiaddr"] == "198.51.100.21"
        assert _dora(lab.db_node, sot, removed, arch=16, vendor_class=FIRMWARE4["uefi-http"][0]["vendor_class"]) \
            .get("yiaddr") != removed.ipv4
        advertise = kea_lab.solicit6(lab.db_node.topology.cli, "2001:db8:12::1", NEW_MACHINE["mac"], arch=7)
        assert advertise["address"] == NEW_MACHINE["ipv6"]
        assert _solicit(lab.db_node, sot, removed, arch=16)["address"] != removed.ipv6
        # One transaction: every row written carries the same transaction id.
        with lab.cluster.connect() as admin, admin.cursor() as cursor:
            cursor.execute("SELECT DISTINCT h.xmin::text FROM hosts h WHERE h.hostname IN ('web2', 'img-server2') "
                           "UNION SELECT r.xmin::text FROM ipv6_reservations r JOIN hosts h USING (host_id) "
                           "WHERE h.hostname = 'web2'")
            assert len(cursor.fetchall()) == 1
        # Same Kea processes: nothing was reloaded or restarted.
        assert lab.db_node.pids() == pids and all(p.alive() for p in lab.db_node.daemons.values())

        after = snapshot(lab)
        returncode, output, result = lab.sync(sot_copy)
        assert (returncode, result["changed"], result["mode"]) == (0, False, "subnets"), output
        assert result["counts"]["desired"] == 0  # nothing changed in the SoT: no subnet to look at
        assert snapshot(lab) == after  # a second sync writes nothing
        returncode, output, result = lab.sync(sot_copy, full=True)
        assert (returncode, result["changed"], result["mode"]) == (0, False, "full"), output
        assert result["counts"]["unchanged"] == result["counts"]["desired"]
        assert snapshot(lab) == after
    finally:
        returncode, output, _result = lab.sync(kea_lab.EMBEDDED_SOT)
        assert returncode == 0, output


def test_rows_written_outside_the_sync_are_repaired(lab):
    """The incremental shortcut holds only while the tables are as the last sync left them."""
    with lab.cluster.connect() as admin:
        admin.execute("UPDATE hosts SET hostname = 'tampered' WHERE hostname = 'img-server1'")
    returncode, output, result = lab.sync(kea_lab.EMBEDDED_SOT)
    assert returncode == 0, output
    assert (result["mode"], result["counts"]["updated"]) == ("full", 2)
    # The fast path was tried and given up: the tables were not as the last sync left them.
    assert "changed since the last sync" in result["fallback"]
    machine = next(m for m in lab.sot.machines if m.name == "img-server1")
    assert _dora(lab.db_node, lab.sot, machine, arch=0)["hostname"] == "img-server1"


def test_every_change_to_the_host_tables_bumps_the_counter_the_sync_checks(lab):
    def counter():
        with lab.cluster.connect(user="kea_sync", password=lab.passwords["sync"]) as sync, sync.cursor() as cursor:
            cursor.execute("SELECT changes FROM netboot_fleet_host_changes")
            return cursor.fetchone()[0]
    before = counter()
    with lab.cluster.connect() as admin:
        admin.execute("UPDATE dhcp4_options SET persistent = persistent WHERE false")  # a statement, no row
    assert counter() == before + 1
    returncode, output, result = lab.sync(kea_lab.EMBEDDED_SOT, full=True)
    assert (returncode, result["changed"]) == (0, False), output
    assert result["fingerprint"] == "changes:%d" % counter() == "changes:%d" % (before + 1)  # nothing written


def test_fast_path_syncs_only_the_subnets_of_changed_machines(lab, sot_copy):
    """After a sync of everything, a SoT change that touches only machines reads and writes only their subnets."""
    returncode, output, result = lab.sync(sot_copy)
    assert returncode == 0, output
    assert result["fallback"]  # no cache yet for this copy: every subnet was shipped
    _edit_machines(sot_copy, add_change_remove)
    try:
        returncode, output, result = lab.sync(sot_copy)
        assert returncode == 0, output
        assert result["mode"] == "subnets" and not result.get("fallback")
        assert {kind: result["counts"][kind] for kind in ("inserted", "updated", "deleted")} == \
            {"inserted": 2, "updated": 1, "deleted": 2}
        # Only the subnets of web1, img-server2 and web2 were shipped: rack12's IPv4 and IPv6 subnets.
        in_rack12 = [m for m in sot_model.load(str(sot_copy)).machines if m.network == "rack12"]
        assert result["counts"]["desired"] == sum(1 for m in in_rack12 if m.ipv4) + sum(1 for m in in_rack12 if m.ipv6)
        ack = kea_lab.dora4(lab.db_node.topology.cli, "198.51.100.1", NEW_MACHINE["mac"], arch=7)
        assert (ack["yiaddr"], ack["hostname"]) == ("198.51.100.13", "web2")
        # Same tables as a sync of everything gives: a full compare afterwards finds nothing to do.
        returncode, output, result = lab.sync(sot_copy, full=True, state_file=False)
        assert (returncode, result["changed"], result["mode"]) == (0, False, "full"), output
        # A network edited: more than machines changed, so every subnet is shipped again.
        path = os.path.join(sot_copy, "networks.yml")
        with open(path) as handle:
            networks = yaml.safe_load(handle)
        networks["networks"][0]["domain"] = "renamed.example.net"
        with open(path, "w") as handle:
            yaml.safe_dump(networks, handle)
        returncode, output, result = lab.sync(sot_copy)
        assert returncode == 0, output
        assert result["mode"] in ("incremental", "full") and "more than machines" in result["fallback"]
    finally:
        returncode, output, _result = lab.sync(kea_lab.EMBEDDED_SOT, full=True)
        assert returncode == 0, output


# --------------------------------------------------------------------------
# Failures leave the database exactly as it was
# --------------------------------------------------------------------------

def test_constraint_error_halfway_changes_nothing(lab, sot_copy):
    _edit_machines(sot_copy, add_change_remove)
    with lab.cluster.connect() as admin:
        # Deletes and updates run first; inserting web2 then breaks this constraint.
        admin.execute("ALTER TABLE hosts ADD CONSTRAINT nbh_refuse_web2 CHECK (hostname IS DISTINCT FROM 'web2')")
    try:
        before = snapshot(lab)
        returncode, output, _result = lab.sync(sot_copy)
        assert returncode != 0
        assert "nbh_refuse_web2" in output and "nothing was committed" in output
        assert snapshot(lab) == before
        machine = next(m for m in lab.sot.machines if m.name == "web1")
        assert _dora(lab.db_node, lab.sot, machine, arch=0)["yiaddr"] == machine.ipv4
    finally:
        with lab.cluster.connect() as admin:
            admin.execute("ALTER TABLE hosts DROP CONSTRAINT nbh_refuse_web2")


def test_connection_killed_halfway_changes_nothing(lab, sot_copy):
    _edit_machines(sot_copy, add_change_remove)
    loaded = sot_model.load(str(sot_copy))
    reservations = {family: kea.reservations(loaded.networks, loaded.machines, family) for family in kea.FAMILIES}
    params = kea_hostsdb.connect_params("kea", host=lab.cluster.socket_dir, port=lab.cluster.port, user="kea_sync",
                                        password=lab.passwords["sync"])

    def kill_own_backend(connection):
        # Every change is written but not committed: the server drops the connection now.
        with lab.cluster.connect() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (connection.info.backend_pid,))
    before = snapshot(lab)
    with kea_hostsdb.HostsDatabase(params) as database:
        with pytest.raises(kea_hostsdb.HostsDbConnectionError) as error:
            database.sync(reservations, before_commit=kill_own_backend)
    assert "nothing was committed" in str(error.value)
    assert snapshot(lab) == before


def test_a_second_writer_waits_then_fails_without_writing(lab, sot_copy):
    """Two syncs never interleave: the second waits for the lock, then gives up cleanly."""
    _edit_machines(sot_copy, add_change_remove)
    loaded = sot_model.load(str(sot_copy))
    reservations = {family: kea.reservations(loaded.networks, loaded.machines, family) for family in kea.FAMILIES}
    params = kea_hostsdb.connect_params("kea", host=lab.cluster.socket_dir, port=lab.cluster.port, user="kea_sync",
                                        password=lab.passwords["sync"])
    before = snapshot(lab)
    with lab.cluster.connect() as holder:
        holder.execute("LOCK TABLE hosts IN SHARE ROW EXCLUSIVE MODE")  # another sync, mid-transaction
        machine = next(m for m in lab.sot.machines if m.name == "web1")
        assert _dora(lab.db_node, lab.sot, machine, arch=0)["yiaddr"] == machine.ipv4  # Kea still reads
        started = time.monotonic()
        with kea_hostsdb.HostsDatabase(params, lock_timeout=1.0) as database:
            with pytest.raises(kea_hostsdb.HostsDbError) as error:
                database.sync(reservations)
        assert 0.9 <= time.monotonic() - started < 10
        holder.rollback()
    assert "another writer" in str(error.value) and "nothing was written" in str(error.value)
    assert snapshot(lab) == before


def test_unknown_or_missing_schema_is_refused(lab):
    with lab.cluster.connect(dbname="postgres", autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS nbh_future")
        admin.execute("DROP DATABASE IF EXISTS nbh_empty")
        admin.execute("CREATE DATABASE nbh_future")
        admin.execute("CREATE DATABASE nbh_empty")
    try:
        with lab.cluster.connect(dbname="nbh_future") as admin:
            admin.execute("CREATE TABLE schema_version (version INT PRIMARY KEY, minor INT)")
            admin.execute("INSERT INTO schema_version VALUES (99, 2)")
        for name, expected in (("nbh_future", "schema version 99.2"), ("nbh_empty", "kea-admin db-init pgsql")):
            params = kea_hostsdb.connect_params(name, host=lab.cluster.socket_dir, port=lab.cluster.port,
                                                user="postgres", password=lab.cluster.admin_password)
            with kea_hostsdb.HostsDatabase(params) as database:
                with pytest.raises(kea_hostsdb.SchemaError) as error:
                    database.schema_version()
            assert expected in str(error.value)
            assert "13 (Kea 2.2" in str(error.value) or name == "nbh_empty"
    finally:
        with lab.cluster.connect(dbname="postgres", autocommit=True) as admin:
            admin.execute("DROP DATABASE nbh_future")
            admin.execute("DROP DATABASE nbh_empty")


# --------------------------------------------------------------------------
# Database down (keep last): the node stops answering, exits, and the health check sees it
# --------------------------------------------------------------------------

def health_check(lab, node):
    """One round of the anycast health check (the anycast issue's dhcp_probe, with the checks
    bgp.render_healthcheck gives a node): relayed DISCOVER/SOLICIT over loopback + status-get."""
    settings = bgp.Settings(control_socket4=node.socket("dhcp4"), control_socket6=node.socket("dhcp6"),
                            check_timeout=1.0)
    config = bgp.render_healthcheck(lab.sot, lab.sot.dhcp_nodes[0].name, settings)
    with kea_lab.in_netns(node.topology.srv):
        results = dhcp_probe.run_checks(config)
    return all(result.ok for result in results) and len(results) == len(config["checks"]), results


def test_database_down_node_stops_answering_exits_and_is_withdrawn(lab):
    node, sot = lab.db_node, lab.sot
    healthy, results = health_check(lab, node)
    assert healthy, results
    assert health_check(lab, lab.json_node)[0]

    lab.cluster.stop("immediate")
    down_at = time.monotonic()
    healthy, results = health_check(lab, node)
    # Withdrawn at once: the relayed DISCOVER of the check is the first lookup that fails.
    assert not healthy and results[-1].check == "dhcp4" and results[0].ok, results
    # Fail closed: no answer at all, rather than a pool address for a machine with a reservation.
    assert _dora(node, sot, _machines(lab, "ipv4")[0], arch=0, timeout=1.0)["answer"] is None
    assert _solicit(node, sot, _machines(lab, "ipv6")[0], arch=7, timeout=1.0)["answer"] is None
    for process in node.daemons.values():
        process.process.wait(timeout=30)  # 3 reconnect attempts 0.5 s apart, then exit
    exited_after = time.monotonic() - down_at
    healthy, results = health_check(lab, node)
    assert not healthy and results[0].check.startswith("status-get") and not results[0].ok, results
    for family, process in node.daemons.items():
        with open(process.log_path, errors="replace") as handle:
            log = handle.read()
        assert "DB_RECONNECT_LOST_CONNECTION" in log and "DB_RECONNECT_FAILED" in log, family
        assert "_SHUTDOWN" in log, family
    assert exited_after < 30
    # The json-mode node, which needs no database, is unaffected.
    assert health_check(lab, lab.json_node)[0]
