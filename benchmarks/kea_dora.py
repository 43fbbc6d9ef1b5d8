"""DORA rate of the generated config vs a bare Kea with only a pool (target ratio >= 0.9).

kea-dhcp4 runs in a namespace with (a) the Dhcp4 config rendered from a generated 100k-machine
SoT (its dual-stack racks give the IPv4 reservations, PXE classes, server identifier, ...),
(b) a bare config: same server settings, one subnet with a pool, nothing else. perfdhcp
(Debian kea-admin) relays from the rack gateway (-l giaddr -L 67) with -M listing reserved
MACs, so (a) answers from reservations and (b) from the pool. Rounds alternate a/b (ABBA order)
on a machine shared with other work; the ratio is taken between each config's best round (the
one least disturbed by other load), the mean ratio is printed too.

    python benchmarks/kea_dora.py [--machines 100000] [--rounds 3] [--seconds 6] [--rate 2500]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "collections"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "kea"))
sys.path.insert(0, HERE)

from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.kea import config as kea  # noqa: E402
import kea_lab  # noqa: E402
from kea_render import write_generated_sot  # noqa: E402

TARGET_RATIO = 0.9


def bare_config(generated, subnet):
    """The generated server settings with one pooled subnet and nothing else."""
    body = {key: value for key, value in generated["Dhcp4"].items()
            if key not in ("subnet4", "client-classes", "option-def", "option-data")}
    base = subnet["subnet"].split("/")[0].rsplit(".", 1)[0]
    first, last = base + ".10", base + ".60"
    body["subnet4"] = [{"id": subnet["id"], "subnet": subnet["subnet"], "relay": subnet["relay"],
                        "pools": [{"pool": "%s-%s" % (first, last)}]}]
    return {"Dhcp4": body}


def render_for_perfdhcp(tmp, machines, topology):
    """The Dhcp4 config of a generated SoT of `machines` for Kea in topology's server namespace (control socket
    tmp/kea4.sock, leases tmp/l4.csv), its first subnet, that subnet's relay address and a file of its reserved
    MACs for perfdhcp -M: (config, subnet, giaddr, macs path)."""
    loaded = sot.load(write_generated_sot(os.path.join(tmp, "sot.json"), machines))
    settings = kea.Settings.from_dict({
        "interfaces4": [topology.srv_if], "control_socket4": os.path.join(tmp, "kea4.sock"),
        "lease_file4": os.path.join(tmp, "l4.csv"), "log_severity": "WARN"})
    generated = kea.render(loaded, "dhcp4", settings)
    rack = generated["Dhcp4"]["subnet4"][0]
    macs = os.path.join(tmp, "macs.txt")
    with open(macs, "w") as handle:
        handle.write("".join(r["hw-address"] + "\n" for r in rack["reservations"]))
    return generated, rack, rack["relay"]["ip-addresses"][0], macs


def perfdhcp(netns, giaddr, macs, rate, seconds):
    proc = subprocess.run(["ip", "netns", "exec", netns, "perfdhcp", "-4", "-l", giaddr, "-L", "67", "-M", macs,
                           "-r", str(rate), "-p", str(seconds), "-W", "300000", kea_lab.ANYCAST4],
                          capture_output=True, text=True, timeout=seconds + 60, check=False)
    match = re.search(r"Rate: ([0-9.]+)", proc.stdout)
    if not match:
        raise RuntimeError("perfdhcp gave no rate: %s %s" % (proc.stdout[-500:], proc.stderr[-500:]))
    drops = re.findall(r"drops: (\d+)", proc.stdout)
    return float(match.group(1)), [int(d) for d in drops]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--machines", type=int, default=100000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--rate", type=int, default=2500)
    args = parser.parse_args()
    if os.geteuid() != 0 or not shutil.which("kea-dhcp4") or not shutil.which("perfdhcp"):
        raise SystemExit("needs root, kea-dhcp4 and perfdhcp (Debian package kea-admin)")
    signal.signal(signal.SIGTERM, lambda *_signal: sys.exit(143))

    tmp = tempfile.mkdtemp(prefix="nbk-dora-")
    topology = kea_lab.Topology("d%d" % os.getpid())
    try:
        generated, rack, giaddr, macs = render_for_perfdhcp(tmp, args.machines, topology)
        configs = {"generated": generated, "bare": bare_config(generated, rack)}
        print("generated Dhcp4: %d subnets, %d reservations, %d classes; probing %d reserved MACs via %s"
              % (len(generated["Dhcp4"]["subnet4"]),
                 sum(len(s["reservations"]) for s in generated["Dhcp4"]["subnet4"]),
                 len(generated["Dhcp4"]["client-classes"]), len(rack["reservations"]), giaddr))
        topology.create([giaddr], [])
        rates = {"generated": [], "bare": []}
        for round_number in range(1, args.rounds + 1):
            for name in ("bare", "generated") if round_number % 2 else ("generated", "bare"):
                path = os.path.join(tmp, "%s.json" % name)
                with open(path, "w") as handle:
                    json.dump(configs[name], handle)
                if os.path.exists(os.path.join(tmp, "l4.csv")):
                    os.unlink(os.path.join(tmp, "l4.csv"))
                process = kea_lab.KeaProcess(topology.srv, "kea-dhcp4", path, tmp)
                try:
                    process.start(os.path.join(tmp, "kea4.sock"), timeout=120)
                    rate, drops = perfdhcp(topology.cli, giaddr, macs, args.rate, args.seconds)
                finally:
                    process.stop()
                rates[name].append(rate)
                print("round %d %-9s %7.1f DORA/s (drops DO/RA %s, load average %s)"
                      % (round_number, name, rate, drops, open("/proc/loadavg").read().split()[0]))
        mean = {name: sum(values) / len(values) for name, values in rates.items()}
        best = {name: max(values) for name, values in rates.items()}
        ratio = best["generated"] / best["bare"]
        print("mean: generated %.1f/s, bare %.1f/s -> ratio %.2f"
              % (mean["generated"], mean["bare"], mean["generated"] / mean["bare"]))
        print("best: generated %.1f/s, bare %.1f/s -> ratio %.2f (target >= %.1f: %s)"
              % (best["generated"], best["bare"], ratio, TARGET_RATIO, "PASS" if ratio >= TARGET_RATIO else "FAIL"))
        return 0 if ratio >= TARGET_RATIO else 1
    finally:
        topology.destroy()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
