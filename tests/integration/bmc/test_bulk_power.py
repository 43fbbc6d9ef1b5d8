"""bulk_power: the same per-machine results as ipmi_boot + ipmi_power, from one controller task.

Against OpenIPMI's ipmi_sim (the per-host modules' reference BMC) and, for a BMC that never
answers among live ones, the BMC farm of lab/bmc_farm.py (pyghmi's BMC server).
"""

from __future__ import annotations

import json
import os
import sys

import bmc_lab
from bmc_lab import REPO, ipmi_record

sys.path.insert(0, os.path.join(REPO, "lab"))
import bmc_farm  # noqa: E402

BULK_PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - netboot.fleet.bulk_power:
        state: "{{ power_state }}"
        boot_device: "{{ boot_device | default(omit) }}"
        parallel: "{{ parallel | default(50) }}"
        timeout: "{{ bmc_timeout | default(10) }}"
        retries: 0
      run_once: true
      register: bulk
    - ansible.builtin.copy:
        content: "{{ bulk | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
      run_once: true
      delegate_to: localhost
      check_mode: false
"""
# What depends on timing, not on what was decided.
TIMING = ("elapsed", "finished")
# States in an order that exercises every decision from a machine that is off.
STATES = ["status", "on", "on", "boot", "cycle", "shutdown", "off", "off"]


def comparable(result):
    return dict((key, value) for key, value in result.items()
                if key not in TIMING + ("status", "invocation", "warnings", "bmc"))


def bulk(ansible_playbook, tmp_path, hosts, *extra):
    playbook, out = tmp_path / "bulk.yml", tmp_path / "bulk.json"
    playbook.write_text(BULK_PLAY)
    run = ansible_playbook(hosts, str(playbook), "-e", "out=%s" % out, *extra)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(out.read_text()), run


def test_same_results_as_the_per_host_module(ipmi_sims, inventory, ansible, ansible_playbook, tmp_path):
    per_host = [ipmi_sims() for dummy in range(2)]
    in_bulk = [ipmi_sims() for dummy in range(2)]
    per_host_hosts = inventory(dict(("m%d" % i, ipmi_record(sim)) for i, sim in enumerate(per_host)))
    os.rename(per_host_hosts, str(tmp_path / "per-host.yml"))
    bulk_hosts = inventory(dict(("m%d" % i, ipmi_record(sim)) for i, sim in enumerate(in_bulk)))
    for state in STATES:
        single = ansible(str(tmp_path / "per-host.yml"), "netboot.fleet.ipmi_power", "state=%s retries=0" % state)
        many, dummy = bulk(ansible_playbook, tmp_path, bulk_hosts, "-e", "power_state=%s" % state)
        for index, name in enumerate(("m0", "m1")):
            assert comparable(many["machines"][name]) == comparable(single[name]), state
            assert in_bulk[index].power == per_host[index].power, state
            assert in_bulk[index].actions() == per_host[index].actions(), state
        assert many["failed_hosts"] == []
        assert many["changed"] == any(single[name]["changed"] for name in ("m0", "m1"))


def test_boot_device_then_power_and_check_mode(ipmi_sims, inventory, ansible_playbook, tmp_path):
    sims = [ipmi_sims() for dummy in range(2)]
    hosts = inventory(dict(("m%d" % i, ipmi_record(sim)) for i, sim in enumerate(sims)))
    checked, dummy = bulk(ansible_playbook, tmp_path, hosts, "-e", "power_state=on boot_device=network", "--check")
    assert all(sim.actions() == [] and sim.power == "off" for sim in sims)
    assert checked["machines"]["m0"]["action"] == "on" and checked["changed"] is True
    done, run = bulk(ansible_playbook, tmp_path, hosts, "-e", "power_state=on boot_device=network")
    for name, sim in zip(("m0", "m1"), sims):
        outcome = done["machines"][name]
        assert (outcome["previous_state"], outcome["power_state"], outcome["boot"]["boot"]["device"]) == \
            ("off", "on", "network")
        assert sim.power == "on" and sim.boot == "pxe"
    # ipmi_sim never marks boot flags valid: the per-host warning, once per machine, named
    assert "m0: BMC IPMI 127.0.0.1:%d does not mark its boot flags valid" % sims[0].port in run.stderr


def test_a_dead_bmc_fails_alone_and_no_secret_is_shown(inventory, ansible_playbook, tmp_path):
    first = bmc_lab.free_port()
    farm = bmc_farm.Farm(str(tmp_path / "farm"), first, 6, bmc_lab.USERNAME, bmc_lab.PASSWORD,
                         dead={first + 2}).start()
    try:
        hosts = inventory(dict(("m%d" % i, {"address": "127.0.0.1", "protocol": "ipmi", "port": port})
                               for i, port in enumerate(farm.ports)))
        done, run = bulk(ansible_playbook, tmp_path, hosts,
                         "-e", "power_state=on boot_device=network parallel=2 bmc_timeout=3", "-vvvv")
    finally:
        states = farm.stop()
    assert done["failed_hosts"] == ["m2"]
    dead = done["machines"]["m2"]
    assert (dead["stage"], dead["bmc_error"]) == ("boot_device", "unreachable"), dead
    assert "no answer after" in dead["msg"]
    for index, port in enumerate(farm.ports):
        if index != 2:
            assert done["machines"]["m%d" % index]["power_state"] == "on"
            assert states[port] == {"power": "on", "boot": "network", "requests": ["boot network", "on"]}
    assert bmc_lab.PASSWORD not in run.stdout + run.stderr
