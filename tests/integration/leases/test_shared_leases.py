"""Pool leases behind anycast: two Kea nodes, clients moving between them.

With memfile (each node its own leases) the same pool address goes to two clients and a client whose
renewal reaches the other node loses its address: test_memfile_* records that behaviour (it is what the
shared mode exists for, and what a lab without a database still does). With the shared PostgreSQL
lease database both problems are gone, for DHCPv4 and DHCPv6, through a database outage and through a
primary failover. Keep the failover test last: it uses up the standby.
"""

from __future__ import annotations

import shutil
import time

import psycopg
import pytest
import yaml

import lease_clients as clients
import kea_lab
from test_hostsdb import health_check  # one round of the node's anycast health check, as the hostsdb suite runs it

GIADDR = "198.51.100.1"      # rack12: IPv4 pool 198.51.100.50-60
LINK6 = "2001:db8:13::1"     # rack13: IPv6 pool 2001:db8:13::1000-1fff
CLIENTS = 8


def mac(group, index):
    return "02:51:%02x:00:00:%02x" % (group, index)


def lease_round(lab, group, family):
    """Client i leases through node i % 2, then renews (and, v6, rebinds) through the other node.
    Returns {mac: leased address}, {mac: address after the renewal elsewhere (None: lost)}."""
    leased, kept = {}, {}
    for index in range(CLIENTS):
        client = mac(group, index)
        here, there = lab.nodes[index % 2].topology.cli, lab.nodes[(index + 1) % 2].topology.cli
        if family == "dhcp4":
            address = clients.lease4(here, GIADDR, client)
            assert address, "no lease for %s" % client
            leased[client] = address
        else:
            address, server = clients.lease6(here, LINK6, client)
            assert address, "no lease for %s" % client
            leased[client] = (address, server)
    for index in range(CLIENTS):
        client = mac(group, index)
        there = lab.nodes[(index + 1) % 2].topology.cli
        if family == "dhcp4":
            answer, address = clients.renew4(there, GIADDR, client, leased[client])
            kept[client] = address if answer == "ack" else None
        else:
            address, server = leased[client]
            renewed = clients.extend6(there, LINK6, client, address, server)
            rebound = clients.extend6(there, LINK6, client, address)
            kept[client] = renewed if renewed == rebound else None
            leased[client] = address
    return leased, kept


def duplicates(leased):
    seen = {}
    for client, address in leased.items():
        seen.setdefault(address, []).append(client)
    return {address: owners for address, owners in seen.items() if len(owners) > 1}


@pytest.mark.parametrize("family", ["dhcp4", "dhcp6"])
def test_memfile_nodes_lease_one_address_twice_and_renumber_movers(lab, family):
    """The problem, on memfile: each node believes it owns the whole pool."""
    lab.use("memfile")
    leased, kept = lease_round(lab, 1 if family == "dhcp4" else 2, family)
    assert duplicates(leased), leased
    moved_and_lost = [client for client in leased if kept[client] != leased[client]]
    assert moved_and_lost, kept


@pytest.mark.parametrize("family", ["dhcp4", "dhcp6"])
def test_shared_leases_lease_each_address_once_and_keep_it_on_the_other_node(lab, family):
    lab.use("postgresql")
    leased, kept = lease_round(lab, 3 if family == "dhcp4" else 4, family)
    assert not duplicates(leased), leased
    assert kept == leased
    table = "lease4" if family == "dhcp4" else "lease6"
    with lab.primary.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM %s" % table)
        assert cursor.fetchone()[0] >= CLIENTS


