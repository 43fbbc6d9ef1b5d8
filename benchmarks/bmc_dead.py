"""What BMCs that never answer cost the controller: bulk_power's work (boot device, then power) over N BMCs,
with none dead and with D dead, in one run.

    python benchmarks/bmc_dead.py [--bmcs 200] [--dead 40] [--parallel 50] [--first-port 30000]

The BMCs are lab/bmc_farm.py's (pyghmi's BMC server, on 127.0.0.1); a dead one never answers, so its
session times out (--timeout, bringup.yml's bringup_bmc_timeout). Each pass runs what bulk_power runs for
every machine (run_on_bmc: login, set_boot network, set_power boot without waiting, logout) from
--parallel sessions at once, as its action does (bulk.run_many), on a fresh farm. CPU is this process's and
its children's (user+sys; the farm's own is not counted), per BMC; the difference between the passes, per dead
BMC.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
sys.path.insert(0, os.path.join(REPO, "collections"))
sys.path.insert(0, os.path.join(REPO, "lab"))

import bmc_farm  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.bmc.actions import set_boot, set_power  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.bmc.bulk import run_many  # noqa: E402
from ansible_collections.netboot.fleet.plugins.plugin_utils.bmc_action import run_on_bmc  # noqa: E402

USERNAME, PASSWORD = "admin", "bench-S3cret"


def cpu():
    """This process and its children (bulk.py's forked processes), user + sys."""
    return sum(usage.ru_utime + usage.ru_stime
               for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))


def act(client, _args, _hostvars):
    outcome = {"boot": set_boot(client, "network", False, "uefi")}
    outcome.update(set_power(client, "boot", wait=False))
    return outcome


def one_pass(workdir, ports, dead, parallel, timeout, runner=run_many, per_process=bmc_farm.BMCS_PER_PROCESS):
    """(CPU s, wall s, failed machines) of one pass over a fresh farm, the jobs run by `runner` (bulk.py's)."""
    farm = bmc_farm.Farm(workdir, ports[0], len(ports), USERNAME, PASSWORD, dead=dead, per_process=per_process).start()
    try:
        args = {"address": None, "protocol": None, "port": None, "username": None, "password": None,
                "timeout": timeout, "retries": 1, "validate_certs": None}
        jobs = {}
        for port in ports:
            hostvars = {"netboot": {"bmc": {"address": "127.0.0.1", "port": port, "protocol": "ipmi"}, "firmware": "uefi"},
                        "netboot_bmc_username": USERNAME, "netboot_bmc_password": PASSWORD,
                        "netboot_bmc_validate_certs": None}
            jobs[port] = lambda hostvars=hostvars: run_on_bmc(act, args, hostvars)
        used, started = cpu(), time.monotonic()
        results = runner(jobs, parallel)
        return cpu() - used, time.monotonic() - started, sorted(port for port, result in results.items() if result.get("failed"))
    finally:
        farm.stop()


def farm_parser(description, bmcs):
    """The options of a benchmark on a farm of BMCs (--bmcs, --parallel, --first-port)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--bmcs", type=int, default=bmcs)
    parser.add_argument("--parallel", type=int, default=50)
    parser.add_argument("--first-port", type=int, default=30000)
    return parser


def farm_ports(options):
    return list(range(options.first_port, options.first_port + options.bmcs))


def main():
    parser = farm_parser(__doc__.splitlines()[0], bmcs=200)
    parser.add_argument("--dead", type=int, default=40)
    parser.add_argument("--timeout", type=float, default=10.0)
    options = parser.parse_args()
    ports = farm_ports(options)
    dead = set(ports[::max(1, options.bmcs // options.dead)][:options.dead]) if options.dead else set()
    with tempfile.TemporaryDirectory(prefix="bmc-dead-") as workdir:
        passes = []
        for label, which in (("none dead", set()), ("%d dead" % len(dead), dead)):
            used, wall, failed = one_pass(os.path.join(workdir, "farm-%d" % len(which)), ports, which, options.parallel,
                                          options.timeout)
            if failed != sorted(which):
                sys.exit("%s: failed %s, expected the dead ones %s" % (label, failed[:10], sorted(which)[:10]))
            passes.append(used)
            print("%s: %.1f ms CPU per BMC, wall %.1f s" % (label, 1000 * used / options.bmcs, wall))
    if dead:
        print("each dead BMC: %.0f ms CPU (timeout %.0f s)" % (1000 * (passes[1] - passes[0]) / len(dead), options.timeout))


if __name__ == "__main__":
    main()
