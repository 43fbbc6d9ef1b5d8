"""Fixtures for the netboot.fleet.sot inventory plugin tests: a small generated SoT and ansible-inventory runs."""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BENCHMARKS = os.path.join(REPO, "benchmarks")
BIN = os.path.dirname(sys.executable)
for path in (os.path.join(REPO, "collections"), BENCHMARKS):
    if path not in sys.path:
        sys.path.insert(0, path)

# 90 machines in racks of 40: three networks (the last one partly filled), the first one dual-stack.
MACHINES = 90


def ansible(tool, *args):
    """Run an Ansible command from the checkout, with the benchmark's floor plugin enabled next to ours."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_INVENTORY_PLUGINS=os.path.join(BENCHMARKS, "floor_plugin"),
               ANSIBLE_INVENTORY_ENABLED="netboot.fleet.sot,floor,yaml")
    return subprocess.run([os.path.join(BIN, tool), *args], cwd=REPO, capture_output=True, text=True, check=False,
                          env=env, timeout=300)


def inventory_list(config):
    """`ansible-inventory --list` as data, with Ansible 2.19's {"__ansible_unsafe": value} wrappers removed."""
    result = ansible("ansible-inventory", "-i", str(config), "--list")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout, object_hook=lambda obj: obj.get("__ansible_unsafe", obj))


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """(workdir, loaded Sot) of a generated SoT, with plugin and floor configurations next to it."""
    from sot_gen import write_sot
    from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot

    workdir = tmp_path_factory.mktemp("generated")
    source = write_sot(str(workdir / "sot.json"), MACHINES, rack_size=40, dual_stack_racks=1)
    (workdir / "fleet.sot.yml").write_text(json.dumps({"plugin": "netboot.fleet.sot", "source": source}))
    (workdir / "fleet.floor.yml").write_text(json.dumps({"plugin": "floor", "source": source}))
    return workdir, sot.load(source)


@pytest.fixture(scope="session")
def plugin_list(generated):
    return inventory_list(generated[0] / "fleet.sot.yml")
