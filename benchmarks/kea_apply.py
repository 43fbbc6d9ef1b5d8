"""Apply 100,000 reservations to a running Kea and measure what clients see.

kea-dhcp6 runs in network namespaces (nbk-srv-<pid>/nbk-cli-<pid>, torn down at the end) with
the generated SoT's Dhcp6 config (100k reservations in 2,500 subnets: the documentation
ranges hold too few IPv4 addresses for 100k DHCPv4 reservations). Then, several times, one
machine is changed and the config applied the way kea_config does it (config-test,
config-set); meanwhile a relayed client sends 50 SOLICITs/s for a reserved machine.
Reported per apply: config-test and config-set seconds, exchanges lost (no answer within
1 s) and the longest gap, Kea's RSS afterwards. Baselines from the same run: Kea's start-up
with the same config, its RSS after start, and a probe period with no apply.

Optionally (--ansible) times the netboot.fleet.kea_config action with `sot:` (render on the
controller, copy one file) against the same config passed in as `config:` from a variable.

    python benchmarks/kea_apply.py [--machines 100000] [--applies 3] [--ansible]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "collections"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "kea"))
sys.path.insert(0, HERE)

from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.kea import config as kea  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.kea.control import KeaControlClient  # noqa: E402
import kea_lab  # noqa: E402
from kea_render import write_generated_sot  # noqa: E402
from scapy.layers.dhcp6 import (DHCP6_RelayForward, DHCP6_RelayReply, DHCP6_Solicit, DHCP6OptClientId,  # noqa: E402
                                DHCP6OptElapsedTime, DHCP6OptIA_NA, DHCP6OptRelayMsg, DUID_LL)

PROBE_RATE = 50
LOST_AFTER = 1.0


class Probe:
    """Relayed SOLICITs at a fixed rate; records send and answer times per transaction."""

    def __init__(self, netns, link_address, mac):
        self.sock = kea_lab._udp(netns, socket.AF_INET6, (link_address, 547), 0.2)
        self.link_address, self.mac = link_address, mac
        self.sent, self.answered = {}, {}
        self.stop = threading.Event()

    def _packet(self, trid):
        solicit = (DHCP6_Solicit(trid=trid) / DHCP6OptClientId(duid=DUID_LL(lladdr=self.mac))
                   / DHCP6OptIA_NA(iaid=1) / DHCP6OptElapsedTime())
        return bytes(DHCP6_RelayForward(linkaddr=self.link_address, peeraddr=kea_lab._link_local(self.mac))
                     / DHCP6OptRelayMsg(message=solicit))

    def _send(self):
        trid, next_at = random.getrandbits(20) << 3, time.monotonic()
        while not self.stop.is_set():
            trid += 1
            self.sent[trid] = time.monotonic()
            self.sock.sendto(self._packet(trid), (kea_lab.ANYCAST6, 547))
            next_at += 1.0 / PROBE_RATE
            time.sleep(max(0.0, next_at - time.monotonic()))

    def _receive(self):
        while not self.stop.is_set() or time.monotonic() - max(self.sent.values(), default=0) < LOST_AFTER:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            reply = DHCP6_RelayReply(data)
            if DHCP6OptRelayMsg in reply:
                self.answered.setdefault(reply[DHCP6OptRelayMsg].message.trid, time.monotonic())

    def run(self, action):
        """Probe while action() runs (plus one second before and after); return the stats."""
        self.sent, self.answered = {}, {}
        self.stop.clear()
        threads = [threading.Thread(target=self._send), threading.Thread(target=self._receive)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        result = action()
        time.sleep(1.0)
        self.stop.set()
        for thread in threads:
            thread.join()
        lost = [t for trid, t in self.sent.items()
                if trid not in self.answered or self.answered[trid] - t > LOST_AFTER]
        times = sorted(self.sent.values())
        ok = sorted(t for trid, t in self.sent.items() if t not in lost)
        gap = max((b - a for a, b in zip(ok, ok[1:])), default=0.0)
        return result, {"sent": len(times), "lost": len(lost), "longest_gap_s": round(gap, 2)}


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def timed(client, command, arguments):
    start = time.monotonic()
    client.call(command, arguments)
    return time.monotonic() - start


def ansible_compare(tmp, sot_path, settings, socket_path, rendered_path):
    """Time the kea_config action on an unchanged config: sot (render here, copy a file) vs config (a 20 MB var)."""
    playbook = os.path.join(tmp, "bench.yml")
    with open(playbook, "w") as handle:
        handle.write("""\
- hosts: localhost
  gather_facts: false
  tasks:
    - netboot.fleet.kea_config:
        family: dhcp6
        sot: "{{ sot_path if mode == 'sot' else omit }}"
        config: "{{ (lookup('ansible.builtin.file', rendered) | from_json) if mode == 'config' else omit }}"
        settings: "{{ settings }}"
        control_socket: "{{ socket_path }}"
        persist: none
      register: applied
    - ansible.builtin.debug:
        msg: "{{ applied.timing }} changed={{ applied.changed }}"
