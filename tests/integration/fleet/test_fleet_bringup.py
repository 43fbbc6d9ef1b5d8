# -*- coding: utf-8 -*-
"""bringup.yml on 100 simulated machines (lab/fleet_sim.py): relayed DHCPv4/DHCPv6 to two real Kea nodes,
TFTP/HTTP loaders, scripts, answer files and callbacks, with failures on purpose. Every machine the
simulator did not fail for good ends booted from its disk; the dead BMCs' machines fail at power.

Takes about 3 minutes (the installs last INSTALL_SECONDS, the retried machines wait for their timeouts).
NBF_SIM_PREFIX / NBF_SIM_BMC_PORT move the namespaces and the 100 BMC ports (default nbs, 16400-16499).
"""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, os.pardir))
sys.path.insert(0, os.path.join(REPO, "lab"))

import fleet_sim  # noqa: E402

MACHINES = 100


@pytest.fixture(name="sim", scope="module")
def sim_fixture():
    reason = fleet_sim.missing()
    if reason:
        pytest.skip(reason)
    sim = fleet_sim.FleetSim(os.environ.get("NBF_SIM_PREFIX", "nbs"), MACHINES, int(os.environ.get("NBF_SIM_BMC_PORT", "16400")),
                             no_dhcp=0.03, lost_fetch=0.03, dead_bmcs=2)
    try:
        yield sim.up()
    finally:
        sim.down(quiet=True)
        shutil.rmtree(sim.work, ignore_errors=True)


def test_every_machine_not_failed_on_purpose_boots_from_disk(sim):
    ansible = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    started = time.monotonic()
    done = subprocess.run([ansible, "-i", sim.path("inventory"), os.path.join(REPO, "playbooks", "bringup.yml"),
                           "--tags", "validate,power,wait,report", "-f", "10", "-e", json.dumps(sim.playbook_vars())],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    elapsed = time.monotonic() - started
    with open(sim.path("reports", "latest.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    states = {row["name"]: row["status"] for row in report["machines"]}
    dead = sim.expected_failures()
    assert len(dead) == 2 and sim.faulted(), "the draw must fail some machines on purpose"
    assert done.returncode == 2, done.stdout[-3000:]  # the dead BMCs' machines failed: the run says so
    assert sorted(name for name, state in states.items() if state != "booted") == sorted(dead), (
        {name: state for name, state in states.items() if state != "booted"}, elapsed)
    assert len(states) == MACHINES
    # Retried machines: a second boot; the rest booted the network once and the disk once.
    machines = sim.farm_states()
    assert all(machines[name]["boots"] >= 3 for name in sim.faulted() if name not in dead)
    assert sim.password not in done.stdout
