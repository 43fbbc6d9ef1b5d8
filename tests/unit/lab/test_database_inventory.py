"""The embedded lab's database mode inventory (lab/netboot_lab.py up --database postgresql): what bringup.yml reads
beside inventory/ (the Makefile's `-i inventory/ -i <state>/lab-<prefix>/database.yml`)."""

import json
import os
import stat
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "lab"))

import netboot_lab  # noqa: E402


def test_the_mode_inventory_adds_the_database_group_and_the_nodes_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("NBF_WORK", str(tmp_path))
    monkeypatch.setattr(netboot_lab, "STATE_ROOT", str(tmp_path))
    lab = netboot_lab.Lab("u19", os.path.join(REPO, "inventory", "sot"), database="postgresql")
    os.makedirs(lab.dir)
    lab.write_database_inventory(lab.sot())
    path = lab.database_inventory()
    passwords = os.path.join(lab.dir, "database-passwords.json")
    for secret in (path, passwords):
        assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    with open(passwords) as source:
        made = json.load(source)
    assert len(set(made.values())) == 4 and all(len(value) >= 24 for value in made.values())
    lab.write_database_inventory(lab.sot())  # the next `up` keeps the lab's passwords
    with open(passwords) as source:
        assert json.load(source) == made

    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-inventory"), "-i",
                             os.path.join(REPO, "inventory"), "-i", path, "--list"], cwd=REPO, capture_output=True,
                            text=True, check=False, timeout=300,
                            env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")))
    assert result.returncode == 0, result.stderr
    inventory = json.loads(result.stdout, object_hook=lambda obj: obj.get("__ansible_unsafe", obj))
    hostvars = inventory["_meta"]["hostvars"]
    assert sorted(inventory["kea_db"]["hosts"]) == ["kea-db1", "kea-db2"]
    primary, standby = hostvars["kea-db1"], hostvars["kea-db2"]
    assert (primary["kea_db_replication_role"], standby["kea_db_replication_role"]) == ("primary", "standby")
    assert primary["kea_db_replication_standbys"] == ["kea_db2"]  # the standby's default application_name
    assert standby["kea_db_replication_primary"] == "192.0.2.101"
    assert (primary["ansible_ssh_host"], standby["ansible_ssh_host"]) == ("u19-db1", "u19-db2")
    assert primary["kea_hostsdb_lease_networks"] == ["192.0.2.1/32", "192.0.2.3/32"]  # the SoT's node addresses
    for node in ("dhcp-a1", "dhcp-a2"):
        variables = hostvars[node]
        assert variables["netboot_dhcp_database"] == "postgresql"
        assert variables["kea_dhcp_hosts_db_host"] == "192.0.2.101,192.0.2.103"
        assert variables["kea_dhcp_lease_db_password"] == made["leases"]
        assert variables["kea_dhcp_hosts_db_password"] == made["reader"]
        # The lab's connection to the node containers (group_vars/dhcp_nodes/lab.yml) is still there.
        assert variables["ansible_connection"] == "netboot.fleet.podman_pipelined"
