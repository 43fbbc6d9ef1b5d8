"""Health probes Kea leaves unanswered while it is scraped: kea-exporter as published (config-get before every
statistics query) vs as the node_metrics role runs it (plugins/module_utils/kea/metrics_exporter.py: subnets from
the configuration file).

kea-dhcp6 runs in a namespace with the Dhcp6 config rendered from a generated SoT (100,000 machines: every one
has a DHCPv6 reservation); the anycast health loop's own probe (dhcp_probe.probe6, relayed SOLICIT over loopback,
0.25 s timeout) runs every 0.1 s; each exporter is scraped `--scrapes` times. Printed: per exporter the scrape
times and the probes that failed during scrapes (the health loop withdraws a node after 2 failed rounds).

    python benchmarks/metrics_stall.py [--machines 100000] [--scrapes 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from kea_dora import kea, kea_lab, sot  # noqa: E402  (kea_dora puts the paths in place)
from kea_render import write_generated_sot  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.anycast import dhcp_probe  # noqa: E402

KEA_METRICS = os.path.join(os.path.dirname(HERE), "plugins", "module_utils", "kea", "metrics_exporter.py")


def free_tcp_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scrape_round(argv, port, scrapes, probes, workdir, name):
    """Start an exporter, scrape it `scrapes` times; (scrape seconds, probes failed during them)."""
    with open(os.path.join(workdir, name + ".log"), "ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=log)  # pylint: disable=consider-using-with
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("%s did not listen" % name) from None
                time.sleep(0.2)
        durations, failed = [], 0
        for dummy in range(scrapes):
            started = time.monotonic()
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=300) as answer:
                if b"kea_dhcp6_packets_received_total" not in answer.read():
                    raise RuntimeError("%s answered without Kea's statistics" % name)
            ended = time.monotonic()
            durations.append(ended - started)
            time.sleep(1.0)
            failed += sum(1 for stamp, ok in list(probes) if started <= stamp <= ended and not ok)
        return durations, failed
    finally:
        process.terminate()
        process.wait(10)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--machines", type=int, default=100000)
    parser.add_argument("--scrapes", type=int, default=2)
    args = parser.parse_args()
    if os.geteuid() != 0 or not shutil.which("kea-dhcp6"):
        raise SystemExit("needs root and kea-dhcp6")
    tmp = tempfile.mkdtemp(prefix="nbm-stall-")
    topology = kea_lab.Topology("s%d" % os.getpid())
    stop = threading.Event()
    try:
        topology.create([], [])
        control_socket = os.path.join(tmp, "kea6.sock")
        loaded = sot.load(write_generated_sot(os.path.join(tmp, "sot.json"), args.machines))
        settings = kea.Settings.from_dict({"interfaces6": [topology.srv_if, "lo/::1"], "control_socket6": control_socket,
                                           "lease_file6": os.path.join(tmp, "l6.csv"), "data_directory": tmp,
                                           "log_severity": "WARN"})
        config = kea.render(loaded, "dhcp6", settings)
        subnet = config["Dhcp6"]["subnet6"][0]
        reserved = subnet["reservations"][0]
        path = os.path.join(tmp, "kea-dhcp6.conf")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(config, handle)
        print("Dhcp6 of %d machines: %d subnets, %d reservations" % (
            args.machines, len(config["Dhcp6"]["subnet6"]), sum(len(s.get("reservations", [])) for s in config["Dhcp6"]["subnet6"])))
        kea_process = kea_lab.KeaProcess(topology.srv, "kea-dhcp6", path, tmp)
        kea_process.start(control_socket, timeout=600)
        probes = []

        def probe_loop():
            with kea_lab.in_netns(topology.srv):
                while not stop.is_set():
                    result = dhcp_probe.probe6("::1", subnet["relay"]["ip-addresses"][0], mac=reserved.get("hw-address", dhcp_probe.PROBE_MAC),
                                               duid=reserved.get("duid"), timeout=0.25)
                    probes.append((time.monotonic(), result.ok))
                    stop.wait(0.1)

        thread = threading.Thread(target=probe_loop, daemon=True)
        thread.start()
        time.sleep(3)
        idle = [ok for dummy, ok in probes]
        print("idle: %d of %d probes answered" % (sum(idle), len(idle)))
        port = free_tcp_port()
        exporters = {
            "kea-exporter (config-get)": [sys.executable, "-m", "kea_exporter", "--address", "127.0.0.1", "--port", str(port),
                                          control_socket],
            "node_metrics (config file)": [sys.executable, KEA_METRICS, "--address", "127.0.0.1", "--port", str(port),
                                           "--target", "%s=%s" % (control_socket, path)],
        }
        failures = {}
        for name, argv in exporters.items():
            durations, failed = scrape_round(argv, port, args.scrapes, probes, tmp, name.split()[0])
            failures[name] = failed
            print("%-27s scrapes %s s; %d probes unanswered during them (load average %s)" % (
                name, ", ".join("%.2f" % d for d in durations), failed, open("/proc/loadavg", encoding="ascii").read().split()[0]))
        kea_process.stop()
        return 0
    finally:
        stop.set()
        topology.destroy()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