def test_the_lease_user_reaches_the_lease_tables_only(lab):
    with lab.leases_writer() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM lease4")
        for statement in ("SELECT * FROM hosts", "DELETE FROM schema_version", "DROP TABLE lease4",
                          "CREATE TABLE nbq_probe (x int)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                cursor.execute(statement)
            connection.rollback()


def test_the_lease_triggers_json_check_runs_once_per_session(lab):
    """Kea 2.2's isJsonSupported() (every lease write's trigger) as the kea_hostsdb role leaves it: it stores its
    answer at the first call and reads it back after, instead of checking again at every lease write."""
    with lab.primary.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SET track_functions = 'pl'")
        cursor.execute("SELECT isJsonSupported(), isJsonSupported(), isJsonSupported()")
        assert cursor.fetchone() == (True, True, True)
        cursor.execute("SELECT pg_stat_get_xact_function_calls('set_session_value(text, boolean)'::regprocedure)")
        assert cursor.fetchone()[0] == 1


def test_bringup_deployed_the_database_and_a_second_run_changes_nothing(lab):
    assert "nbq-standby" in lab.role_output, lab.role_output[-3000:]
    returncode, output = lab.bringup("--limit", "kea_db", "--tags", "deploy,apply")
    assert returncode == 0, output[-4000:]
    changed = [block.split("]")[0] for block in output.split("\nTASK [")[1:] if "\nchanged:" in block]
    assert changed == ["Write the bring-up report"], changed  # a record of the run, written every time
    with lab.primary.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT application_name, sync_state FROM pg_stat_replication")
        assert cursor.fetchall() == [("nbq_standby", "quorum")]


def test_reservations_come_from_the_database_and_a_sync_is_served_without_a_drain(lab, tmp_path):
    lab.use("postgresql")
    machine = next(m for m in lab.sot.machines if m.ipv4 and m.network == "rack12")
    for node in lab.nodes:
        assert kea_lab.dora4(node.topology.cli, GIADDR, machine.mac)["yiaddr"] == machine.ipv4
    new_mac, new_address = "02:51:0a:00:00:01", "198.51.100.40"
    assert clients.lease4(lab.nodes[0].topology.cli, GIADDR, new_mac) != new_address
    sot_dir = tmp_path / "sot"
    shutil.copytree(lab.sot_path, sot_dir)
    with open(sot_dir / "machines.yml") as handle:
        data = yaml.safe_load(handle)
    data["machines"].append(dict(next(m for m in data["machines"] if m.get("ipv4")), name="nbq-new", mac=new_mac,
                                 ipv4=new_address, ipv6=None, duid=None, network="rack12",
                                 bmc={"address": "127.0.0.1", "port": 19050, "protocol": "ipmi"}))
    data["machines"][-1] = {key: value for key, value in data["machines"][-1].items() if value is not None}
    with open(sot_dir / "machines.yml", "w") as handle:
        yaml.safe_dump(data, handle)
    lab.sot_path = str(sot_dir)
    configs = [node.daemons["dhcp4"].pid for node in lab.nodes]
    returncode, output = lab.playbook("sync.yml", "--limit", "kea_db")
    assert returncode == 0, output[-4000:]
    assert "Drain" not in output and "changed=1" in output.split("PLAY RECAP")[-1], output[-3000:]
    for node in lab.nodes:
        assert kea_lab.dora4(node.topology.cli, GIADDR, new_mac)["yiaddr"] == new_address
    assert [node.daemons["dhcp4"].pid for node in lab.nodes] == configs


def wait(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_database_gone_withdraws_both_nodes_and_back_announces_them(lab):
    lab.use("postgresql")
    for node in lab.nodes:
        assert health_check(lab, node)[0]
    lab.primary.ctl("stop", "-m", "fast")
    try:
        for node in lab.nodes:
            healthy, results = health_check(lab, node)
            # The probe's DISCOVER needs a lease lookup: no database, no OFFER, the route is withdrawn.
            assert not healthy and results[-1].check == "dhcp4", results
            assert clients.lease4(node.topology.cli, GIADDR, mac(5, 0), timeout=1.0) is None
    finally:
        lab.primary.start()
    for node in lab.nodes:
        # Kea reconnects by itself (max-reconnect-tries x reconnect-wait-time): announced again.
        assert wait(lambda: health_check(lab, node)[0], 40), health_check(lab, node)[1]
        assert all(process.alive() for process in node.daemons.values())
    assert clients.lease4(lab.nodes[0].topology.cli, GIADDR, mac(5, 1))


def test_a_drained_node_restarted_on_the_tested_file_serves_the_new_configuration(lab):
    """sync.yml's apply on a drained node: kea_config set=false tests and writes, the running Kea is left
    alone until the restart, which starts it on the new file."""
    lab.use("postgresql")
    before = lab.use("memfile", restart=True)
    assert [config["Dhcp4"]["lease-database"]["type"] for config in before] == ["postgresql", "postgresql"]
    for index, node in enumerate(lab.nodes):
        running = kea_lab.control(node.socket("dhcp4"), "config-get")["arguments"]["Dhcp4"]
        assert running["lease-database"]["type"] == "memfile"
        assert clients.lease4(node.topology.cli, GIADDR, mac(6, index))


def test_primary_crash_then_promotion_kea_follows_and_no_acknowledged_lease_is_lost(lab):
    lab.use("postgresql")
    with clients.LeaseLoop(lab.nodes, LINK6) as loop:
        assert wait(lambda: len(loop.acks) >= 20, 30), loop.acks
        lab.primary.crash()
        crashed = time.monotonic()  # its last process is gone
        returncode, output = lab.promote_standby()
        assert returncode == 0, output[-4000:]
        assert wait(lambda: loop.acks[-1][0] > crashed, 60), "no lease after the failover"
        # Service is back at the first lease whose exchange began after the crash.
        resumed = min(ack[1] for ack in loop.acks if ack[0] > crashed)
        served_after = len(loop.acks)
        assert wait(lambda: len(loop.acks) >= served_after + 10, 30)
    print("failover: first lease %.2f s after the primary crashed" % (resumed - crashed))
    with lab.standby.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        assert cursor.fetchone() == (False,)
        cursor.execute("SELECT address FROM lease6")
        stored = {str(row[0]) for row in cursor.fetchall()}
    acknowledged = {ack[3] for ack in loop.acks}
    assert acknowledged <= stored, sorted(acknowledged - stored)
    assert len(acknowledged) == len(loop.acks), "an address leased twice"
    assert any(ack[0] > crashed for ack in loop.acks) and any(ack[1] < crashed for ack in loop.acks)
