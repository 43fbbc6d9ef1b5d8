"""Groups and host variables of the netboot.fleet.sot plugin on a generated SoT of three racks."""

import yaml

from conftest import MACHINES, ansible


def test_every_group_holds_the_machines_the_sot_puts_there(generated, plugin_list):
    fleet = generated[1]
    expected = {"dhcp_nodes": sorted(node.name for node in fleet.dhcp_nodes)}
    for machine in fleet.machines:
        expected.setdefault(machine.network, []).append(machine.name)
        expected.setdefault("profile_" + machine.profile, []).append(machine.name)
        expected.setdefault("rack_" + machine.rack, []).append(machine.name)
    assert len(fleet.networks) == 3 and len(fleet.machines) == MACHINES
    for group, hosts in expected.items():
        assert sorted(plugin_list[group]["hosts"]) == sorted(hosts), group
    # Network groups nest under "machines", which holds no host directly; nothing is left ungrouped.
    assert sorted(plugin_list["machines"]["children"]) == sorted(network.name for network in fleet.networks)
    assert "hosts" not in plugin_list["machines"]
    assert "ungrouped" not in plugin_list or not plugin_list["ungrouped"].get("hosts")


def test_each_host_has_its_address_and_record(generated, plugin_list):
    fleet = generated[1]
    hostvars = plugin_list["_meta"]["hostvars"]
    assert len(hostvars) == MACHINES + len(fleet.dhcp_nodes)
    for record in (*fleet.machines, *fleet.dhcp_nodes):
        assert hostvars[record.name]["ansible_host"] == record.address
        assert hostvars[record.name]["netboot"] == record.as_dict()
        assert hostvars[record.name]["netboot_sot_source"] == str(generated[0] / "sot.json")
    # A dual-stack machine is reached over IPv4, an IPv6-only one over IPv6.
    assert {":" in hostvars[machine.name]["ansible_host"] for machine in fleet.machines} == {True, False}


def test_a_machine_is_in_its_network_profile_rack_and_machines(generated):
    machine = generated[1].machines[-1]
    result = ansible("ansible", machine.name, "-i", str(generated[0] / "fleet.sot.yml"), "-c", "local",
                     "-m", "ansible.builtin.debug", "-a", "var=group_names")
    assert result.returncode == 0, result.stderr
    # Whatever the stdout callback, what follows "=>" is the variable as YAML (JSON is YAML too).
    names = yaml.safe_load(result.stdout.split("=>", 1)[1])["group_names"]
    assert names == sorted([machine.network, "machines", "profile_" + machine.profile, "rack_" + machine.rack])


def test_limit_to_machines_reaches_every_machine(generated):
    result = ansible("ansible", "machines", "-i", str(generated[0] / "fleet.sot.yml"), "--list-hosts")
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.split()[2:]) == sorted(machine.name for machine in generated[1].machines)


def test_graph_is_the_same_whatever_the_hash_seed(generated, monkeypatch):
    graphs = set()
    for seed in ("1", "2", "3", "4"):
        # String hashes, and so the order of a set of group names, change with the seed.
        monkeypatch.setenv("PYTHONHASHSEED", seed)
        result = ansible("ansible-inventory", "-i", str(generated[0] / "fleet.sot.yml"), "--graph")
        assert result.returncode == 0, result.stderr
        graphs.add(result.stdout)
    assert len(graphs) == 1
