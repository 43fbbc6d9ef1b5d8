"""bringup.yml in the database mode on the same lab (issue 19): both machines installed and booted from disk
with their reservations and leases in the shared PostgreSQL database.

`netboot_lab.py up --database postgresql` adds the mode's PostgreSQL hosts to the running lab (db1, db2: a
namespace and a container each, behind the rack switch) and writes its inventory; bringup.yml with that
inventory deploys the primary (kea_hostsdb) and its synchronous standby (kea_db_replication), writes the
reservations with kea_hosts, switches both Kea nodes to the database (config-set, no restart) and reinstalls
both machines; the report shows every step, the lease too (read from Kea's journal: no lease file in this
mode). Checked beyond the report: Kea's running configuration holds no reservation (they come from the
database), each machine's lease is a row of the primary's lease4 table with its reserved address, and the
standby streams synchronously and holds the same rows. Reuses the session's lab after the memfile test (the
machines are marked for reinstall): the added time is the database plays, the nodes' new configuration and
one install of both machines.
"""

from __future__ import annotations

import json
import os
import time

from conftest import PREFIX, lab_command

from ansible_collections.netboot.fleet.plugins.module_utils.sot import route
from test_bringup_e2e import MACHINES, NODES, SOT, assert_booted, bringup, machine_rows, mark_for_reinstall, podman


def psql(database_host, query):
    """One query on a database host of the lab as the postgres user (peer authentication), rows as lists."""
    out = podman("exec", "--user", "postgres", "%s-%s" % (PREFIX, database_host), "psql", "-d", "kea", "-AtX",
                 "-F", "\t", "-c", query)
    return [line.split("\t") for line in out.splitlines()]


def kea_running_config(node):
    command = json.dumps({"command": "config-get"})
    out = podman("exec", "%s-%s" % (PREFIX, node), "python3", "-c",
                 "import socket,sys;s=socket.socket(socket.AF_UNIX);s.connect('/run/kea/kea4-ctrl-socket');"
                 "s.sendall(sys.argv[1].encode());print(b''.join(iter(lambda:s.recv(65536),b'')).decode())", command)
    return json.loads(out)["arguments"]["Dhcp4"]


def test_database_mode_installs_both_machines_from_the_shared_database(e2e_lab):
    lab_dir = e2e_lab
    # As the memfile test: conftest copies the inventory afresh for a moved lab, a cache of an earlier copy is stale.
    cache_file = route.cache_file_of(SOT)
    if os.path.exists(cache_file):
        os.unlink(cache_file)
    up = lab_command("up", "--sot", SOT, "--database", "postgresql")
    print(up.stdout)
    assert up.returncode == 0, "lab up --database postgresql failed:\n%s\n%s" % (up.stdout, up.stderr)
    database_inventory = os.path.join(lab_dir, "database.yml")
    assert oct(os.stat(database_inventory).st_mode & 0o777) == "0o600"
    # Installed by the memfile test before this one; on a lab of its own (this test alone) they are new.
    mark_for_reinstall(lab_dir, *MACHINES, installed=False)
    started = time.time()
    # The exporters are the memfile run's and unchanged (node_metrics): skipped, the run is long enough.
    report = bringup(lab_dir, os.path.join(lab_dir, "reports", "database"), "-i", database_inventory,
                     "-e", "bringup_node_metrics=false")
    rows = machine_rows(report)
    for name in MACHINES:
        # Every step, the lease too: the wait stage reads it from Kea's journal (no lease file in this mode).
        assert_booted(lab_dir, rows, name, started)

    # Reservations and leases are the database's, not the nodes'.
    for node in NODES:
        dhcp4 = kea_running_config(node)
        assert dhcp4["lease-database"]["type"] == "postgresql"
        assert all(not subnet.get("reservations") for subnet in dhcp4["subnet4"]), node
    reserved = psql("db1", "SELECT host(inet '0.0.0.0' + ipv4_address) FROM hosts WHERE ipv4_address IS NOT NULL")
    leased = dict(psql("db1", "SELECT encode(hwaddr, 'hex'), host(inet '0.0.0.0' + address) FROM lease4"))
    for name, (_firmware, mac, address) in MACHINES.items():
        assert [address] in reserved, (name, reserved)
        assert leased.get(mac.replace(":", "")) == address, (name, leased)
    # Every acknowledged lease is on the synchronous standby too.
    assert psql("db1", "SELECT application_name, sync_state FROM pg_stat_replication") == [["kea_db2", "quorum"]]
    assert psql("db2", "SELECT pg_is_in_recovery()") == [["t"]]
    standby = dict(psql("db2", "SELECT encode(hwaddr, 'hex'), host(inet '0.0.0.0' + address) FROM lease4"))
    assert {mac: standby.get(mac) for mac in leased} == leased
