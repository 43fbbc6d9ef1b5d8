"""The plugin tags host variables with the Origin of their SoT file: plays see the same values, with better provenance."""

import json
import os

import pytest
import yaml

from conftest import ansible, inventory_list

# Runs an Ansible CLI with the plugin's tagging off, as on an ansible-core without Origin: Ansible then tags every
# value itself, naming the configuration file - the plugin's behaviour before it tagged values.
UNTAGGED = """
import sys
from ansible.cli.adhoc import AdHocCLI
from ansible.cli.inventory import InventoryCLI
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader()
from ansible_collections.netboot.fleet.plugins.inventory import sot
sot.Origin = None
{"ansible": AdHocCLI, "ansible-inventory": InventoryCLI}[sys.argv[1]].cli_executor(sys.argv[1:])
"""

ORIGIN = "ansible._protomatter.origin"


def run(tool, *args, tagged=True):
    result = ansible(tool, *args) if tagged else ansible("python", "-c", UNTAGGED, tool, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def origins(config, host, *expressions, tagged=True):
    """The Origin (as text) of each expression, templated for host by an ad-hoc task."""
    listed = ", ".join("(%s) | %s" % (expression, ORIGIN) for expression in expressions)
    stdout = run("ansible", host, "-i", str(config), "-c", "local", "-m", "ansible.builtin.debug",
                 "-a", "msg={{ [%s] }}" % listed, tagged=tagged)
    # Whatever the stdout callback, what follows "=>" is the result as YAML (JSON is YAML too).
    return yaml.safe_load(stdout.split("=>", 1)[1])["msg"]


@pytest.fixture(scope="module")
def constructed(generated):
    """A configuration that also runs compose, groups and keyed_groups on the tagged values."""
    config = generated[0] / "constructed.sot.yml"
    config.write_text(json.dumps({
        "plugin": "netboot.fleet.sot", "source": str(generated[0] / "sot.json"),
        "compose": {"boot_mac": "netboot.mac", "reach": "ansible_host ~ '/' ~ netboot.network"},
        "groups": {"dual_stack": "netboot.ipv4 is defined and netboot.ipv6 is defined"},
        "keyed_groups": [{"key": "netboot.firmware", "prefix": "fw"}, {"key": "netboot.bmc.protocol", "prefix": "bmc"}],
    }))
    return config


@pytest.mark.parametrize("config_name", ["fleet.sot.yml", "constructed.sot.yml"])
def test_output_is_the_same_as_without_tagging(generated, constructed, config_name):
    config = str(generated[0] / config_name)
    machine, node = generated[1].machines[-1].name, generated[1].dhcp_nodes[0].name
    for args in (["--list"], ["--graph"], ["--host", machine], ["--host", node]):
        assert run("ansible-inventory", "-i", config, *args) == run("ansible-inventory", "-i", config, *args, tagged=False), args


def test_constructed_options_see_the_tagged_values(generated, constructed):
    listed = inventory_list(constructed)
    machines = generated[1].machines
    for record in machines:
        assert listed["_meta"]["hostvars"][record.name]["boot_mac"] == record.mac
        assert listed["_meta"]["hostvars"][record.name]["reach"] == record.address + "/" + record.network
    assert sorted(listed["dual_stack"]["hosts"]) == sorted(record.name for record in machines if record.ipv4 and record.ipv6)
    assert sorted(listed["bmc_ipmi"]["hosts"]) == sorted(record.name for record in machines if record.bmc.protocol == "ipmi")
    for firmware in ("bios", "uefi"):
        assert sorted(listed["fw_" + firmware]["hosts"]) == sorted(record.name for record in machines if record.firmware == firmware)


def test_host_variables_name_their_sot_file(generated):
    workdir, fleet = generated
    machine, node = fleet.machines[-1], fleet.dhcp_nodes[0]
    config = workdir / "fleet.sot.yml"
    sot_file = str(workdir / "sot.json")
    expressions = ("ansible_host", "netboot.name", "netboot.mac", "netboot.network", "netboot.profile", "netboot.bmc.protocol")
    assert origins(config, machine.name, *expressions) == [sot_file] * len(expressions)
    assert origins(config, node.name, "ansible_host", "netboot.peers[0].address") == [sot_file] * 2
    # Without the plugin's tags Ansible names the configuration file: the comparison above is against real untagged output.
    assert all(str(config) in origin for origin in origins(config, machine.name, *expressions, tagged=False))


def test_cached_hosts_are_tagged_and_an_older_entry_is_rebuilt(generated, tmp_path):
    workdir, fleet = generated
    machine = fleet.machines[0]
    config = tmp_path / "cached.sot.yml"
    config.write_text(json.dumps({"plugin": "netboot.fleet.sot", "source": str(workdir / "sot.json"), "cache": True,
                                  "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(tmp_path / "cache")}))
    fresh = run("ansible-inventory", "-i", str(config), "--list")
    assert fresh == run("ansible-inventory", "-i", str(workdir / "fleet.sot.yml"), "--list")
    (entry,) = (tmp_path / "cache").iterdir()

    def rewrite_cached_mac(mac, drop_format=False):
        wrapper = json.loads(entry.read_text())
        cached = json.loads(wrapper["__payload__"])
        next(host for host in cached["hosts"] if host[0] == machine.name)[4]["mac"] = mac
        if drop_format:
            del cached["format"]
        wrapper["__payload__"] = json.dumps(cached)
        entry.write_text(json.dumps(wrapper))

    # The cached entry is what the plugin uses, and its values are tagged like freshly loaded ones.
    rewrite_cached_mac("02:00:00:00:00:01")
    assert origins(config, machine.name, "netboot.mac") == [str(workdir / "sot.json")]
    assert json.loads(run("ansible-inventory", "-i", str(config), "--host", machine.name))["netboot"]["mac"] == "02:00:00:00:00:01"
    # An entry in the shape of an older version of the plugin is rebuilt from the SoT.
    rewrite_cached_mac("02:00:00:00:00:02", drop_format=True)
    assert run("ansible-inventory", "-i", str(config), "--list") == fresh
    assert os.listdir(tmp_path / "cache") == [entry.name]
