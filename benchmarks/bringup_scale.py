# -*- coding: utf-8 -*-
"""bringup.yml at fleet scale on simulated machines (lab/fleet_sim.py), and Ansible's per-host floor, in one run.

Brings up N simulated machines (relayed DHCPv4/v6 to two real Kea nodes, TFTP/HTTP, scripts, answer
files, callbacks) with `bringup.yml --tags validate,power,wait,report`, then times, in the same run:

  bring-up   playbook start -> every machine's own iPXE script fetched (the nodes' nginx logs), -> booted
             (the report), wall; CPU per machine of
               tree        ansible-playbook and all its children (a cpuacct cgroup)
               nodes       the DHCP nodes' module runs (boot_events, pxe_assets): the simulator's nodes use the
                           local connection, so they run on the controller here (on a real fleet, on the nodes);
                           their Python is a wrapper that moves them into a cgroup of their own
               controller  tree - nodes: what the controller itself spends
  floor      the same inventory, a play of one debug task on every machine (Ansible's per-host floor), CPU
             per machine, right after each bring-up

and prints the ratio controller / floor. --playbook again compares playbooks (e.g. an earlier commit's,
`git archive <commit> playbooks | tar -x -C /tmp/before`), each on a fresh simulator, in one run.
--tasks prints the CPU of the costliest tasks (benchmarks/task_cpu_plugin/). Needs root and cgroup v1
cpuacct; NBF_FARM_PASSWORD is not needed (a lab-only one).

    python benchmarks/bringup_scale.py --machines 1000 --prefix s20 --bmc-port 31000 [--tasks 15]
"""

from __future__ import annotations

import argparse
import collections
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

CPUACCT = "/sys/fs/cgroup/cpuacct"


class Cgroup:
    """A cgroup v1 cpuacct directory, made here and removed at close (its processes must have ended)."""

    def __init__(self, path):
        self.path = path
        os.makedirs(path, exist_ok=True)

    def usage(self):
        """CPU seconds used by everything that ran in it (and in its child cgroups)."""
        with open(os.path.join(self.path, "cpuacct.usage"), encoding="ascii") as handle:
            return int(handle.read()) / 1e9

    def join(self):
        """For subprocess preexec_fn: the child and all it starts go here."""
        with open(os.path.join(self.path, "cgroup.procs"), "w", encoding="ascii") as handle:
            handle.write(str(os.getpid()))

    def close(self):
        try:
            os.rmdir(self.path)
        except OSError as error:
            print("cgroup %s left behind: %s" % (self.path, error))


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def playbook(sim, argv, tree, nodes, variables=None, tasks_out=None):
    """Runs ansible-playbook in cgroup `tree`: (completed, wall, {"tree", "nodes", "controller", "rusage"} CPU s, start)."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    if tasks_out:
        env.update(ANSIBLE_CALLBACK_PLUGINS=os.path.join(REPO, "benchmarks", "task_cpu_plugin"),
                   ANSIBLE_CALLBACKS_ENABLED="task_cpu", NBF_TASK_CPU_TREE=tree.path, NBF_TASK_CPU_NODES=nodes.path,
                   NBF_TASK_CPU_OUT=tasks_out)
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", sim.path("inventory"), "-f", "10"]
    command += argv + (["-e", json.dumps(variables)] if variables else [])
    before = {"tree": tree.usage(), "nodes": nodes.usage(), "rusage": children_cpu()}
    started = time.time()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False,
                          preexec_fn=tree.join)  # pylint: disable=subprocess-popen-preexec-fn
    wall = time.time() - started
    cpu = {"tree": tree.usage() - before["tree"], "nodes": nodes.usage() - before["nodes"],
           "rusage": children_cpu() - before["rusage"]}
    cpu["controller"] = cpu["tree"] - cpu["nodes"]
    return done, wall, cpu, started


def scripts_fetched(sim):
    """{MAC: first time its own script was served} over both nodes' nginx logs."""
    first = {}
    for node in fleet_sim.NODES:
        with open(sim.path(node, "nginx", "netboot-pxe.log"), encoding="utf-8") as handle:
            for event in boot_events.http_events(handle.read().splitlines(), 0):
                if event["kind"] == "script" and boot_events.succeeded(event):
                    first[event["key"]] = min(event["time"], first.get(event["key"], event["time"]))
    return first


