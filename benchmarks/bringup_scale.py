# -*- coding: utf-8 -*-
"""bringup.yml at fleet scale on simulated machines (lab/fleet_sim.py), and Ansible's per-host floor, in one run.

Brings up N simulated machines (relayed DHCPv4/v6 to two real Kea nodes, TFTP/HTTP, scripts, answer
files, callbacks) with `bringup.yml --tags validate,power,wait,report`, then times, in the same run:

  bring-up   playbook start -> every machine's own iPXE script fetched (the nodes' nginx logs), -> booted
             (the report), wall; controller CPU (ansible-playbook and its children: the DHCP nodes use the
             local connection, so their boot_events calls count too) per machine
  floor      the same inventory, a play of one debug task on every machine (Ansible's per-host floor), CPU
             per machine

and prints the ratio of the two CPU figures. Needs root; NBF_FARM_PASSWORD is not needed (a lab-only one).

    python benchmarks/bringup_scale.py --machines 1000 --prefix s20 --bmc-port 31000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
sys.path.insert(0, os.path.join(REPO, "lab"))

import fleet_sim  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import events as boot_events  # noqa: E402


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def playbook(sim, argv, variables=None):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", sim.path("inventory"), "-f", "10"]
    command += argv + (["-e", json.dumps(variables)] if variables else [])
    cpu, started = children_cpu(), time.time()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    return done, time.time() - started, children_cpu() - cpu, started


def scripts_fetched(sim):
    """{MAC: first time its own script was served} over both nodes' nginx logs."""
    first = {}
    for node in fleet_sim.NODES:
        with open(sim.path(node, "nginx", "netboot-pxe.log"), encoding="utf-8") as handle:
            for event in boot_events.http_events(handle.read().splitlines(), 0):
                if event["kind"] == "script" and boot_events.succeeded(event):
                    first[event["key"]] = min(event["time"], first.get(event["key"], event["time"]))
    return first


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=1000)
    parser.add_argument("--prefix", default="nbs")
    parser.add_argument("--bmc-port", type=int, default=16400)
    parser.add_argument("--no-dhcp", type=float, default=0.01)
    parser.add_argument("--lost-fetch", type=float, default=0.01)
    parser.add_argument("--dead-bmcs", type=int, default=2)
    args = parser.parse_args()
    reason = fleet_sim.missing()
    if reason:
        sys.exit("cannot run: %s" % reason)
    sim = fleet_sim.FleetSim(args.prefix, args.machines, args.bmc_port, no_dhcp=args.no_dhcp,
                             lost_fetch=args.lost_fetch, dead_bmcs=args.dead_bmcs)
    try:
        up = time.monotonic()
        sim.up()
        print("simulator up in %.1f s (%d machines, %d farm processes)" % (time.monotonic() - up, args.machines,
                                                                           len(sim.farm.processes)))
        done, wall, cpu, started = playbook(sim, [os.path.join(REPO, "playbooks", "bringup.yml"), "--tags",
                                                  "validate,power,wait,report"], sim.playbook_vars(bringup_poll_interval=5, bringup_bmc_timeout=10))
        fetched = scripts_fetched(sim)
        with open(sim.path("reports", "latest.json"), encoding="utf-8") as handle:
            states = {row["name"]: row["status"] for row in json.load(handle)["machines"]}
        machines = sim.farm_states()
        floor_play = sim.path("floor.yml")
        with open(floor_play, "w", encoding="utf-8") as handle:
            handle.write("- hosts: machines\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug:\n        msg: '{{ inventory_hostname }}'\n")
        _floor, floor_wall, floor_cpu, _start = playbook(sim, [floor_play])
    finally:
        sim.down(quiet=True)
    dead = sim.expected_failures()
    lost = sorted(name for name, state in states.items() if state != "booted" and name not in dead)
    last_script = max(fetched.values()) - started if fetched else float("nan")
    print("playbook rc %d, wall %.1f s; every script fetched after %.1f s (%d of %d machines)" % (
        done.returncode, wall, last_script, len(fetched), args.machines))
    print("booted %d, failed on purpose (dead BMC) %d, lost %d %s; first boots failed on purpose %d (retried)" % (
        sum(1 for state in states.values() if state == "booted"), len(dead), len(lost), lost[:10],
        len(sim.faulted())))
    print("controller CPU %.1f s = %.1f ms per machine; floor (one debug task per host) %.1f s = %.1f ms per machine "
          "(wall %.1f s); ratio %.1fx" % (cpu, 1000 * cpu / args.machines, floor_cpu, 1000 * floor_cpu / args.machines,
                                          floor_wall, cpu / floor_cpu))
    print("simulated machines: %d boots" % sum(machine["boots"] for machine in machines.values()))


if __name__ == "__main__":
    main()
