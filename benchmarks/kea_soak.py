"""Kea's memory over rolling pushes: config-set into the running Kea vs a restart of the drained node.

kea-dhcp6 with the generated SoT's configuration (100k reservations by default) in kea_lab's
namespaces. `--pushes` times, one reservation changes and the configuration is applied either way:
  config-set  config-test + config-set over the control socket (what kea_config does)
  restart     the file rewritten, Kea stopped (SIGTERM) and started on it, until status-get answers
Printed per push: seconds and Kea's RSS; then per mode RSS last/first and the time ratio restart /
config-set, measured in the same run. A drained node serves nobody, so either is invisible to clients.

    python benchmarks/kea_soak.py [--machines 100000] [--pushes 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from kea_apply import rss_mb, timed  # noqa: E402  (also puts the collection and kea_lab on the path)
from kea_apply import kea, kea_lab, sot, write_generated_sot, KeaControlClient  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--machines", type=int, default=100000)
    parser.add_argument("--pushes", type=int, default=10)
    args = parser.parse_args()
    if os.geteuid() != 0 or shutil.which("kea-dhcp6") is None:
        raise SystemExit("needs root and kea-dhcp6")
    signal.signal(signal.SIGTERM, lambda *_signal: sys.exit(143))
    tmp = tempfile.mkdtemp(prefix="nbq-soak-")
    topology = kea_lab.Topology("q%d" % os.getpid())
    process = None
    try:
        loaded = sot.load(write_generated_sot(os.path.join(tmp, "sot.json"), args.machines))
        socket_path = os.path.join(tmp, "kea6.sock")
        settings = {"interfaces6": ["%s/%s" % (topology.srv_if, kea_lab.ANYCAST6)], "control_socket6": socket_path,
                    "lease_file6": os.path.join(tmp, "l6.csv"), "data_directory": tmp, "log_severity": "WARN"}
        config = kea.render(loaded, "dhcp6", kea.Settings.from_dict(settings))
        victim = config["Dhcp6"]["subnet6"][-1]["reservations"][0]
        config_path = os.path.join(tmp, "kea-dhcp6.conf")

        def write(number):
            victim["hostname"] = "push-%d" % number  # a real change each push
            with open(config_path, "w") as handle:
                handle.write(kea.dumps(config))

        topology.create([], [])
        results = {}
        for mode in ("config-set", "restart"):
            write(0)
            process = kea_lab.KeaProcess(topology.srv, "kea-dhcp6", config_path, tmp)
            process.start(socket_path, timeout=300)
            client = KeaControlClient(socket_path=socket_path, timeout=600)
            rss, seconds = [rss_mb(process.pid)], []
            for number in range(1, args.pushes + 1):
                write(number)
                start = time.monotonic()
                if mode == "config-set":
                    timed(client, "config-test", config)
                    timed(client, "config-set", config)
                else:
                    process.stop()
                    process.start(socket_path, timeout=300)
                seconds.append(time.monotonic() - start)
                rss.append(rss_mb(process.pid))
                print("%-10s push %2d: %5.1f s, RSS %5.0f MB (load average %s)"
                      % (mode, number, seconds[-1], rss[-1], open("/proc/loadavg").read().split()[0]), flush=True)
            process.stop()
            results[mode] = (rss, seconds)
        for mode, (rss, seconds) in results.items():
            print("%-10s RSS %.0f -> %.0f MB (last/first %.2f), median %.1f s per push"
                  % (mode, rss[0], rss[-1], rss[-1] / rss[0], statistics.median(seconds)))
        print("ratio restart / config-set, median seconds per push: %.2f"
              % (statistics.median(results["restart"][1]) / statistics.median(results["config-set"][1])))
    finally:
        if process is not None:
            process.stop()
        topology.destroy()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