def load_average():
    with open("/proc/loadavg", encoding="ascii") as handle:
        return " ".join(handle.read().split()[:3])


def bring_up(args, play, tree, nodes, tasks_out):
    """One bring-up on a fresh simulator with `play`, then the floor on its inventory; the figures as a dict."""
    sim = fleet_sim.FleetSim(args.prefix, args.machines, args.bmc_port, no_dhcp=args.no_dhcp,
                             lost_fetch=args.lost_fetch, dead_bmcs=args.dead_bmcs, node_cgroup=nodes.path)
    try:
        up = time.monotonic()
        sim.up()
        print("simulator up in %.1f s (%d machines, %d farm processes)" % (time.monotonic() - up, args.machines,
                                                                           len(sim.farm.processes)))
        load = load_average()
        done, wall, cpu, started = playbook(sim, [play, "--tags", "validate,power,wait,report"], tree, nodes,
                                            sim.playbook_vars(bringup_poll_interval=5, bringup_bmc_timeout=10),
                                            tasks_out)
        fetched = scripts_fetched(sim)
        with open(sim.path("reports", "latest.json"), encoding="utf-8") as handle:
            rows = json.load(handle)["machines"]
        states = {row["name"]: row["status"] for row in rows}
        stages = {row["name"]: row["stage"] for row in rows}
        machines = sim.farm_states()
        floor_play = sim.path("floor.yml")
        with open(floor_play, "w", encoding="utf-8") as handle:
            handle.write("- hosts: machines\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug:\n        msg: '{{ inventory_hostname }}'\n")
        _floor, floor_wall, floor_cpu, _start = playbook(sim, [floor_play], tree, nodes)
    finally:
        sim.down(quiet=True)
    dead = sim.expected_failures()
    return {"play": play, "rc": done.returncode, "tail": done.stdout[-2000:], "wall": wall, "cpu": cpu, "load": load,
            "started": started, "fetched": fetched, "states": states, "stages": stages, "machines": machines, "dead": dead,
            "faulted": len(sim.faulted()), "floor_cpu": floor_cpu["tree"], "floor_wall": floor_wall}


def report(args, run):
    count, cpu, states = args.machines, run["cpu"], run["states"]
    lost = sorted(name for name, state in states.items() if state != "booted" and name not in run["dead"])
    last_script = max(run["fetched"].values()) - run["started"] if run["fetched"] else float("nan")
    print("== %s (load average at its start %s)" % (run["play"], run["load"]))
    print("playbook rc %d, wall %.1f s; every script fetched after %.1f s (%d of %d machines)" % (
        run["rc"], run["wall"], last_script, len(run["fetched"]), count))
    if run["rc"] not in (0, 2):
        print(run["tail"])
    print("booted %d, failed on purpose (dead BMC) %d, lost %d %s; first boots failed on purpose %d (retried)" % (
        sum(1 for state in states.values() if state == "booted"), len(run["dead"]), len(lost), lost[:10], run["faulted"]))
    if lost:
        print("lost at: %s" % ", ".join("%s %d" % (stage, count) for stage, count in sorted(
            collections.Counter(run["stages"][name] for name in lost).items())))
    print("CPU per machine: ansible-playbook tree %.1f ms (rusage %.1f ms) = controller %.1f ms + DHCP nodes' "
          "module runs %.1f ms" % tuple(1000 * cpu[key] / count for key in ("tree", "rusage", "controller", "nodes")))
    print("floor (one debug task per host) %.1f ms per machine (wall %.1f s); controller / floor %.1fx" % (
        1000 * run["floor_cpu"] / count, run["floor_wall"], cpu["controller"] / run["floor_cpu"]))
    print("simulated machines: %d boots" % sum(machine["boots"] for machine in run["machines"].values()))


