"""An anycast DHCP fabric in network namespaces, built from the collection's own renderers.

    nba-cli-<tag>                nba-tor-<tag>                                  nba-n1-<tag>, nba-n2-<tag>
    client c0 ----------------- tc  FRR (zebra, bgpd, bfdd)  t1 -------------- e0  Kea 4/6 + BIRD + health loop
    198.51.100.2/26                 198.51.100.1/26 (rack12 relay)  t2 ------ e0  anycast on an ifb/dummy device
                                    dhcrelay -4 to the anycast address

The nodes are configured by plugins/module_utils/kea/config.py, anycast/bird.py and anycast/dhcp_probe.py exactly as the roles
configure a real node (same renderers, same health loop), with paths under the fabric's work
directory. Every process is started here and stopped by PID.
"""

from __future__ import annotations

import itertools
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "collections"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "kea"))

from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.anycast import bird as bgp  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.kea import config as kea  # noqa: E402
import kea_lab  # noqa: E402  (namespaces and Kea processes: reused, not copied)

PROBE = os.path.join(REPO, "plugins", "module_utils", "anycast", "dhcp_probe.py")
ANYCAST4, ANYCAST6 = "203.0.113.53", "2001:db8:53::53"
TOR_ASN, NODE_ASN = 65000, 65053
RELAY4, RELAY6 = "198.51.100.1", "2001:db8:12::1"
CLIENT4 = "198.51.100.2"
NODES = ("n1", "n2")
MACHINES = 8  # reserved clients: 02:00:00:00:00:10.. -> 198.51.100.10.., 2001:db8:12::10..


