"""Power on many BMCs: bulk_power vs per-host ipmi_power vs community.general, and a pyghmi-only floor.

    python benchmarks/bmc_bulk.py [--bmcs 1000] [--parallel 50] [--readme]

The BMCs are lab/bmc_farm.py's (pyghmi's BMC server, many per process, on 127.0.0.1);
each run starts from a fresh farm with every machine off and asks state=on (wait until on):
  floor       pyghmi alone: login, read, power on, read until on, logout; --parallel threads in
              one Python process, nothing else
  ansible     ansible-playbook with one run_once debug task over the same inventory: Ansible's fixed
              cost, which any playbook over these hosts pays before and after its first task
  bulk        netboot.fleet.bulk_power, one run_once task, parallel=--parallel
  per-host    netboot.fleet.ipmi_power, forks=--parallel
  community   community.general.ipmi_power, forks=--parallel
Wall and CPU (user+sys of the run and its children; the farm's own CPU is not counted) per BMC,
and every BMC's final state checked against the farm's record. --readme appends to benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "lab"))
sys.path.insert(0, HERE)

import bmc_farm  # noqa: E402
import bmc_scale  # noqa: E402
from bmc_scale import bmc_lab  # noqa: E402

BULK = """
- hosts: all
  gather_facts: false
  tasks:
    - netboot.fleet.bulk_power:
        state: "{{ power_state }}"
        parallel: %d
      run_once: true
      register: bulk
    - ansible.builtin.copy:
        content: "{{ bulk.machines | to_json }}"
        dest: "%s"
        mode: "0600"
      run_once: true
      delegate_to: localhost
"""

# What ansible-playbook costs before and after any task over this inventory: start, inventory, one task.
ANSIBLE_FLOOR = """
- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.debug:
        msg: "{{ ansible_play_hosts | length }}"
      run_once: true
"""

FLOOR = r"""
import sys, time
from concurrent.futures import ThreadPoolExecutor
from pyghmi.exceptions import IpmiException
from pyghmi.ipmi import command
from pyghmi.ipmi.private import session
from ansible_collections.netboot.fleet.plugins.module_utils.bmc.client import fix_pyghmi_sessions
fix_pyghmi_sessions(session)  # without it pyghmi deadlocks or stalls in threads under load
user, password, parallel = sys.argv[1], sys.stdin.readline().strip(), int(sys.argv[2])
ports = [int(p) for p in sys.argv[3:]]
def power_on(port, attempts=3):
    try:
        bmc = command.Command(bmc="127.0.0.1", userid=user, password=password, port=port)
        if bmc.get_power()["powerstate"] != "on":
            bmc.set_power("on", wait=False)
        while bmc.get_power()["powerstate"] != "on":
            time.sleep(0.2)
        bmc.ipmi_session.logout()
        return "on"
    except IpmiException:  # a session lost under load: what the collection's client retries too
        if attempts == 1:
            raise
        return power_on(port, attempts - 1)
with ThreadPoolExecutor(parallel) as pool:
    print(sum(state == "on" for state in pool.map(power_on, ports)))