def report_tasks(path, count, top):
    """The costliest tasks (summed over the inclusions of a task file), ms per machine."""
    with open(path, encoding="utf-8") as handle:
        rows = json.load(handle)
    totals = {}
    for row in rows:
        key = (row["play"], row["task"] or "(play start)")
        entry = totals.setdefault(key, {"runs": 0, "results": 0, "main_ns": 0, "workers_ns": 0, "nodes_ns": 0})
        entry["runs"] += 1
        for field in ("results", "main_ns", "workers_ns", "nodes_ns"):
            entry[field] += row[field]
    ranked = sorted(totals.items(), key=lambda item: -(item[1]["main_ns"] + item[1]["workers_ns"]))
    print("costliest tasks, controller ms per machine (main process + workers; DHCP nodes' modules apart):")
    print("%8s %8s %8s %8s %6s %7s  %s" % ("total", "main", "workers", "nodes", "runs", "results", "play / task"))
    for (play, task), entry in ranked[:top]:
        main, workers, nodes = (entry[field] / 1e6 / count for field in ("main_ns", "workers_ns", "nodes_ns"))
        row = (main + workers, main, workers, nodes, entry["runs"], entry["results"], play, task)
        print("%8.1f %8.1f %8.1f %8.1f %6d %7d  %s / %s" % row)
    rest = ranked[top:]
    rest_ms = sum(entry["main_ns"] + entry["workers_ns"] for _key, entry in rest) / 1e6 / count
    print("%8.1f  the other %d tasks" % (rest_ms, len(rest)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=1000)
    parser.add_argument("--prefix", default="nbs")
    parser.add_argument("--bmc-port", type=int, default=16400)
    parser.add_argument("--no-dhcp", type=float, default=0.01)
    parser.add_argument("--lost-fetch", type=float, default=0.01)
    parser.add_argument("--dead-bmcs", type=int, default=2)
    parser.add_argument("--playbook", action="append",
                        help="bring-up playbook, again to compare (default: playbooks/bringup.yml)")
    parser.add_argument("--tasks", type=int, default=0, metavar="N", help="print the N costliest tasks of each run")
    args = parser.parse_args()
    reason = fleet_sim.missing() or (None if os.path.isdir(CPUACCT) else "no cgroup v1 cpuacct at %s" % CPUACCT)
    if reason:
        sys.exit("cannot run: %s" % reason)
    tree = Cgroup(os.path.join(CPUACCT, "%s-bringup" % args.prefix))
    nodes = Cgroup(os.path.join(tree.path, "nodes"))
    runs = []
    try:
        for number, play in enumerate(args.playbook or [os.path.join(REPO, "playbooks", "bringup.yml")]):
            tasks_out = None
            if args.tasks:
                os.makedirs("/var/tmp/netboot-fleet", exist_ok=True)
                tasks_out = "/var/tmp/netboot-fleet/bringup-scale-%s-tasks-%d.json" % (args.prefix, number)
            run = bring_up(args, os.path.abspath(play), tree, nodes, tasks_out)
            report(args, run)
            if tasks_out:
                report_tasks(tasks_out, args.machines, args.tasks)
            runs.append(run)
    finally:
        nodes.close()
        tree.close()
    if len(runs) > 1:
        print("controller CPU per machine: " + ", ".join("%s %.1f ms (%.1fx floor)" % (
            run["play"], 1000 * run["cpu"]["controller"] / args.machines, run["cpu"]["controller"] / run["floor_cpu"])
            for run in runs))


if __name__ == "__main__":
    main()
