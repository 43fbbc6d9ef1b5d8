"""bulk_power's sessions in forked processes of 10 threads (bulk.run_many) vs one process of all the threads
(bulk.run_in_threads' way, in one forked process as run_many runs it), on the same work in one run.

    python benchmarks/bulk_processes.py [--bmcs 1000] [--parallel 50] [--rounds 2] [--first-port 30000]

Each pass runs what bulk_power runs for every machine (benchmarks/bmc_dead.py's: login, boot device network,
power boot without waiting, logout) on a fresh lab/bmc_farm.py farm (40 BMCs per farm process, as the fleet
simulator's), rounds in ABBA order. CPU is this process's and its children's (user+sys; the farm's own is not
counted), per BMC; wall per pass; every BMC must answer. Prints the ratio threads / processes of each.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile

import bmc_dead
from ansible_collections.netboot.fleet.plugins.module_utils.bmc import bulk

FARM_PER_PROCESS = 40
RUNNERS = {"threads": lambda jobs, parallel: bulk.run_in_processes(jobs, parallel, 1), "processes": bulk.run_many}


def main():
    parser = bmc_dead.farm_parser(__doc__.splitlines()[0], bmcs=1000)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    ports = bmc_dead.farm_ports(options)
    figures = dict((name, {"cpu": [], "wall": []}) for name in RUNNERS)
    with tempfile.TemporaryDirectory(prefix="bulk-processes-") as workdir:
        for number in range(options.rounds):
            for name in sorted(RUNNERS, reverse=bool(number % 2)):
                used, wall, failed = bmc_dead.one_pass(os.path.join(workdir, "%s-%d" % (name, number)), ports, set(),
                                                       options.parallel, 10.0, runner=RUNNERS[name],
                                                       per_process=FARM_PER_PROCESS)
                if failed:
                    sys.exit("%s: %d BMCs failed, e.g. %s" % (name, len(failed), failed[:5]))
                figures[name]["cpu"].append(1000 * used / options.bmcs)
                figures[name]["wall"].append(wall)
                print("round %d %-9s %.1f ms CPU per BMC, wall %.1f s"
                      % (number + 1, name, figures[name]["cpu"][-1], wall), flush=True)
    mean = dict((name, dict((key, statistics.mean(values)) for key, values in runs.items()))
                for name, runs in figures.items())
    print("mean: threads %.1f ms CPU/BMC, %.1f s; processes %.1f ms CPU/BMC, %.1f s; threads / processes: CPU %.2fx, "
          "wall %.2fx" % (mean["threads"]["cpu"], mean["threads"]["wall"], mean["processes"]["cpu"],
                          mean["processes"]["wall"], mean["threads"]["cpu"] / mean["processes"]["cpu"],
                          mean["threads"]["wall"] / mean["processes"]["wall"]))


if __name__ == "__main__":
    main()