""")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, "collections"), ANSIBLE_NOCOLOR="1")
    results = {}
    for mode in ("sot", "config"):
        extra = {"mode": mode, "sot_path": sot_path, "rendered": rendered_path, "settings": settings,
                 "socket_path": socket_path, "ansible_python_interpreter": sys.executable}
        varsfile = os.path.join(tmp, "vars.json")
        with open(varsfile, "w") as handle:
            json.dump(extra, handle)
        start = time.monotonic()
        proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                               "-c", "local", "-e", "@" + varsfile, playbook],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
        elapsed = time.monotonic() - start
        line = next((l.strip() for l in proc.stdout.splitlines() if "changed=" in l and "msg" in l), proc.stdout[-300:])
        results[mode] = (elapsed, proc.returncode, line)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--machines", type=int, default=100000)
    parser.add_argument("--applies", type=int, default=3)
    parser.add_argument("--ansible", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0 or shutil.which("kea-dhcp6") is None:
        raise SystemExit("needs root and kea-dhcp6")

    # A timeout's SIGTERM must still run the clean-up below (namespaces, Kea).
    signal.signal(signal.SIGTERM, lambda *_signal: sys.exit(143))
    tmp = tempfile.mkdtemp(prefix="nbk-apply-")
    topology = kea_lab.Topology("b%d" % os.getpid())
    process = None
    try:
        sot_path = write_generated_sot(os.path.join(tmp, "sot.json"), args.machines)
        loaded = sot.load(sot_path)
        probe_machine = next(m for m in loaded.machines if m.ipv6)
        gateway = loaded.network(probe_machine.network).ipv6.gateway
        settings = {"interfaces6": ["%s/%s" % (topology.srv_if, kea_lab.ANYCAST6)],
                    "control_socket6": os.path.join(tmp, "kea6.sock"), "lease_file6": os.path.join(tmp, "l6.csv"),
                    "data_directory": tmp, "log_severity": "WARN"}
        config = kea.render(loaded, "dhcp6", kea.Settings.from_dict(settings))
        config_path = os.path.join(tmp, "kea-dhcp6.conf")
        with open(config_path, "w") as handle:
            handle.write(kea.dumps(config))
        print("config: %d subnets, %d reservations, %.1f MB"
              % (len(config["Dhcp6"]["subnet6"]), sum(len(s["reservations"]) for s in config["Dhcp6"]["subnet6"]),
                 os.path.getsize(config_path) / 1e6))

        topology.create([], [gateway])
        process = kea_lab.KeaProcess(topology.srv, "kea-dhcp6", config_path, tmp)
        start = time.monotonic()
        process.start(settings["control_socket6"], timeout=120)
        startup = time.monotonic() - start
        client = KeaControlClient(socket_path=settings["control_socket6"], timeout=300)
        rss_start = rss_mb(process.pid)
        probe = Probe(topology.cli, gateway, probe_machine.mac)
        _none, idle = probe.run(lambda: time.sleep(3.0))
        print("baseline: start-up %.1f s, RSS %.0f MB; idle probe: %s; load average %s"
              % (startup, rss_start, idle, open("/proc/loadavg").read().split()[0]))

        victim = config["Dhcp6"]["subnet6"][-1]["reservations"]
        rows = []
        for number in range(1, args.applies + 1):
            victim[0]["hostname"] = "changed-%d" % number  # a real change each time

            def apply():
                return timed(client, "config-test", config), timed(client, "config-set", config)
            (test_s, set_s), stats = probe.run(apply)
            rss = rss_mb(process.pid)
            rows.append((test_s, set_s, stats, rss))
            print("apply %d: config-test %.1f s, config-set %.1f s, probe %s, RSS %.0f MB, load average %s"
                  % (number, test_s, set_s, stats, rss, open("/proc/loadavg").read().split()[0]))
        assert process.alive(), "Kea died during the applies"
        set_mean = sum(r[1] for r in rows) / len(rows)
        print("ratios: config-set / start-up %.2f; RSS last / start %.2f; lost exchanges per second of "
              "test+set %.1f (probe rate %d/s)"
              % (set_mean / startup, rows[-1][3] / rss_start,
                 sum(r[2]["lost"] for r in rows) / sum(r[0] + r[1] for r in rows), PROBE_RATE))

        if args.ansible:
            results = ansible_compare(tmp, sot_path, settings, settings["control_socket6"], config_path)
            for mode, (elapsed, returncode, line) in results.items():
                print("kea_config with %s: %.1f s wall (rc %d) %s" % (mode, elapsed, returncode, line))
            print("ratio config-arg / sot-render: %.2f" % (results["config"][0] / results["sot"][0]))
    finally:
        if process is not None:
            process.stop()
        topology.destroy()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
