# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus gauges of an anycast node's health loop, read from the loop's status file at each scrape.

The loop (dhcp_probe.py watch) already writes everything it knows to its status file every round;
this exporter only reads it, so the loop stays standard-library only and unchanged. Copied to the
nodes by the node_metrics role, beside dhcp_probe.py (it reads the status with the loop's own reader),
and run beside kea-exporter (which exports Kea's own statistics).

    health_metrics.py --config /etc/netboot-anycast/healthcheck.json --address 192.0.2.1 --port 9548

Gauges (label node, plus family where it applies):
  netboot_anycast_up                     1 while the status file is fresh (the loop is running)
  netboot_anycast_status_age_seconds     seconds since the loop last wrote its status
  netboot_anycast_announced              1 announced, 0 withdrawn (the BIRD export the loop drives)
  netboot_anycast_drained                1 while the drain file is present
  netboot_anycast_state{state}           1 for the current one of announced / drained / withdrawn
  netboot_anycast_state_since_seconds    Unix time of the last announce/withdraw
  netboot_anycast_probe_ok{family,check}       last round's result per check (dhcp, status-get)
  netboot_anycast_probe_duration_seconds{...}  last round's time per check
A round stops at its first failed check: the checks after it have no sample in that round.
"""

from __future__ import annotations

import argparse
import sys
import time

try:
    from ansible_collections.netboot.fleet.plugins.module_utils.anycast.dhcp_probe import (
        ANNOUNCED, WITHDRAWN, load_config, read_status)
except ImportError:  # a program on the node, beside dhcp_probe.py (the anycast_bgp role installs both there)
    from dhcp_probe import ANNOUNCED, WITHDRAWN, load_config, read_status  # type: ignore[no-redef]

try:
    from prometheus_client.core import GaugeMetricFamily
    HAS_PROMETHEUS_CLIENT = True
except ImportError:  # only the exporter program needs it; the pure parts below do not
    HAS_PROMETHEUS_CLIENT = False

DRAINED = "drained"
STATES = (ANNOUNCED, DRAINED, WITHDRAWN)
# The status is rewritten every round (a fraction of a second); older than this, the loop is not running.
STALE_AFTER = 5.0


def state_of(status: dict) -> str:
    """announced / drained / withdrawn: a drained node is withdrawn on purpose."""
    if status.get("state") == ANNOUNCED:
        return ANNOUNCED
    return DRAINED if status.get("drained") else WITHDRAWN


def check_labels(name: str) -> tuple:
    """(family, check) of a ProbeResult's check name: "dhcp4" -> (dhcp4, dhcp); "status-get dhcp6" -> (dhcp6, status-get)."""
    if name.startswith("status-get"):
        return name[len("status-get"):].strip() or "unknown", "status-get"
    return name, "dhcp"


def samples(status: dict | None, now: float) -> list:
    """[(metric, labels, value)] for one status (None: the loop never wrote one)."""
    if status is None:
        return [("up", {}, 0.0)]
    age = max(0.0, now - float(status.get("updated", 0)))
    state = state_of(status)
    rows = [("up", {}, 1.0 if age <= STALE_AFTER else 0.0),
            ("status_age_seconds", {}, round(age, 3)),
            ("announced", {}, 1.0 if state == ANNOUNCED else 0.0),
            ("drained", {}, 1.0 if status.get("drained") else 0.0),
            ("state_since_seconds", {}, float(status.get("since", 0)))]
    rows += [("state", {"state": name}, 1.0 if name == state else 0.0) for name in STATES]
    for result in status.get("checks") or []:
        family, check = check_labels(str(result.get("check", "")))
        labels = {"family": family, "check": check}
        rows.append(("probe_ok", labels, 1.0 if result.get("ok") else 0.0))
        rows.append(("probe_duration_seconds", labels, float(result.get("seconds") or 0.0)))
    return rows


_HELP = {
    "up": "1 while the health loop's status file is fresh",
    "status_age_seconds": "Seconds since the health loop last wrote its status",
    "announced": "1 while the node announces the anycast prefixes",
    "drained": "1 while the node is drained on purpose",
    "state": "1 for the node's current anycast state",
    "state_since_seconds": "Unix time of the last announce or withdraw",
    "probe_ok": "Last round's result of a health check (1 passed)",
    "probe_duration_seconds": "Last round's duration of a health check",
}


class StatusCollector:
    """A prometheus_client collector: one read of the status file per scrape."""

    def __init__(self, node: str, status_file: str, clock=time.time):
        self.node, self.status_file, self.clock = node, status_file, clock

    def collect(self):
        families = {}
        for name, labels, value in samples(read_status(self.status_file), self.clock()):
            if name not in families:
                families[name] = GaugeMetricFamily("netboot_anycast_" + name, _HELP[name],
                                                   labels=["node"] + sorted(labels))
            families[name].add_metric([self.node] + [labels[key] for key in sorted(labels)], value)
        return list(families.values())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="health_metrics.py",
                                     description="Prometheus gauges of the anycast health loop (netboot.fleet).")
    parser.add_argument("--config", required=True, help="the health loop's configuration (healthcheck.json)")
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9548)
    args = parser.parse_args(argv)
    if not HAS_PROMETHEUS_CLIENT:
        sys.stderr.write("health_metrics.py needs prometheus_client (installed by the node_metrics role)\n")
        return 2
    from prometheus_client import REGISTRY, start_http_server

    try:
        config = load_config(args.config)
    except (OSError, ValueError) as exc:
        sys.stderr.write("cannot read the health-check configuration %s: %s\n" % (args.config, exc))
        return 2
    REGISTRY.register(StatusCollector(config["node"], config["status_file"]))
    start_http_server(args.port, args.address)
    sys.stdout.write("serving http://%s:%d/metrics\n" % (args.address, args.port))
    sys.stdout.flush()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    raise SystemExit(main())