"""


def timed(command, **kwargs):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False, **kwargs)
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bmcs", type=int, default=1000)
    parser.add_argument("--parallel", type=int, default=50)
    parser.add_argument("--first-port", type=int, default=30000)
    parser.add_argument("--skip-community", action="store_true", help="its run is the longest by far")
    parser.add_argument("--readme", action="store_true")
    options = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="bmc_bulk.")
    inventory = os.path.join(workdir, "inventory.yml")
    ports = list(range(options.first_port, options.first_port + options.bmcs))
    bmc_scale.write_inventory(inventory, [type("Bmc", (), {"port": port}) for port in ports])
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_DEPRECATION_WARNINGS="0")
    rows, problems = [], []
    runs = [("pyghmi floor (threads, one process)", "floor"), ("ansible-playbook floor (one run_once task)", "ansible"),
            ("netboot.fleet.bulk_power", "bulk"),
            ("netboot.fleet.ipmi_power (per host)", "per-host")]
    if not options.skip_community:
        runs.append(("community.general.ipmi_power (per host)", "community"))
    try:
        for label, kind in runs:
            farm = bmc_farm.Farm(os.path.join(workdir, "farm-" + kind), options.first_port, options.bmcs,
                                 bmc_lab.USERNAME, bmc_lab.PASSWORD).start()
            try:
                if kind == "floor":
                    seconds, cpu, done = timed([sys.executable, "-c", FLOOR, bmc_lab.USERNAME,
                                                str(options.parallel)] + [str(p) for p in ports],
                                               input=bmc_lab.PASSWORD + "\n", timeout=3600,
                                               env=dict(os.environ, PYTHONPATH=os.path.join(REPO, "collections")))
                else:
                    text = {"bulk": BULK % (options.parallel, os.path.join(workdir, "bulk.json")),
                            "ansible": ANSIBLE_FLOOR,
                            "per-host": bmc_scale.OURS, "community": bmc_scale.COMMUNITY}[kind]
                    playbook = os.path.join(workdir, kind + ".yml")
                    with open(playbook, "w") as out:
                        out.write(text)
                    seconds, cpu, done = timed([bmc_lab.venv_tool("ansible-playbook"), "-i", inventory, playbook,
                                                "-f", str(options.parallel), "-e", "power_state=on"],
                                               env=env, timeout=3600)
            finally:
                states = farm.stop()
            if done.returncode != 0:
                problems.append("%s: exit %d: %s" % (label, done.returncode, (done.stdout + done.stderr)[-1500:]))
            off = [port for port in ports if states.get(port, {}).get("power") != "on"] if kind != "ansible" else []
            if off:
                problems.append("%s: %d BMCs not on (first %s)" % (label, len(off), off[:5]))
            if kind == "bulk":
                with open(os.path.join(workdir, "bulk.json")) as handle:
                    reported = json.load(handle)
                wrong = [name for name, result in reported.items() if result.get("power_state") != "on"]
                if wrong or len(reported) != len(ports):
                    problems.append("bulk_power reported %d machines, %d not on" % (len(reported), len(wrong)))
            rows.append((label, seconds, cpu))
            print("%-42s %7.1f s %7.1f ms/BMC  CPU %6.1f s %6.1f ms/BMC" % (
                label, seconds, seconds * 1000 / len(ports), cpu, cpu * 1000 / len(ports)), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report = render(rows, options, problems)
    print(report)
    if options.readme:
        with open(os.path.join(HERE, "README.md"), "a") as out:
            out.write("\n### %s, %d BMCs, parallel/forks %d\n`python benchmarks/bmc_bulk.py --bmcs %d --parallel %d%s"
                      " --readme`\n\n%s\n" % (
                          datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                          options.bmcs, options.parallel, options.bmcs, options.parallel,
                          " --skip-community" if options.skip_community else "", report))
    return 1 if problems else 0


def render(rows, options, problems):
    lines = ["| run | wall s | wall ms/BMC | CPU s | CPU ms/BMC |", "|---|---:|---:|---:|---:|"]
    for label, seconds, cpu in rows:
        lines.append("| %s | %.1f | %.1f | %.1f | %.1f |" % (label, seconds, seconds * 1000 / options.bmcs, cpu,
                                                             cpu * 1000 / options.bmcs))
    by = dict((label.split(" ")[0], (seconds, cpu)) for label, seconds, cpu in rows)
    floor, bulk, per_host = by["pyghmi"], by["netboot.fleet.bulk_power"], by["netboot.fleet.ipmi_power"]
    ansible = by["ansible-playbook"]
    lines.append("")
    lines.append("bulk_power wall / pyghmi floor wall: %.2fx (target <= 1.5x); without Ansible's fixed cost "
                 "(bulk - ansible-playbook floor) / pyghmi floor: %.2fx; per-host CPU / bulk CPU: %.1fx (target >= 4x)"
                 % (bulk[0] / floor[0], (bulk[0] - ansible[0]) / floor[0], per_host[1] / bulk[1]))
    lines.append("every BMC on and reported on: %s" % ("yes" if not problems else "NO: " + "; ".join(problems)))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