def missing_tools():
    """Why the fabric cannot be built on this machine, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("kea-dhcp4", "kea-dhcp6", "bird", "birdc", "vtysh", "dhcrelay", "iptables", "ip6tables", "ip"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    if not os.path.exists("/usr/lib/frr/bgpd"):
        return "FRR is not installed"
    return None


def run(*command, check=True, timeout=60):
    return subprocess.run(command, check=check, capture_output=True, text=True, timeout=timeout)


def write_sot(directory, extra_machines=0):
    """The fabric's SoT: two nodes (v4 and v6 sessions to the ToR), rack12 dual-stack with pools,
    MACHINES (+ extra_machines) reserved clients. Returns the directory."""
    os.makedirs(directory, exist_ok=True)
    nodes = []
    for index, name in enumerate(NODES, start=1):
        nodes.append({"name": name, "address": "192.0.2.%d" % (2 * index - 1), "address6": "2001:db8:d%d::2" % index,
                      "peers": [{"name": "tor", "address": "192.0.2.%d" % (2 * index - 2), "asn": TOR_ASN},
                                {"name": "tor", "address": "2001:db8:d%d::1" % index, "asn": TOR_ASN}]})
    machines = []
    for index in range(MACHINES + extra_machines):
        machines.append({"name": "m%02d" % index, "mac": mac(index), "ipv4": "198.51.100.%d" % (10 + index),
                         "ipv6": "2001:db8:12::%x" % (0x10 + index), "duid": duid(index), "network": "rack12",
                         "profile": "debian12", "firmware": "bios",
                         "bmc": {"address": "192.0.2.%d" % (100 + index), "protocol": "ipmi"}})
    data = {
        "fabric": {"anycast": {"ipv4": ANYCAST4, "ipv6": ANYCAST6}, "asn": NODE_ASN},
        "dhcp_nodes": nodes,
        "networks": [{"name": "rack12",
                      "ipv4": {"prefix": "198.51.100.0/26", "gateway": RELAY4, "pool": "198.51.100.50-198.51.100.60"},
                      "ipv6": {"prefix": "2001:db8:12::/64", "gateway": RELAY6,
                               "pool": "2001:db8:12::1000-2001:db8:12::1fff"}}],
        "profiles": {"debian12": {"installer": "preseed", "kernel": "debian12/linux", "initrd": "debian12/initrd.gz"}},
        "machines": machines,
    }
    with open(os.path.join(directory, "sot.json"), "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
    return directory


def mac(index):
    return "02:00:00:00:00:%02x" % (0x10 + index)


def duid(index):
    return "00:03:00:01:" + mac(index)


def reserved4(index):
    return "198.51.100.%d" % (10 + index)


def reserved6(index):
    return "2001:db8:12::%x" % (0x10 + index)


def anycast_device_type(netns):
    """dummy where the kernel has it, else ifb (this machine's kernel has no dummy driver)."""
    probe = run("ip", "-n", netns, "link", "add", "nbaprobe0", "type", "dummy", check=False)
    if probe.returncode == 0:
        run("ip", "-n", netns, "link", "del", "nbaprobe0")
        return "dummy"
    return "ifb"


class Daemon:
    """A foreground process in a namespace, stopped by its PID."""

    def __init__(self, name, netns, argv, workdir, env=None):
        self.name, self.netns, self.argv, self.workdir = name, netns, argv, workdir
        self.log_path = os.path.join(workdir, "%s.log" % name)
        self.env = env
        self.process = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(["ip", "netns", "exec", self.netns] + self.argv, stdout=log,
                                            stderr=subprocess.STDOUT, env=self.env)
        return self

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def signal(self, signum):
        if self.alive():
            self.process.send_signal(signum)

    def stop(self):
        if self.alive():
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def tail(self, lines=20):
        try:
            with open(self.log_path, errors="replace") as log:
                return "".join(log.readlines()[-lines:])
        except OSError:
            return ""


class Node:
    """One DHCP node: Kea dhcp4/dhcp6, BIRD, the health loop (dhcp_probe.py watch)."""

    def __init__(self, fabric, name, index):
        self.fabric, self.name, self.index = fabric, name, index
        self.netns = "nba-%s-%s" % (name, fabric.tag)
        self.dir = os.path.join(fabric.workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.kea = {}
        # More Kea settings (e.g. a shared lease database) and Kea's environment (libpq's PG* variables).
        self.kea_extra, self.kea_environment = {}, {}
        self.bird = None
        self.health = None
        self.settings = bgp.Settings(
            anycast_device="anycast0", announce_file=os.path.join(self.dir, "announce.conf"),
            drain_file=os.path.join(self.dir, "drained"), status_file=os.path.join(self.dir, "status.json"),
            bird_socket=os.path.join(self.dir, "bird.ctl"), bird_log=os.path.join(self.dir, "bird.log"),
            control_socket4=os.path.join(self.dir, "kea4.sock"), control_socket6=os.path.join(self.dir, "kea6.sock"))

    # Paths the roles/playbooks are told about (the test inventory of sync.yml)
    @property
    def healthcheck_path(self):
        return os.path.join(self.dir, "healthcheck.json")

    def kea_settings(self, fleet):
        interfaces = bgp.kea_interfaces(fleet, self.settings)
        return {
            "interfaces4": interfaces["interfaces4"], "interfaces6": interfaces["interfaces6"],
            "control_socket4": self.settings.control_socket4, "control_socket6": self.settings.control_socket6,
            "lease_file4": os.path.join(self.dir, "leases4.csv"), "lease_file6": os.path.join(self.dir, "leases6.csv"),
            "data_directory": self.dir, "lfc_interval": 0, "multi_threading": False, "log_output": "stdout",
            **self.kea_extra,
        }

    def config_path(self, family):
        return os.path.join(self.dir, "kea-%s.conf" % family)

    def write_configs(self, fleet):
        settings = kea.Settings.from_dict(self.kea_settings(fleet))
        for family in ("dhcp4", "dhcp6"):
            with open(self.config_path(family), "w", encoding="utf-8") as handle:
                handle.write(kea.dumps(kea.render(fleet, family, settings), pretty=True))
        with open(os.path.join(self.dir, "bird.conf"), "w", encoding="utf-8") as handle:
            handle.write(bgp.render_bird(fleet, self.name, self.settings))
        with open(self.healthcheck_path, "w", encoding="utf-8") as handle:
            json.dump(bgp.render_healthcheck(fleet, self.name, self.settings), handle, indent=1)
        if not os.path.exists(self.settings.announce_file):
            with open(self.settings.announce_file, "w", encoding="utf-8") as handle:
                handle.write("define %s = false;\n" % bgp.ANNOUNCE_CONSTANT)

    def start_kea(self, family):
        daemon = {"dhcp4": "kea-dhcp4", "dhcp6": "kea-dhcp6"}[family]
        socket_path = self.settings.control_socket4 if family == "dhcp4" else self.settings.control_socket6
        if os.path.exists(socket_path):
            os.unlink(socket_path)
        process = kea_lab.KeaProcess(self.netns, daemon, self.config_path(family), self.dir, self.kea_environment)
        process.start(socket_path)
        self.kea[family] = process
        return process

    def start(self):
        for family in ("dhcp4", "dhcp6"):
            self.start_kea(family)
        self.bird = Daemon("bird", self.netns, ["bird", "-f", "-c", os.path.join(self.dir, "bird.conf"),
                                                "-s", self.settings.bird_socket], self.dir).start()
        self.health = Daemon("health", self.netns, [sys.executable, PROBE, "watch", "--config",
                                                    self.healthcheck_path], self.dir).start()

    def stop(self):
        for daemon in [self.health, self.bird] + list(self.kea.values()):
            if daemon is not None:
                daemon.stop()

    def status(self):
        try:
            with open(self.settings.status_file, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {}

    def stat(self, family, name):
        """A Kea statistic (e.g. pkt4-ack-sent) read over the control socket; None when Kea is down."""
        socket_path = self.settings.control_socket4 if family == "dhcp4" else self.settings.control_socket6
        try:
            answer = kea_lab.control(socket_path, "statistic-get", {"name": name}, timeout=2)
        except (OSError, ValueError):
            return None
        samples = (answer.get("arguments") or {}).get(name) or [[0]]
        return samples[0][0]

    def birdc(self, *command):
        return run("birdc", "-s", self.settings.bird_socket, *command, check=False).stdout

    def blackhole(self, on):
        """Drop every packet in and out of the node, links stay up (a hung box behind the switch)."""
        for tool in ("iptables", "ip6tables"):
            for chain in ("INPUT", "OUTPUT"):
                if on:
                    run("ip", "netns", "exec", self.netns, tool, "-I", chain, "-j", "DROP")
                else:
                    run("ip", "netns", "exec", self.netns, tool, "-F", chain, check=False)

    def drain(self, on):
        if on:
            with open(self.settings.drain_file, "w", encoding="utf-8") as handle:
                handle.write("test\n")
        elif os.path.exists(self.settings.drain_file):
            os.unlink(self.settings.drain_file)


_FABRICS = itertools.count(1)


class Fabric:
    def __init__(self, tag=None, extra_machines=0):
        # Two modules of one pytest worker may each build a fabric: the tag tells them apart.
        self.tag = tag or "%d-%d" % (os.getpid(), next(_FABRICS))
        self.workdir = tempfile.mkdtemp(prefix="nba-fabric-")
        os.chmod(self.workdir, 0o755)  # FRR drops to user frr and must reach its own directory
        self.sot_dir = write_sot(os.path.join(self.workdir, "sot"), extra_machines)
        self.fleet = sot.load(self.sot_dir)
        self.tor = "nba-tor-%s" % self.tag
        self.cli = "nba-cli-%s" % self.tag
        self.nodes = [Node(self, name, index) for index, name in enumerate(NODES, start=1)]
        self.frr = []
        self.relay = None
        self.tor_dir = os.path.join(self.workdir, "tor")

    @property
    def namespaces(self):
        return [self.tor, self.cli] + [node.netns for node in self.nodes]

    def node(self, name):
        return next(node for node in self.nodes if node.name == name)

    # ------------------------------------------------------------------ build
    def build(self):
        for ns in self.namespaces:
            run("ip", "netns", "add", ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
            # No DAD: kea-dhcp6 binds each interface's link-local address at start and answers
            # relays through it; a still-tentative address would leave the uplink without a socket.
            run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0")
        run("ip", "link", "add", "tc", "netns", self.tor, "type", "veth", "peer", "name", "c0", "netns", self.cli)
        tor = ["ip", "-n", self.tor]
        run(*tor, "addr", "add", RELAY4 + "/26", "dev", "tc")
        run(*tor, "addr", "add", RELAY6 + "/64", "dev", "tc", "nodad")
        for node in self.nodes:
            index = node.index
            uplink = "t%d" % index
            run("ip", "link", "add", uplink, "netns", self.tor, "type", "veth", "peer", "name", "e0", "netns", node.netns)
            run(*tor, "addr", "add", "192.0.2.%d/31" % (2 * index - 2), "dev", uplink)
            run(*tor, "addr", "add", "2001:db8:d%d::1/64" % index, "dev", uplink, "nodad")
            run(*tor, "link", "set", uplink, "up")
            n = ["ip", "-n", node.netns]
            run(*n, "addr", "add", "192.0.2.%d/31" % (2 * index - 1), "dev", "e0")
            run(*n, "addr", "add", "2001:db8:d%d::2/64" % index, "dev", "e0", "nodad")
            run(*n, "link", "set", "e0", "up")
            run(*n, "route", "add", "default", "via", "192.0.2.%d" % (2 * index - 2))
            run(*n, "-6", "route", "add", "default", "via", "2001:db8:d%d::1" % index)
            run(*n, "link", "add", "anycast0", "type", anycast_device_type(node.netns))
            run(*n, "link", "set", "anycast0", "up")
            run(*n, "addr", "add", ANYCAST4 + "/32", "dev", "anycast0")
            run(*n, "addr", "add", ANYCAST6 + "/128", "dev", "anycast0", "nodad")
        run(*tor, "link", "set", "tc", "up")
        run("ip", "netns", "exec", self.tor, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
            "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
        run("ip", "-n", self.cli, "addr", "add", CLIENT4 + "/26", "dev", "c0")
        run("ip", "-n", self.cli, "link", "set", "c0", "up")
        self._start_tor()
        for node in self.nodes:
            node.write_configs(self.fleet)
            node.start()
        relay = ["dhcrelay", "-d", "-4", "-pf", os.path.join(self.tor_dir, "dhcrelay.pid"),
                 "-id", "tc", "-iu", "t1", "-iu", "t2", ANYCAST4]
        self.relay = Daemon("dhcrelay", self.tor, relay, self.tor_dir).start()

    def frr_conf(self):
        neighbors = []
        for node in self.nodes:
            neighbors += ["192.0.2.%d" % (2 * node.index - 1), "2001:db8:d%d::2" % node.index]
        lines = ["frr defaults traditional", "hostname tor", "log file %s/frr.log informational" % self.tor_dir, "!",
                 "bfd", " profile fast", "  receive-interval 100", "  transmit-interval 100", "  detect-multiplier 5",
                 " exit", "exit", "!", "router bgp %d" % TOR_ASN, " bgp router-id 192.0.2.0",
                 " no bgp ebgp-requires-policy", " bgp bestpath as-path multipath-relax", " bgp log-neighbor-changes",
                 " timers bgp 3 9", " neighbor NODES peer-group", " neighbor NODES remote-as external",
                 " neighbor NODES timers connect 2", " neighbor NODES bfd", " neighbor NODES bfd profile fast"]
        lines += [" neighbor %s peer-group NODES" % address for address in neighbors]
        lines += [" address-family ipv4 unicast", "  maximum-paths 8", " exit-address-family",
                  " address-family ipv6 unicast", "  neighbor NODES activate", "  maximum-paths 8",
                  " exit-address-family", "exit"]
        return "\n".join(lines) + "\n"

    def _start_tor(self):
        os.makedirs(self.tor_dir, exist_ok=True)
        frr = pwd.getpwnam("frr")
        os.chown(self.tor_dir, frr.pw_uid, frr.pw_gid)
        os.chmod(self.tor_dir, 0o755)
        empty = os.path.join(self.tor_dir, "empty.conf")
        open(empty, "w", encoding="utf-8").close()
        with open(os.path.join(self.tor_dir, "frr.conf"), "w", encoding="utf-8") as handle:
            handle.write(self.frr_conf())
        zserv = os.path.join(self.tor_dir, "zserv.api")
        for daemon in ("zebra", "bgpd", "bfdd"):
            self.frr.append(Daemon("frr-" + daemon, self.tor, [
                "/usr/lib/frr/" + daemon, "-f", empty, "-i", os.path.join(self.tor_dir, daemon + ".pid"),
                "--vty_socket", self.tor_dir, "-P", "0", "-z", zserv], self.tor_dir).start())
            if daemon == "zebra":
                wait_for(lambda: os.path.exists(zserv), 15, "zebra's zserv.api")
        wait_for(lambda: all(os.path.exists(os.path.join(self.tor_dir, d + ".vty")) for d in ("zebra", "bgpd", "bfdd")),
                 15, "FRR vty sockets")
        # One vtysh -f for the whole file (daemons started empty): the lab found this reliable.
        wait_for(lambda: self.vtysh_file() and "router bgp" in self.vtysh("show running-config"), 20, "FRR config")

    def vtysh(self, command):
        return run("vtysh", "--vty_socket", self.tor_dir, "-c", command, check=False).stdout

    def vtysh_lines(self, lines):
        """Apply configuration lines (from `configure terminal`) to the running ToR."""
        argv = ["vtysh", "--vty_socket", self.tor_dir, "-c", "configure terminal"]
        for line in lines:
            argv += ["-c", line]
        return run(*argv, check=False)

    def vtysh_file(self):
        return run("vtysh", "--vty_socket", self.tor_dir, "-f", os.path.join(self.tor_dir, "frr.conf"),
                   check=False).returncode == 0

    def destroy(self):
        try:
            if self.relay:
                self.relay.stop()
            for node in self.nodes:
                node.stop()
            for daemon in reversed(self.frr):
                daemon.stop()
        finally:  # a daemon that would not stop must not leave its namespaces behind
            for ns in self.namespaces:
                run("ip", "netns", "del", ns, check=False)
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------------ observe
    def nexthops(self, prefix=ANYCAST4):
        """The nodes (sorted names) the ToR's kernel routes prefix through: ECMP next hops by uplink."""
        family = "-6" if ":" in prefix else "-4"
        out = run("ip", "-n", self.tor, "-j", family, "route", "show", prefix, check=False).stdout
        try:
            routes = json.loads(out or "[]")
        except ValueError:
            return []
        uplinks = {"t%d" % node.index: node.name for node in self.nodes}
        hops = []
        for route in routes:
            for hop in route.get("nexthops", [route]):
                if hop.get("dev") in uplinks and hop.get("gateway"):
                    hops.append(uplinks[hop["dev"]])
        return sorted(hops)

    def wait_paths(self, count, prefix=ANYCAST4, timeout=60):
        wait_for(lambda: len(self.nexthops(prefix)) == count, timeout,
                 "%d ToR next hop(s) for %s (now %s)" % (count, prefix, self.nexthops(prefix)),
                 diagnose=self.diagnose)

    def diagnose(self):
        parts = [self.vtysh("show bgp summary"), self.vtysh("show bfd peers brief")]
        for node in self.nodes:
            parts += [node.name, json.dumps(node.status().get("reason")), node.birdc("show", "protocols"),
                      node.health.tail(5) if node.health else ""]
        return "\n".join(parts)

    def answering_node(self):
        """Which node the relay's traffic reaches now: the one whose pkt4-ack-sent grows."""
        before = {node.name: node.stat("dhcp4", "pkt4-ack-sent") or 0 for node in self.nodes}
        result = dora(self, 0)
        if not result["ok"]:
            return None
        after = {node.name: node.stat("dhcp4", "pkt4-ack-sent") or 0 for node in self.nodes}
        grown = [name for name in before if after[name] > before[name]]
        return grown[0] if len(grown) == 1 else None

    def heal(self):
        """Back to two healthy, announced nodes (after a test broke one)."""
        for node in self.nodes:
            node.blackhole(False)
            node.drain(False)
            for family, process in list(node.kea.items()):
                if process.alive():
                    process.process.send_signal(signal.SIGCONT)
                else:
                    node.start_kea(family)
        self.wait_paths(2)
        self.wait_paths(2, ANYCAST6)


def wait_for(predicate, timeout, what, interval=0.1, diagnose=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    details = "\n" + diagnose() if diagnose else ""
    raise AssertionError("timed out after %ss waiting for %s%s" % (timeout, what, details))


# --------------------------------------------------------------------------
# playbooks/sync.yml against the fabric's nodes
# --------------------------------------------------------------------------

def ansible_inventory(fabric, sot_dir):
    """Both nodes as Ansible hosts: local connection, modules run inside the node's namespace."""
    hosts = {}
    for node in fabric.nodes:
        wrapper = os.path.join(node.dir, "python-in-netns")
        with open(wrapper, "w", encoding="utf-8") as handle:
            handle.write('#!/bin/sh\nexec ip netns exec %s %s "$@"\n' % (node.netns, sys.executable))
        os.chmod(wrapper, 0o755)
        kea = node.kea_settings(fabric.fleet)
        hosts[node.name] = {
            "ansible_connection": "local", "ansible_python_interpreter": wrapper,
            "netboot_sot_source": sot_dir,
            "kea_dhcp_interfaces4": kea["interfaces4"], "kea_dhcp_interfaces6": kea["interfaces6"],
            "kea_dhcp_control_socket4": kea["control_socket4"], "kea_dhcp_control_socket6": kea["control_socket6"],
            "kea_dhcp_lease_file4": kea["lease_file4"], "kea_dhcp_lease_file6": kea["lease_file6"],
            "kea_dhcp_data_directory": kea["data_directory"], "kea_dhcp_lfc_interval": 0,
            "kea_dhcp_multi_threading": False,
            # No systemd in the namespaces: the drained node gets config-set (the restart path needs a service).
            "sync_restart_drained": False,
            "kea_dhcp_config_file4": node.config_path("dhcp4"), "kea_dhcp_config_file6": node.config_path("dhcp6"),
            "anycast_bgp_drain_file": node.settings.drain_file, "anycast_bgp_status_file": node.settings.status_file,
            "anycast_bgp_announce_file": node.settings.announce_file,
            "anycast_bgp_healthcheck_config": node.healthcheck_path,
            "anycast_bgp_bird_socket": node.settings.bird_socket, "anycast_bgp_device": "anycast0",
            "anycast_bgp_kea_control_socket4": kea["control_socket4"],
            "anycast_bgp_kea_control_socket6": kea["control_socket6"],
            "anycast_bgp_program_dir": os.path.dirname(PROBE), "anycast_bgp_python": sys.executable,
        }
    path = os.path.join(fabric.workdir, "inventory.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"all": {"children": {"dhcp_nodes": {"hosts": hosts}}}}, handle)
    return path


def run_sync(fabric, sot_dir):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, "collections"),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_NOCOLOR="1")
    """ansible-playbook playbooks/sync.yml with the fabric's nodes as inventory and sot_dir as the SoT."""
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return subprocess.run([playbook, "-i", ansible_inventory(fabric, sot_dir), "playbooks/sync.yml"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


# --------------------------------------------------------------------------
# DHCPv4 client behind the relay (broadcast on the client network, as a booting machine)
# --------------------------------------------------------------------------

def _client_socket(fabric):
    with kea_lab.in_netns(fabric.cli):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"c0")
        sock.bind(("0.0.0.0", 68))
    return sock


def _client_packet(xid, index, kind, requested=None, server_id=None):
    import struct
    options = bytes([53, 1, kind])
    if requested:
        options += bytes([50, 4]) + socket.inet_aton(requested)
    if server_id:
        options += bytes([54, 4]) + socket.inet_aton(server_id)
    chaddr = bytes(int(part, 16) for part in mac(index).split(":")) + bytes(10)
    header = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000, bytes(4), bytes(4), bytes(4),
                         bytes(4), chaddr, b"", b"")
    return header + b"\x63\x82\x53\x63" + options + bytes([55, 3, 1, 3, 54, 255])


class ClientLoop:
    """DHCPv4 exchanges (DISCOVER -> OFFER -> REQUEST -> ACK) started every `interval` seconds,
    overlapping, each with its own xid and one of the reserved MACs; an exchange fails when the
    ACK with the reserved address has not arrived `timeout` seconds after its DISCOVER."""

    def __init__(self, fabric, interval=0.1, timeout=0.5):
        from ansible_collections.netboot.fleet.plugins.module_utils.anycast import dhcp_probe
        self.parse4 = dhcp_probe.parse4
        self.fabric, self.interval, self.timeout = fabric, interval, timeout
        self.sock = _client_socket(fabric)
        self.sock.settimeout(0.05)
        self.pending = {}   # xid -> [start, index, state]
        self.results = []   # (start, ok, index)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sending = threading.Event()
        self.threads = []

    def __enter__(self):
        self.sending.set()
        self.threads = [threading.Thread(target=self._send, daemon=True), threading.Thread(target=self._receive, daemon=True)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if not self.stopping.is_set():
            self.sending.clear()
            self.threads[0].join()
            deadline = time.monotonic() + self.timeout + 0.2
            while self.pending and time.monotonic() < deadline:  # let the last exchanges finish
                time.sleep(0.02)
            self.stopping.set()
            self.threads[1].join()
            self.sock.close()
            self._expire(float("inf"))

    def _send(self):
        import random
        count = 0
        next_start = time.monotonic()
        while self.sending.is_set():
            now = time.monotonic()
            if now >= next_start:
                xid = random.getrandbits(32)
                index = count % MACHINES
                with self.lock:
                    self.pending[xid] = [time.time(), index, "discover", now]
                self.sock.sendto(_client_packet(xid, index, 1), ("255.255.255.255", 67))
                count += 1
                next_start += self.interval
            self._expire(time.monotonic())
            time.sleep(min(0.01, max(0.0, next_start - time.monotonic())))

    def _expire(self, now):
        with self.lock:
            for xid, (start, index, state, started) in list(self.pending.items()):
                if now - started > self.timeout:
                    self.results.append((start, False, index))
                    del self.pending[xid]

    def _receive(self):
        while not self.stopping.is_set():
            try:
                data = self.sock.recv(4096)
            except (socket.timeout, OSError):
                continue
            parsed = self.parse4(data)
            if parsed is None:
                continue
            xid, yiaddr, options = parsed
            with self.lock:
                entry = self.pending.get(xid)
                if entry is None:
                    continue
                kind = options.get(53, b"\0")[0]
                if kind == 2 and entry[2] == "discover":
                    entry[2] = "request"
                    server_id = socket.inet_ntoa(options[54]) if len(options.get(54, b"")) == 4 else None
                    self.sock.sendto(_client_packet(xid, entry[1], 3, yiaddr, server_id), ("255.255.255.255", 67))
                elif kind == 5 and entry[2] == "request":
                    self.results.append((entry[0], yiaddr == reserved4(entry[1]), entry[1]))
                    del self.pending[xid]

    def summary(self, since=None):
        """exchanges, failures, outage (s): from the first failed start to the first later success."""
        with self.lock:
            rows = sorted(row for row in self.results if since is None or row[0] >= since)
        failures = [row for row in rows if not row[1]]
        outage = 0.0
        if failures:
            first = failures[0][0]
            last = failures[-1][0]
            after = [row[0] for row in rows if row[1] and row[0] > last]
            outage = (after[0] if after else rows[-1][0]) - first
        duration = rows[-1][0] - rows[0][0] if len(rows) > 1 else 0.0
        return {"exchanges": len(rows), "failed": len(failures), "outage": round(outage, 3),
                "rate": round((len(rows) - 1) / duration, 1) if duration else 0.0}


def dora(fabric, index, timeout=2.0, between=None):
    """One blocking exchange for reserved client index: {"ok", "yiaddr", "server_id"}.
    between(): called after the OFFER, before the REQUEST (e.g. to change the ECMP set)."""
    sock = _client_socket(fabric)
    import random
    from ansible_collections.netboot.fleet.plugins.module_utils.anycast import dhcp_probe
    try:
        sock.settimeout(timeout)
        xid = random.getrandbits(32)
        sock.sendto(_client_packet(xid, index, 1), ("255.255.255.255", 67))
        offer = _wait4(sock, xid, 2, timeout, dhcp_probe.parse4)
        if offer is None:
            return {"ok": False, "stage": "discover"}
        sid = socket.inet_ntoa(offer[2][54])
        if between is not None:
            between()
        sock.sendto(_client_packet(xid, index, 3, offer[1], sid), ("255.255.255.255", 67))
        ack = _wait4(sock, xid, 5, timeout, dhcp_probe.parse4)
        if ack is None:
            return {"ok": False, "stage": "request", "offer": offer[1], "server_id": sid}
        return {"ok": True, "yiaddr": ack[1], "offer": offer[1], "server_id": socket.inet_ntoa(ack[2][54])}
    finally:
        sock.close()


def _wait4(sock, xid, kind, timeout, parse4):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            parsed = parse4(sock.recv(4096))
        except socket.timeout:
            return None
        if parsed and parsed[0] == xid and parsed[2].get(53) == bytes([kind]):
            return parsed
    return None


# --------------------------------------------------------------------------
# DHCPv6 relay played by a socket in the ToR (routed by its ECMP route, like dhcrelay -4)
# --------------------------------------------------------------------------

class Relay6:
    """Relay-Forward SOLICIT / REQUEST for reserved client index from the rack12 relay address."""

    def __init__(self, fabric, timeout=2.0):
        self.fabric, self.timeout = fabric, timeout
        self.sock = None

    def __enter__(self):
        with kea_lab.in_netns(self.fabric.tor):
            self.sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((RELAY6, 547))
        return self

    def __exit__(self, *exc):
        self.sock.close()

    def _exchange(self, message, want):
        from scapy.layers.dhcp6 import DHCP6_RelayForward, DHCP6_RelayReply, DHCP6OptRelayMsg
        relay = DHCP6_RelayForward(hopcount=0, linkaddr=RELAY6, peeraddr="fe80::1") / DHCP6OptRelayMsg(message=message)
        self.sock.sendto(bytes(relay), (ANYCAST6, 547))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                break
            reply = DHCP6_RelayReply(data)
            inner = reply[DHCP6OptRelayMsg].message if DHCP6OptRelayMsg in reply else None
            if inner is not None and want in inner and inner[want].trid == message.trid:
                return inner
        return None

    @staticmethod
    def _answer(inner):
        from scapy.layers.dhcp6 import DHCP6OptIAAddress, DHCP6OptServerId
        if inner is None:
            return {"address": None}
        return {"address": inner[DHCP6OptIAAddress].addr if DHCP6OptIAAddress in inner else None,
                "server_duid": bytes(inner[DHCP6OptServerId].duid).hex() if DHCP6OptServerId in inner else None,
                "server_id_raw": bytes(inner[DHCP6OptServerId]) if DHCP6OptServerId in inner else None}

    def _client_id(self, index):
        from scapy.layers.dhcp6 import DHCP6OptClientId
        return DHCP6OptClientId(duid=bytes(int(part, 16) for part in duid(index).split(":")))

    def solicit(self, index):
        import random
        from scapy.layers.dhcp6 import DHCP6_Advertise, DHCP6_Solicit, DHCP6OptElapsedTime, DHCP6OptIA_NA
        message = (DHCP6_Solicit(trid=random.getrandbits(23)) / self._client_id(index) / DHCP6OptIA_NA(iaid=1)
                   / DHCP6OptElapsedTime())
        return self._answer(self._exchange(message, DHCP6_Advertise))

    def request(self, index, advertise):
        import random
        from scapy.layers.dhcp6 import (DHCP6_Reply, DHCP6_Request, DHCP6OptElapsedTime, DHCP6OptIA_NA,
                                        DHCP6OptIAAddress, DHCP6OptServerId)
        message = (DHCP6_Request(trid=random.getrandbits(23)) / self._client_id(index)
                   / DHCP6OptServerId(advertise["server_id_raw"])
                   / DHCP6OptIA_NA(iaid=1, ianaopts=[DHCP6OptIAAddress(addr=advertise["address"])])
                   / DHCP6OptElapsedTime())
        return self._answer(self._exchange(message, DHCP6_Reply))
