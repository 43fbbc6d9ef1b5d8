# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Outage of the anycast DHCP service per failure/maintenance event, and ECMP spread over two nodes.

Builds the integration fabric (tests/integration/anycast/fabric.py: FRR ToR with dhcrelay, two
nodes with Kea + BIRD + the health loop, all configured by the collection's code) and runs a
DHCPv4 client loop (a DORA every 0.1 s, 0.5 s timeout, reserved MACs) around each event:

  kea-killed   SIGKILL kea-dhcp4 on the node the relay's traffic reaches
  kea-hung     SIGSTOP kea-dhcp4 there (alive to the kernel, answers nothing)
  blackhole    drop all traffic of that node, links up (BFD has to notice)
  drain        anycast_state.ensure(drained) then active, as the anycast_drain module does
  rolling      ansible-playbook playbooks/sync.yml with a changed SoT (drain, apply, probe, undrain)

Baseline, same run: the blackholed node with BFD switched off at the ToR, so only the BGP hold
timer (9 s) withdraws it - what the nodes would see without BFD. Ratios are outage / baseline.

ECMP spread: N relays (N = 1, 4, 16; distinct relay addresses on the ToR) each send DISCOVERs to the
anycast address; Kea's pkt4-offer-sent per node says where they landed.

  sudo /var/tmp/nbf/venv/bin/python benchmarks/anycast_outage.py [--runs 5] [--rolling-runs 5] [--skip-rolling]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration", "anycast"))

import fabric as lab  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.anycast import state as anycast_state  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.anycast import dhcp_probe  # noqa: E402


def _answering(fabric):
    for _attempt in range(20):
        name = fabric.answering_node()
        if name:
            return fabric.node(name)
        time.sleep(0.2)
    raise RuntimeError("no node answers")


def _around(fabric, action, after=4.0):
    with lab.ClientLoop(fabric) as loop:
        time.sleep(1.0)
        action()
        time.sleep(after)
    return loop.summary()


def _kill(fabric):
    victim = _answering(fabric)
    return _around(fabric, victim.kea["dhcp4"].process.kill)


def _hang(fabric):
    victim = _answering(fabric)
    return _around(fabric, lambda: victim.kea["dhcp4"].process.send_signal(signal.SIGSTOP))


def _blackhole(fabric):
    victim = _answering(fabric)
    return _around(fabric, lambda: victim.blackhole(True))


def _blackhole_without_bfd(fabric):
    victim = _answering(fabric)
    fabric.vtysh_lines(["router bgp %d" % lab.TOR_ASN, "no neighbor NODES bfd"])
    try:
        return _around(fabric, lambda: victim.blackhole(True), after=12.0)
    finally:
        fabric.vtysh_lines(["router bgp %d" % lab.TOR_ASN, "neighbor NODES bfd", "neighbor NODES bfd profile fast"])


def _drain(fabric):
    victim = _answering(fabric)

    def drain_and_back():
        anycast_state.ensure("drained", victim.settings.drain_file, victim.settings.status_file)
        anycast_state.ensure("active", victim.settings.drain_file, victim.settings.status_file)
    return _around(fabric, drain_and_back, after=1.0)


def _rolling(fabric, run):
    sot_dir = lab.write_sot(os.path.join(fabric.workdir, "sot-bench-%d" % run), extra_machines=1 + run % 2)

    def push():
        result = lab.run_sync(fabric, sot_dir)
        if result.returncode != 0:
            raise RuntimeError("sync.yml failed:\n" + result.stdout[-3000:])
    started = time.time()
    summary = _around(fabric, push, after=0.5)
    summary["push_seconds"] = round(time.time() - started - 1.5, 1)
    return summary


def _spread(fabric, relays, per_relay=20):
    """Offers per node when `relays` relay addresses each send per_relay DISCOVERs."""
    addresses = ["198.51.100.%d" % (30 + index) for index in range(relays)]
    # The health loops' own probes count as offers too: pause them (the announcement stays).
    for node in fabric.nodes:
        node.health.signal(signal.SIGSTOP)
    time.sleep(0.5)  # a probe already sent is answered before the counters are read
    for address in addresses:
        lab.run("ip", "-n", fabric.tor, "addr", "add", address + "/32", "dev", "tc", check=False)
    before = {node.name: node.stat("dhcp4", "pkt4-offer-sent") or 0 for node in fabric.nodes}
    try:
        for index, address in enumerate(addresses):
            with lab.kea_lab.in_netns(fabric.tor):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.bind((address, 0))
            with sock:
                for count in range(per_relay):
                    packet = dhcp_probe.discover4(index << 16 | count, lab.mac(count % lab.MACHINES), address,
                                                  lab.RELAY4)
                    sock.sendto(packet, (lab.ANYCAST4, 67))
                    time.sleep(0.005)
        time.sleep(1.0)
        after = {node.name: node.stat("dhcp4", "pkt4-offer-sent") or 0 for node in fabric.nodes}
    finally:
        for node in fabric.nodes:
            node.health.signal(signal.SIGCONT)
        for address in addresses:
            lab.run("ip", "-n", fabric.tor, "addr", "del", address + "/32", "dev", "tc", check=False)
    return {name: after[name] - before[name] for name in before}


def _line(name, outages, baseline, lost):
    values = sorted(outages)
    median = statistics.median(values)
    return "%-12s runs=%d outage s: min %.2f median %.2f max %.2f  lost %s  ratio(median/baseline) %.3f" % (
        name, len(values), values[0], median, values[-1], lost, median / baseline if baseline else float("nan"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rolling-runs", type=int, default=5)
    parser.add_argument("--skip-rolling", action="store_true")
    parser.add_argument("--spread-only", action="store_true", help="only the ECMP spread")
    parser.add_argument("--only", help="comma-separated outage scenarios to run (baseline always runs)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("needs root (network namespaces)")

    fabric = lab.Fabric(tag="bench%d" % os.getpid())
    results = {}
    try:
        started = time.time()
        fabric.build()
        fabric.wait_paths(2)
        fabric.wait_paths(2, lab.ANYCAST6)
        print("fabric up in %.1f s (ToR FRR + 2 nodes, ECMP %s)" % (time.time() - started, fabric.nexthops()))
        scenarios = [("baseline", _blackhole_without_bfd, 3), ("kea-killed", _kill, args.runs), ("kea-hung", _hang, args.runs),
                     ("blackhole", _blackhole, args.runs), ("drain", _drain, args.runs)]
        if args.only:
            scenarios = [entry for entry in scenarios if entry[0] == "baseline" or entry[0] in args.only.split(",")]
        for name, scenario, runs in ([] if args.spread_only else scenarios):
            for _run in range(runs):
                summary = scenario(fabric)
                results.setdefault(name, []).append(summary)
                print("  %-11s outage %.2f s, %d/%d exchanges lost, %.1f/s" % (
                    name, summary["outage"], summary["failed"], summary["exchanges"], summary["rate"]), flush=True)
                fabric.heal()
        if not (args.skip_rolling or args.spread_only):
            for run in range(args.rolling_runs):
                summary = _rolling(fabric, run)
                results.setdefault("rolling", []).append(summary)
                print("  %-11s outage %.2f s, %d/%d exchanges lost, push %.1f s" % (
                    "rolling", summary["outage"], summary["failed"], summary["exchanges"], summary["push_seconds"]),
                    flush=True)
                fabric.heal()
        spread = {relays: _spread(fabric, relays) for relays in (1, 4, 16)}
    finally:
        fabric.destroy()

    baseline = statistics.median(summary["outage"] for summary in results["baseline"]) if results else 0
    print("\nOutage per event (client DORA every 0.1 s, timeout 0.5 s; outage = first failed start to next success)")
    for name, summaries in results.items():
        lost = "%d/%d" % (sum(s["failed"] for s in summaries), sum(s["exchanges"] for s in summaries))
        print(_line(name, [s["outage"] for s in summaries], baseline, lost))
    print("\nECMP spread of DISCOVERs over two nodes (fib_multipath_hash_policy 0: source and destination address)")
    for relays, counts in spread.items():
        total = sum(counts.values()) or 1
        shares = ["%s %d (%.0f%%)" % (name, count, 100.0 * count / total) for name, count in sorted(counts.items())]
        print("  %2d relay(s): %s" % (relays, ", ".join(shares)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
