# -*- coding: utf-8 -*-
"""playbooks/bringup.yml as K = 1, 2, 4 slices in parallel (AWX job slicing, through ansible-runner) on the
bring-up lab's fake machines: wall and controller CPU per K, the merged report against the K = 1 run's.

Each round puts every machine back to new (blank disk, no state), runs the K slices together
(tests/integration/bringup/bringup_slices.py: each slice gets hosts[i::K] of the inventory sorted by name,
as AWX does) with --tags validate,power,wait, then playbooks/bringup_merge.yml. Per K it prints the wall of
the slices (first start to last end), the merge's wall, the controller CPU (every ansible-playbook process,
user + sys) per machine, the ratio of the wall to the K = 1 run's of the same invocation, and whether the
merged report has the same machines in the same states (status, stage, reason) as the K = 1 run.

Needs root (network namespaces), Kea, nginx, tftpd-hpa, ipmi_sim (the lab's tools).
Usage: python benchmarks/bringup_slices.py [--machines 32] [--slices 1,2,4] [--first-port 32300]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "tests", "integration", "bringup"))
sys.path.insert(0, os.path.join(HERE, os.pardir, "tests"))

import bringup_lab  # noqa: E402
import bringup_slices  # noqa: E402


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=32)
    parser.add_argument("--slices", default="1,2,4", help="slice counts, the first is the baseline")
    parser.add_argument("--first-port", type=int, default=32300, help="the first BMC's UDP port")
    parser.add_argument("--forks", type=int, default=10, help="forks of each slice")
    # The lab's 3 s lets a loaded machine's ipmi_sim miss answers: a failure of the machine, not of slicing.
    parser.add_argument("--bmc-timeout", type=int, default=10, help="seconds per BMC exchange (bringup_bmc_timeout)")
    args = parser.parse_args()
    reason = bringup_lab.missing()
    if reason:
        sys.exit("the bring-up lab cannot run here: %s" % reason)
    counts = [int(count) for count in args.slices.split(",")]
    machines = bringup_lab.booting_machines(args.machines)
    lab = bringup_lab.Lab(machines=machines, prefix="k20b", bmc_port=args.first_port)
    results = []
    try:
        lab.start()
        listing = bringup_slices.inventory_listing(lab)
        for index, count in enumerate(counts):
            cpu = children_cpu()
            sliced, merged, rc = bringup_slices.run_sliced(lab, listing, count, "r%d-k%d" % (index, count), forks=args.forks,
                                                           extra={"bringup_wait_timeout": 600, "bringup_bmc_timeout": args.bmc_timeout})
            results.append({"slices": count, "wall": sliced.wall, "merge": sliced.merge_wall, "rc": rc,
                            "cpu": children_cpu() - cpu, "states": bringup_slices.states(merged),
                            "counts": merged["summary"]["counts"], "outcomes": [outcome[:3] for outcome in sliced.outcomes()]})
    finally:
        lab.stop()
    baseline = results[0]
    print("bringup.yml as slices, %d fake machines (lab), forks %d per slice, %s" % (
        args.machines, args.forks, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))
    print("%6s %10s %10s %14s %10s %8s  %s" % ("slices", "wall s", "ratio", "CPU ms/machine", "merge s", "merge rc",
                                               "merged report = K=%d run's (machines, states)" % baseline["slices"]))
    for result in results:
        same = result["states"] == baseline["states"]
        print("%6d %10.1f %10.3f %14.1f %10.1f %8s  %s (%s)" % (
            result["slices"], result["wall"], result["wall"] / baseline["wall"], 1000 * result["cpu"] / args.machines,
            result["merge"], result["rc"], "yes" if same else "NO",
            ", ".join("%d %s" % (number, status) for status, number in sorted(result["counts"].items()) if number)))
        for name in sorted(set(result["states"]) | set(baseline["states"])):
            if result["states"].get(name) != baseline["states"].get(name):
                print("    %s: %s, K=%d run: %s" % (name, result["states"].get(name), baseline["slices"], baseline["states"].get(name)))
    if any(result["states"] != baseline["states"] for result in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
