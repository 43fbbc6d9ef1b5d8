"""ipmi_power across many ipmi_sim BMCs: netboot.fleet vs community.general, same forks, same run.

    python benchmarks/bmc_scale.py [--bmcs 200] [--forks 50] [--readme]

Starts --bmcs OpenIPMI ipmi_sim BMCs on 127.0.0.1 (tests/integration/bmc/bmc_lab.py),
then times ansible-playbook over all of them:
  floor       ansible.builtin.debug: what Ansible itself costs per host-task
  status      netboot.fleet.ipmi_power state=status
              community.general.ipmi_power state=off in check mode (its only way to read)
  on          every BMC set off first, then state=on (both wait until on)
and checks both collections report the same power state and `changed` for every host.
Also times the BMC exchange alone (login, read, logout) in one process, to show where
the per-host cost goes. Stops only the processes it started; bounded by --deadline.
--readme appends the figures to benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "bmc"))
sys.path.insert(0, os.path.join(REPO, "collections"))

import bmc_lab  # noqa: E402

from ansible_collections.netboot.fleet.plugins.module_utils.bmc.client import BmcClient, BmcTarget  # noqa: E402

RESULT = re.compile(r"^(ok|changed|fatal): \[(\S+)\]( => |: [A-Z]+! => )", re.M)

OURS = """
- hosts: all
  gather_facts: false
  tasks:
    - netboot.fleet.ipmi_power:
        state: "{{ power_state }}"
"""

COMMUNITY = """
- hosts: all
  gather_facts: false
  tasks:
    - community.general.ipmi_power:
        name: "{{ netboot.bmc.address }}"
        port: "{{ netboot.bmc.port }}"
        user: "{{ netboot_bmc_username }}"
        password: "{{ netboot_bmc_password }}"
        state: "{{ 'off' if power_state == 'status' else power_state }}"
        timeout: 60
      check_mode: "{{ power_state == 'status' }}"
"""

FLOOR = """
- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.debug:
        msg: "{{ netboot.bmc.port }}"
"""


def write_inventory(path, sims):
    hosts = {}
    for index, sim in enumerate(sims):
        hosts["b%03d" % index] = {
            "ansible_host": "198.51.100.%d" % (index % 250 + 1),
            "netboot": {"name": "b%03d" % index, "bmc": {"address": "127.0.0.1", "protocol": "ipmi", "port": sim.port},
                        "firmware": "uefi"},
        }
    inventory = {"all": {"hosts": hosts, "vars": {
        "netboot_bmc_username": bmc_lab.USERNAME, "netboot_bmc_password": bmc_lab.PASSWORD,
        # community.general's module runs as a local Python process with pyghmi
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}
    with open(path, "w") as out:
        json.dump(inventory, out)  # JSON is YAML


def run_playbook(workdir, inventory, name, text, forks, state, deadline):
    playbook = os.path.join(workdir, name + ".yml")
    with open(playbook, "w") as out:
        out.write(text)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="0")
    command = [bmc_lab.venv_tool("ansible-playbook"), "-i", inventory, playbook, "-f", str(forks), "-v",
               "-e", "power_state=%s" % state]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False,
                          timeout=max(10, deadline - time.monotonic()))
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    results = {}
    decoder = json.JSONDecoder()
    for match in RESULT.finditer(done.stdout):
        results[match.group(2)] = decoder.raw_decode(done.stdout, match.end())[0]
    return seconds, cpu, results, done


def power_of(result, state, community):
    """(power state, changed) as each collection reports them."""
    if "failed" in result and result["failed"]:
        return ("FAILED: " + str(result.get("msg"))[:80], None)
    if not community:
        return (result["power_state"], result["changed"])
    if state == "status":  # check mode, state=off: changed means it is on
        return ("on" if result["changed"] else "off", False)
    return (result["powerstate"], result["changed"])


def exchange_alone(sims):
    """Login, read power, logout, one BMC after the other in this process: the BMC's share of the cost."""
    started = time.monotonic()
    for sim in sims:
        target = BmcTarget("127.0.0.1", port=sim.port, username=bmc_lab.USERNAME, password=bmc_lab.PASSWORD)
        with BmcClient(target) as client:
            client.power_state()
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bmcs", type=int, default=200)
    parser.add_argument("--forks", type=int, default=50)
    parser.add_argument("--deadline", type=float, default=330, help="seconds for the whole run")
    parser.add_argument("--readme", action="store_true", help="append the figures to benchmarks/README.md")
    options = parser.parse_args()
    deadline = time.monotonic() + options.deadline
    if shutil.which("ipmi_sim") is None:
        sys.exit("ipmi_sim not found (Debian package openipmi)")
    if importlib.util.find_spec("ansible_collections.community.general") is None:
        sys.exit("community.general not found (pip install ansible)")

    workdir = tempfile.mkdtemp(prefix="bmc_scale.")
    ports = set()
    while len(ports) < options.bmcs:
        ports.add(bmc_lab.free_port())
    sims = [bmc_lab.IpmiSim(os.path.join(workdir, "bmc%03d" % i), port=port) for i, port in enumerate(sorted(ports))]
    rows = []
    try:
        started = time.monotonic()
        for sim in sims:
            sim.launch()
        for sim in sims:
            sim.wait_ready()
        print("%d ipmi_sim BMCs up in %.1f s" % (len(sims), time.monotonic() - started), flush=True)
        inventory = os.path.join(workdir, "inventory.yml")
        write_inventory(inventory, sims)

        sample = sims[:50]  # sequential: a sample keeps the run short
        alone = exchange_alone(sample) * len(sims) / len(sample)
        rows.append(("BMC exchange alone (one process, sequential, 50 BMCs, scaled)", "status", alone, None))

        seconds, cpu, results, done = run_playbook(workdir, inventory, "floor", FLOOR, options.forks, "status",
                                                   deadline)
        rows.append(("ansible.builtin.debug (Ansible floor)", "-", seconds, cpu))
        mismatches = []
        for state in ("status", "on"):
            outcome = {}
            for label, text, community in (("netboot.fleet.ipmi_power", OURS, False),
                                           ("community.general.ipmi_power", COMMUNITY, True)):
                if state == "on":
                    for sim in sims:
                        sim.power = "off"
                seconds, cpu, results, done = run_playbook(workdir, inventory, label, text, options.forks,
                                                           state, deadline)
                if len(results) != len(sims):
                    sys.exit("%s state=%s: %d of %d results\n%s%s" % (
                        label, state, len(results), len(sims), done.stdout[-3000:], done.stderr[-3000:]))
                outcome[label] = dict((host, power_of(result, state, community)) for host, result in results.items())
                rows.append((label, state, seconds, cpu))
                print("%-30s state=%-6s %6.1f s  %5.1f ms/host" % (label, state, seconds,
                                                                   seconds * 1000 / len(sims)), flush=True)
            ours, theirs = outcome["netboot.fleet.ipmi_power"], outcome["community.general.ipmi_power"]
            mismatches += ["%s %s: %s vs %s" % (state, host, ours[host], theirs[host])
                           for host in sorted(ours) if ours[host] != theirs[host]]
            if state == "on" and not all(sim.power == "on" for sim in sims):
                mismatches.append("on: not every ipmi_sim is on")
    finally:
        for sim in sims:
            sim.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    report = render(rows, len(sims), options, mismatches)
    print(report)
    if options.readme:
        append_readme(report, options)
    return 1 if mismatches else 0


