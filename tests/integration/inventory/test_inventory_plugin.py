"""The inventory plugin through the real ansible-inventory / ansible-doc commands."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BIN = os.path.dirname(sys.executable)
CORPUS = os.path.join(REPO, "tests", "sot_corpus")


def ansible(tool, *args, env=None):
    return subprocess.run([os.path.join(BIN, tool), *args], cwd=REPO, capture_output=True, text=True, check=False,
                          env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), **(env or {})),
                          timeout=300)


def inventory_list(*args):
    """`ansible-inventory --list` as data. Ansible 2.19 marks values from inventory plugins as not
    trusted for templating ({"__ansible_unsafe": value}): unwrap them to compare."""
    result = ansible("ansible-inventory", *args, "--list")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout, object_hook=lambda obj: obj.get("__ansible_unsafe", obj))


def inventory_config(tmp_path, source, **options):
    path = tmp_path / "test.sot.yml"
    path.write_text(yaml.safe_dump(dict(plugin="netboot.fleet.sot", source=str(source), **options)))
    return str(path)


def test_embedded_default_groups():
    data = inventory_list("-i", "inventory/")
    assert sorted(data["dhcp_nodes"]["hosts"]) == ["dhcp-a1", "dhcp-a2"]
    assert sorted(data["machines"]["children"]) == ["rack12", "rack13"]
    assert sorted(data["rack12"]["hosts"]) == ["img-server1", "img-server2", "web1"]
    assert data["rack13"]["hosts"] == ["v6-worker1"]
    assert sorted(data["profile_minimal"]["hosts"]) == ["img-server1", "img-server2", "v6-worker1", "web1"]
    assert sorted(data["rack_r12"]["hosts"]) == ["img-server1", "img-server2", "web1"]
    hostvars = data["_meta"]["hostvars"]
    assert hostvars["v6-worker1"]["ansible_host"] == "2001:db8:13::10"
    assert hostvars["web1"]["netboot"]["bmc"] == {"address": "127.0.0.1", "port": 16233, "protocol": "ipmi"}
    assert hostvars["dhcp-a1"]["netboot"]["peers"][0]["asn"] == 65000
    assert hostvars["web1"]["netboot_sot_source"] == os.path.join(REPO, "inventory", "sot")


def test_graph_shows_network_groups_under_machines():
    result = ansible("ansible-inventory", "-i", "inventory/", "--graph", "machines")
    assert result.returncode == 0, result.stderr
    assert "@rack12:" in result.stdout and "|--v6-worker1" in result.stdout


def test_limit_to_a_network():
    result = ansible("ansible", "rack13", "-i", "inventory/", "--list-hosts")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "v6-worker1"


@pytest.mark.parametrize("name", sorted(os.listdir(os.path.join(CORPUS, "bad"))))
def test_invalid_sot_fails_with_the_report(tmp_path, name):
    with open(os.path.join(CORPUS, "expected.yml"), encoding="utf-8") as handle:
        expected = yaml.safe_load(handle)[name]
    result = ansible("ansible-inventory", "-i", inventory_config(tmp_path, os.path.join(CORPUS, "bad", name)), "--list")
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    output = " ".join(result.stderr.split())
    for line in expected:
        assert " ".join(line.split()) in output


def test_constructed_options(tmp_path):
    config = inventory_config(tmp_path, os.path.join(REPO, "inventory", "sot"),
                              compose={"boot_mac": "netboot.mac"},
                              keyed_groups=[{"key": "netboot.firmware", "prefix": "fw"}],
                              groups={"ipv6_capable": "netboot.ipv6 is defined"})
    data = inventory_list("-i", config)
    assert data["_meta"]["hostvars"]["web1"]["boot_mac"] == "52:54:00:12:00:03"
    assert data["fw_uefi_http"]["hosts"] == ["web1"]
    assert sorted(data["ipv6_capable"]["hosts"]) == ["img-server1", "v6-worker1", "web1"]


def test_cache_is_used_and_invalidated_by_a_change(tmp_path):
    source = tmp_path / "sot"
    shutil.copytree(os.path.join(REPO, "inventory", "sot"), source)
    config = inventory_config(tmp_path, source, cache=True, cache_plugin="ansible.builtin.jsonfile",
                              cache_connection=str(tmp_path / "cache"))
    inventory_list("-i", config)
    assert os.listdir(tmp_path / "cache")
    # A cached entry is only used while the source files are unchanged.
    machines = source / "machines.yml"
    machines.write_text(machines.read_text().replace("name: web1", "name: web2"))
    second = inventory_list("-i", config)
    assert "web2" in second["_meta"]["hostvars"] and "web1" not in second["_meta"]["hostvars"]


def test_ansible_doc_renders():
    result = ansible("ansible-doc", "-t", "inventory", "netboot.fleet.sot")
    assert result.returncode == 0, result.stderr
    assert "source of truth" in result.stdout
