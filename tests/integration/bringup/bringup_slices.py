# -*- coding: utf-8 -*-
"""playbooks/bringup.yml as K slices in parallel through ansible-runner's API, the way AWX job slicing runs
it, then playbooks/bringup_merge.yml over the slices' reports. Used by test_bringup_slices.py and
benchmarks/bringup_slices.py against the bring-up lab (bringup_lab.py).

AWX imports the inventory source once and hands slice i of K the hosts sorted by name, every K-th from
the i-th, with every group (its variables kept, its hosts filtered to the slice's): here the lab's
inventory is read once with `ansible-inventory --list --export` and cut the same way. A slice may so hold
no DHCP node: bringup.yml adds the SoT's nodes it lacks, to observe them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import ansible_runner

import bringup_lab

STAGES = "validate,power,wait"


def inventory_listing(lab):
    """The lab's inventory as AWX holds it after an import: hosts with their variables, groups with theirs."""
    done = subprocess.run([bringup_lab.venv_tool("ansible-inventory"), "-i", lab.path("inventory"), "--list", "--export"],
                          cwd=bringup_lab.REPO, env=_env(), capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def awx_slice(listing, number, count):
    """Slice `number` (1-based) of `count`, as a YAML-inventory dict: hosts sorted by name, every count-th."""
    hostvars = listing["_meta"]["hostvars"]
    hosts = set(sorted(_all_hosts(listing))[number - 1::count])

    def group(name):
        entry, out = listing.get(name) or {}, {}
        members = [host for host in entry.get("hosts") or [] if host in hosts]
        if members:
            out["hosts"] = {host: hostvars.get(host) or {} for host in members}
        if entry.get("vars"):
            out["vars"] = entry["vars"]
        if entry.get("children"):
            out["children"] = {child: group(child) for child in entry["children"]}
        return out

    return {"all": group("all")}, sorted(hosts)


def _all_hosts(listing):
    return {host for name, entry in listing.items() if name != "_meta" for host in (entry or {}).get("hosts") or []}


def _env():
    return {"PATH": os.path.dirname(bringup_lab.venv_tool("ansible-playbook")) + os.pathsep + os.environ.get("PATH", ""),
            "ANSIBLE_CONFIG": os.path.join(bringup_lab.REPO, "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0", "HOME": os.environ.get("HOME", "/root")}


def lab_vars(lab, extra=None):
    """The lab's run variables, with room for slices that run side by side on a busy controller (an ipmi_sim
    there may miss the lab's 3 s per BMC exchange)."""
    return lab.run_vars(dict({"bringup_wait_timeout": 90, "bringup_bmc_timeout": 6}, **(extra or {})))


class SlicedRun:
    """One bring-up as `count` slices started together; `run_id` names the slices' reports (as AWX's
    workflow job id would: bringup-<run id>-<slice>)."""

    def __init__(self, lab, count, run_id, forks=10, extra=None):
        self.lab, self.count, self.run_id, self.forks, self.extra = lab, count, run_id, forks, extra or {}
        self.slices = []       # (number, hosts, thread, ansible_runner.Runner)
        self.wall = self.merge_wall = None

    def start_all(self, listing):
        started = time.monotonic()
        for number in range(1, self.count + 1):
            inventory, hosts = awx_slice(listing, number, self.count)
            variables = lab_vars(self.lab, dict(self.extra, bringup_report_latest=False,
                                                bringup_report_name="bringup-%s-%d" % (self.run_id, number)))
            private = self.lab.path("runner", "%s-%d" % (self.run_id, number))
            os.makedirs(private, exist_ok=True)
            thread, runner = ansible_runner.run_async(
                private_data_dir=private, project_dir=bringup_lab.REPO, ident="slice%d" % number,
                playbook=os.path.join(bringup_lab.REPO, "playbooks", "bringup.yml"), inventory=inventory,
                extravars=variables, envvars=_env(), forks=self.forks, cmdline="--tags %s" % STAGES,
                quiet=True, suppress_env_files=True)
            self.slices.append((number, hosts, thread, runner))
        for _number, _hosts, thread, _runner in self.slices:
            thread.join()
        self.wall = time.monotonic() - started
        return self

    def outcomes(self):
        """[(slice number, runner status, rc, stdout tail)]: a slice whose machine failed ends with rc 2."""
        return [(number, runner.status, runner.rc, _tail(runner)) for number, _hosts, _thread, runner in self.slices]

    def merge(self):
        """playbooks/bringup_merge.yml over this run's slice reports (ansible-runner too); (rc, stdout)."""
        private = self.lab.path("runner", "%s-merge" % self.run_id)
        os.makedirs(private, exist_ok=True)
        started = time.monotonic()
        runner = ansible_runner.run(
            private_data_dir=private, project_dir=bringup_lab.REPO, ident="merge",
            playbook=os.path.join(bringup_lab.REPO, "playbooks", "bringup_merge.yml"),
            inventory={"all": {"hosts": {"localhost": {"ansible_connection": "local"}}}},
            extravars={"bringup_merge_reports": self.lab.path("reports", "bringup-%s-*.json" % self.run_id),
                       "bringup_merge_name": "bringup-%s" % self.run_id, "bringup_report_dir": self.lab.path("reports")},
            envvars=_env(), quiet=True, suppress_env_files=True)
        self.merge_wall = time.monotonic() - started
        return runner.rc, _tail(runner)


def _tail(runner, size=4000):
    try:
        return runner.stdout.read()[-size:]
    except (OSError, AttributeError):
        return ""


def states(report):
    """{machine: (status, stage, reason)}: what a run found, timings aside (a reason may hold one: "no answer
    after 4.9 s")."""
    return {row["name"]: (row["status"], row["stage"], re.sub(r"\d+\.\d+ s\b", "<seconds> s", row["reason"] or ""))
            for row in report["machines"]}


def run_sliced(lab, listing, count, run_id, extra=None, forks=10):
    """Every machine back to new, then the run as `count` slices and the merge: (SlicedRun, merged report, merge rc)."""
    lab.reinstall_all()
    sliced = SlicedRun(lab, count, run_id, forks=forks, extra=extra).start_all(listing)
    rc, stdout = sliced.merge()
    merged = os.path.join(lab.path("reports"), "bringup-%s.json" % run_id)
    if not os.path.exists(merged):
        raise RuntimeError("the merge wrote no report (rc %s): %s\n%s" % (rc, stdout, sliced.outcomes()))
    return sliced, lab.report("bringup-%s.json" % run_id), rc