def render(rows, count, options, mismatches):
    lines = ["| run | state | seconds | ms/host | CPU s | CPU ms/host |", "|---|---|---:|---:|---:|---:|"]
    timing, cpu_time = {}, {}
    for label, state, seconds, cpu in rows:
        timing[(label, state)] = seconds
        cpu_time[(label, state)] = cpu
        lines.append("| %s | %s | %.1f | %.1f | %s | %s |" % (
            label, state, seconds, seconds * 1000 / count, "-" if cpu is None else "%.1f" % cpu,
            "-" if cpu is None else "%.0f" % (cpu * 1000 / count)))
    lines.append("")
    for state in ("status", "on"):
        ours = timing[("netboot.fleet.ipmi_power", state)]
        theirs = timing[("community.general.ipmi_power", state)]
        cpu_ratio = cpu_time[("community.general.ipmi_power", state)] / cpu_time[("netboot.fleet.ipmi_power", state)]
        lines.append("state=%s: netboot.fleet %.1f ms/host, community.general %.1f ms/host: %.1fx faster "
                     "(%.1fx less CPU per host)"
                     % (state, ours * 1000 / count, theirs * 1000 / count, theirs / ours, cpu_ratio))
    verdict = "yes" if not mismatches else "NO: " + "; ".join(mismatches[:5])
    lines.append("identical results on all %d hosts: %s" % (count, verdict))
    return "\n".join(lines)


def append_readme(report, options):
    path = os.path.join(HERE, "README.md")
    heading = "## BMC power at scale (benchmarks/bmc_scale.py)"
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    if heading not in text:
        text += "\n" + heading + "\n\n" + README_INTRO
    text += "\n### %s, %d BMCs, forks %d\n`python benchmarks/bmc_scale.py --bmcs %d --forks %d --readme`\n\n%s\n" % (
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), options.bmcs, options.forks,
        options.bmcs, options.forks, report)
    with open(path, "w") as out:
        out.write(text)


README_INTRO = """\
`ipmi_power` over OpenIPMI `ipmi_sim` BMCs on 127.0.0.1: this collection against
`community.general.ipmi_power` (from the `ansible` package), same inventory, same forks,
same run. `community.general` has no read-only state, so its `status` is `state=off` in
check mode. Each row is one `ansible-playbook` (wall seconds; CPU = user+sys of it and its
children, on 2 cores); the results of both collections are compared host by host.

Where the per-host cost goes:
- **Ansible itself** (fork a worker, run the task executor, hand the result back to the
  one controller process): the `ansible.builtin.debug` row, the floor of any per-host task.
- **netboot.fleet** adds only the BMC exchange, in the worker that Ansible already forked:
  pyghmi import on top of the loaded Ansible, RMCP+ login, 2-3 commands, logout
  (about 20 CPU-ms per host over the floor).
- **community.general** runs a module per host: builds the AnsiballZ payload, starts a
  new Python, imports Ansible's module_utils and pyghmi (~0.25 s alone), then the same
  exchange: ~0.9 CPU-s per host, so on 2 cores its run is CPU-bound.
- "BMC exchange alone" is login + read + logout for each BMC in turn, in one process. On
  loopback pyghmi 1.6.19 loses wake-ups: the answer is on the socket within a millisecond
  (seen with a capture on `lo`) but pyghmi notices it only at its 0.5-1 s retransmit timer,
  on roughly one exchange in five. Both collections pay it; forks hide most of it.
"""

if __name__ == "__main__":
    sys.exit(main())
