"""The netboot.fleet embedded lab: a rack, its switch, two DHCP nodes and the machines of a SoT, on one host.

    python3 lab/netboot_lab.py up     [--sot inventory/sot] [--prefix nbl]   # idempotent, prints progress
    python3 lab/netboot_lab.py status [--prefix nbl]                          # JSON: what runs
    python3 lab/netboot_lab.py down   [--prefix nbl]                          # stops exactly what `up` started

What `up` builds (root, Debian packages only; see lab/README.md for the picture):
- `<prefix>-tor`: the rack switch. FRR (zebra, bgpd, bfdd) peering with every DHCP node per the SoT
  (BGP multipath + BFD), router advertisements on the boot networks, one bridge per SoT network
  carrying its gateway addresses, `dhcrelay` (v4 and v6) to the anycast address.
- `<prefix>-<node>`: one namespace per SoT DHCP node, uplinked to the switch with the node's SoT
  address, and a podman container of the project's systemd image (tests/images/build.sh) joined to
  it. The roles configure the containers over the podman connection; the lab installs nothing in them.
- With `--database postgresql` (the database mode, README "Leases and reservations"): `<prefix>-db1` and
  `<prefix>-db2`, two namespaces uplinked to the switch, each with a podman container of the database image
  (`tests/images/build.sh db`: PostgreSQL 15 baked in), and `<state dir>/database.yml`, the inventory of
  that mode (the `kea_db` group: db1 the primary, db2 its synchronous standby; the Kea nodes' database
  settings; generated passwords, 0600) that `make bringup NETBOOT_DHCP_DATABASE=postgresql` adds to
  `inventory/`. The roles set the databases up (bringup.yml); the lab installs nothing in them.
- One ipmi_sim BMC per machine on the machine's bmc.address:bmc.port whose chassis control
  (lab/chassis_control.py) starts/stops the machine's qemu VM on a tap in its network's bridge.
  Every VM starts powered off: the playbook powers machines on through their BMCs.

Everything started is recorded in /var/tmp/netboot-fleet/lab-<prefix>/state.json (PID + start time,
namespaces, containers), so `down` stops exactly that, by PID, and two labs with other prefixes,
SoTs and BMC ports can run side by side.
"""

import argparse
import hashlib
import ipaddress
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "collections"))
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot_model  # noqa: E402

# The BMCs' chassis control (beside this script) and the lab tell a PID from its reuse the same way.
from chassis_control import process_start_time  # noqa: E402
import minimal_installer  # noqa: E402

STATE_ROOT = os.environ.get("NBF_WORK", "/var/tmp/netboot-fleet")
IMAGE = os.environ.get("NBF_IMAGE", "localhost/netboot-fleet-debian12:latest")
DB_IMAGE = os.environ.get("NBF_DB_IMAGE", "localhost/netboot-fleet-debian12-db:latest")
PODMAN_ENV = os.path.join(REPO, "tests", "images", "podman-env.sh")
IMAGE_BUILD = os.path.join(REPO, "tests", "images", "build.sh")
CHASSIS_CONTROL = os.path.join(HERE, "chassis_control.py")
FRR_DIR = "/usr/lib/frr"
FRR_DAEMONS = ("zebra", "bgpd", "bfdd")
# Code and a per-VM copy of the variable store: a real machine keeps its UEFI variables, among them
# the DHCPv6 DUID its firmware generates once (without them it is a new DHCPv6 client at every boot).
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS.fd"
BMC_EMU = """mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
mc_enable 0x20
"""
# Per-node uplink IPv6 when the SoT gives the node no IPv6 peering (address6 + an IPv6 peer):
# 2001:db8:ff:<n>::1 (switch) / ::2 (node); the IPv6 relay and routes need it either way.
UPLINK6 = "2001:db8:ff:%d::%d"
# The database mode's two PostgreSQL hosts: name, the switch's and the host's address on its uplink (a /31 of
# the documentation range the SoT's nodes do not use), and what it is.
DATABASES = (("db1", "192.0.2.100", "192.0.2.101", "primary"), ("db2", "192.0.2.102", "192.0.2.103", "standby"))
DATABASE_MODES = ("none", "postgresql")
# Each VM's disk (sparse): the minimal installer's image takes 25 MiB of it.
DISK_MIB = 64
# Installer files the nodes serve (group_vars/dhcp_nodes/lab.yml: pxe_server_installer_files), published by `up`.
INSTALLERS_DIR = os.path.join(STATE_ROOT, "installers")
T0 = time.monotonic()


def progress(message):
    print("[lab %5.1fs] %s" % (time.monotonic() - T0, message), flush=True)


def run(argv, check=True, capture=False, env=None):
    result = subprocess.run(argv, check=False, text=True, env=env,
                            stdout=subprocess.PIPE if capture else None, stderr=subprocess.PIPE if capture else None)
    if check and result.returncode != 0:
        command = " ".join(map(shlex.quote, argv))
        raise LabError("%s failed (rc=%d): %s" % (command, result.returncode, (result.stderr or "").strip()[-2000:]))
    return result


class LabError(Exception):
    pass


def podman_environment():
    """The environment tests/images/podman-env.sh sets (project storage and containers.conf)."""
    out = run(["bash", "-c", ". %s && env -0" % shlex.quote(PODMAN_ENV)], capture=True).stdout
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def podman_global_args(env):
    """The same settings as podman flags: what Ansible's podman connection passes (group_vars/dhcp_nodes)."""
    return ["--root", os.path.join(env["NBF_WORK"], "podman", "root"),
            "--runroot", os.path.join(env["NBF_WORK"], "podman", "run"),
            "--storage-driver", "overlay", "--runtime", "runc", "--cgroup-manager", "cgroupfs",
            "--events-backend", "file"]


def udp_port_bound(address, port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return True
    return False


class Lab:
    def __init__(self, prefix, sot_path=None, bmc_vars=None, database=None):
        self.prefix = prefix
        self.dir = os.path.join(STATE_ROOT, "lab-" + prefix)
        self.state_file = os.path.join(self.dir, "state.json")
        self.state = self._load_state()
        if sot_path:
            self.state["sot"] = os.path.abspath(sot_path)
            default_vars = os.path.join(os.path.dirname(self.state["sot"]), "group_vars", "all", "bmc.yml")
            self.state["bmc_vars"] = os.path.abspath(bmc_vars or default_vars)
        if database is not None:
            self.state["database"] = database
        self.tor = prefix + "-tor"

    # ---------------------------------------------------------------- state
    def _load_state(self):
        try:
            with open(self.state_file) as state:
                return json.load(state)
        except FileNotFoundError:
            return {"processes": {}, "namespaces": [], "containers": []}

    def save(self):
        os.makedirs(self.dir, exist_ok=True)
        with open(self.state_file + ".tmp", "w") as out:
            json.dump(self.state, out, indent=1, sort_keys=True)
        os.replace(self.state_file + ".tmp", self.state_file)

    def alive(self, name):
        record = self.state["processes"].get(name)
        return bool(record) and process_start_time(record["pid"]) == record["start"]

    def spawn(self, name, argv, netns=None, env=None):
        """Start a foreground daemon detached from this CLI, log to <dir>/logs/<name>.log, record its PID."""
        if self.alive(name):
            return False
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)
        full = (["ip", "netns", "exec", netns] if netns else []) + argv
        with open(os.path.join(self.dir, "logs", name + ".log"), "ab") as log:
            process = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=log, stderr=log,  # pylint: disable=consider-using-with
                                       start_new_session=True, env=env)
        time.sleep(0.05)
        start = process_start_time(process.pid)
        if start is None:
            raise LabError("%s exited at once: see %s" % (name, os.path.join(self.dir, "logs", name + ".log")))
        self.state["processes"][name] = {"pid": process.pid, "start": start, "argv": full}
        self.save()
        return True

    def stop(self, name):
        record = self.state["processes"].pop(name, None)
        if record and process_start_time(record["pid"]) == record["start"]:
            os.kill(record["pid"], signal.SIGTERM)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and process_start_time(record["pid"]) == record["start"]:
                time.sleep(0.05)
            if process_start_time(record["pid"]) == record["start"]:
                os.kill(record["pid"], signal.SIGKILL)
        self.save()

    def sot(self):
        if "sot" not in self.state:
            raise LabError("no SoT known for lab %s: run `up --sot PATH` first" % self.prefix)
        return sot_model.load(self.state["sot"])

    def add_netns(self, name):
        if not os.path.exists("/run/netns/" + name):
            run(["ip", "netns", "add", name])
        if name not in self.state["namespaces"]:
            self.state["namespaces"].append(name)
            self.save()
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        # DAD would hold every static IPv6 address back for ~2 s: the lab's addresses are unique by design.
        run(["ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0",
             "net.ipv6.conf.default.accept_dad=0"])

    # ---------------------------------------------------------------- up
    def up(self):
        if os.geteuid() != 0:
            raise LabError("the lab needs root (namespaces, bridges, taps, podman)")
        fleet = self.sot()
        self.save()
        progress("lab %s from %s: %d DHCP nodes, %d networks, %d machines; state in %s"
                 % (self.prefix, self.state["sot"], len(fleet.dhcp_nodes), len(fleet.networks),
                    len(fleet.machines), self.dir))
        self.check_tools()
        self.publish_installers()
        self.build_image()
        self.build_switch(fleet)
        self.start_switch(fleet)
        self.start_nodes(fleet)
        if self.state.get("database", "none") == "postgresql":
            self.start_databases(fleet)
        self.start_machines(fleet)
        self.wait_nodes(fleet)
        progress("lab %s is up (machines powered off; power them on through their BMCs)" % self.prefix)

    def check_tools(self):
        missing = [tool for tool in ("ip", "podman", "ipmi_sim", "qemu-system-x86_64", "dhcrelay", "vtysh")
                   if not shutil.which(tool)]
        missing += [path for path in [OVMF_CODE, OVMF_VARS] + [os.path.join(FRR_DIR, d) for d in FRR_DAEMONS] if not os.path.exists(path)]
        if missing:
            raise LabError("missing on this host: %s (apt-get install frr isc-dhcp-relay openipmi qemu-system-x86 "
                           "ovmf ipxe podman)" % ", ".join(missing))

    def publish_installers(self):
        """The Debian installer's kernel and initrd, and the minimal installer (built once), where the lab's
        inventory tells pxe_server to take them from: <NBF_WORK>/installers/{debian12,minimal}/."""
        progress("installers: Debian's netboot kernel and initrd, the minimal installer (lab/minimal_installer.py)")
        try:
            built = minimal_installer.build()
        except minimal_installer.BuildError as error:
            raise LabError(str(error)) from None
        wanted = {("debian12", "linux"): minimal_installer.DI_KERNEL, ("debian12", "initrd.gz"): built["debian_initrd"],
                  ("minimal", "linux"): built["linux"], ("minimal", "initrd.gz"): built["initrd"],
                  ("minimal", "disk.img.gz"): built["image"]}
        for (directory, name), source in wanted.items():
            target = os.path.join(INSTALLERS_DIR, directory, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if os.path.exists(target) and os.path.samefile(source, target):
                continue
            temp = "%s.%d.tmp" % (target, os.getpid())
            shutil.copyfile(source, temp)
            os.chmod(temp, 0o644)
            os.replace(temp, target)

    def build_image(self):
        variants = [("node", IMAGE)] + ([("db", DB_IMAGE)] if self.state.get("database", "none") == "postgresql" else [])
        for variant, image in variants:
            progress("%s image %s (tests/images/build.sh %s; first build takes minutes)" % (variant, image, variant))
            result = subprocess.run(["bash", IMAGE_BUILD, variant], check=False,
                                    env=dict(os.environ, NBF_IMAGE=IMAGE, NBF_DB_IMAGE=DB_IMAGE))
            if result.returncode != 0:
                raise LabError("image build failed (tests/images/build.sh %s rc=%d)" % (variant, result.returncode))

    def link_exists(self, netns, name):
        return run(["ip", "-n", netns, "link", "show", "dev", name], check=False, capture=True).returncode == 0

    def addr(self, netns, cidr, dev):
        family = "-6" if ":" in cidr else "-4"
        extra = ["nodad"] if family == "-6" else []
        result = run(["ip", "-n", netns, family, "addr", "replace", cidr, "dev", dev] + extra, check=False, capture=True)
        if result.returncode != 0:
            raise LabError("ip addr %s on %s/%s: %s" % (cidr, netns, dev, result.stderr.strip()))

    def build_switch(self, fleet):
        progress("rack switch %s: bridges per network, uplinks per DHCP node" % self.tor)
        self.add_netns(self.tor)
        run(["ip", "netns", "exec", self.tor, "sysctl", "-qw", "net.ipv4.ip_forward=1",
             "net.ipv6.conf.all.forwarding=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
             # L3 hash: every packet between one client and the anycast address takes the same node,
             # TFTP's data port changes included.
             "net.ipv4.fib_multipath_hash_policy=0"])
        for network in fleet.networks:
            bridge = self.bridge(network.name)
            if not self.link_exists(self.tor, bridge):
                run(["ip", "-n", self.tor, "link", "add", bridge, "type", "bridge", "stp_state", "0", "forward_delay", "0"])
            # A bridge without an up port has no carrier, and the relay, RAs and the routes stay down:
            # a veth pair inside the switch keeps it up whatever the VMs do.
            carrier = "c-" + bridge[3:][:10]
            if not self.link_exists(self.tor, carrier):
                run(["ip", "-n", self.tor, "link", "add", carrier, "type", "veth", "peer", "name", carrier + "p"])
                run(["ip", "-n", self.tor, "link", "set", carrier, "master", bridge])
            for dev in (carrier, carrier + "p", bridge):
                run(["ip", "-n", self.tor, "link", "set", dev, "up"])
            for subnet in (network.ipv4, network.ipv6):
                if subnet is not None:
                    self.addr(self.tor, "%s/%d" % (subnet.gateway, ipaddress.ip_network(subnet.prefix).prefixlen), bridge)
        for index, node in enumerate(fleet.dhcp_nodes, 1):
            netns = self.node_netns(node.name)
            self.add_netns(netns)
            uplink = self.uplink(index)
            if not self.link_exists(self.tor, uplink):
                run(["ip", "link", "add", uplink, "netns", self.tor, "type", "veth", "peer", "name", "eth0", "netns", netns])
            peer4, switch6, node6 = self.uplink_addresses(node, index)
            self.addr(self.tor, "%s/31" % peer4, uplink)
            self.addr(self.tor, switch6 + "/64", uplink)
            self.addr(netns, "%s/31" % node.address, "eth0")
            self.addr(netns, node6 + "/64", "eth0")
            run(["ip", "-n", self.tor, "link", "set", uplink, "up"])
            run(["ip", "-n", netns, "link", "set", "eth0", "up"])
            run(["ip", "-n", netns, "route", "replace", "default", "via", peer4])
            run(["ip", "-n", netns, "-6", "route", "replace", "default", "via", switch6])
        for index, machine in enumerate(fleet.machines):
            tap = self.tap(index)
            if not self.link_exists(self.tor, tap):
                run(["ip", "-n", self.tor, "tuntap", "add", "dev", tap, "mode", "tap"])
            run(["ip", "-n", self.tor, "link", "set", tap, "master", self.bridge(machine.network)])
            run(["ip", "-n", self.tor, "link", "set", tap, "up"])

    @staticmethod
    def uplink_addresses(node, index):
        """(switch IPv4, switch IPv6, node IPv6) on the node's uplink: the SoT's peers where it has them."""
        peer4 = next((peer.address for peer in node.peers if ":" not in peer.address), None)
        if peer4 is None:
            raise LabError("dhcp_nodes %s.peers: the lab's rack switch needs an IPv4 peer" % node.name)
        peer6 = next((peer.address for peer in node.peers if ":" in peer.address), None)
        if peer6 and node.address6:
            return peer4, peer6, node.address6
        return peer4, UPLINK6 % (index, 1), UPLINK6 % (index, 2)

    def bridge(self, network):
        return ("br-" + network)[:15]

    def uplink(self, index):
        return "up%d" % index

    def tap(self, index):
        return "tap%d" % index

    def node_netns(self, node):
        return "%s-%s" % (self.prefix, node)

    def frr_config(self, fleet):
        peers = {}
        for index, node in enumerate(fleet.dhcp_nodes, 1):
            for peer in node.peers:
                peers.setdefault(peer.asn, []).append((node, peer, index))
        if len(peers) != 1:
            raise LabError("the lab's rack switch has one AS; the SoT's DHCP nodes peer with AS %s" % sorted(peers))
        asn, sessions = next(iter(peers.items()))
        lines = ["frr defaults traditional", "hostname %s" % self.tor,
                 "log file %s informational" % os.path.join(self.dir, "tor", "frr.log"), "!",
                 # 300 ms x 5: on a busy 2-core host 100 ms x 3 flapped (BIRD saw Cease 6/10, BFD down);
                 # the negotiated interval is the slower side's, so this bounds the nodes' BFD too.
                 "bfd", " profile lab", "  receive-interval 300", "  transmit-interval 300",
                 "  detect-multiplier 5", " exit", "exit", "!"]
        for network in fleet.networks:
            lines += ["interface %s" % self.bridge(network.name), " no ipv6 nd suppress-ra",
                      " ipv6 nd ra-interval 3"]
            # Every boot network gets RAs: iPXE waits ~13 s for one otherwise.
            if network.ipv4 is None:
                # IPv6-only: addresses and options by DHCPv6 (M/O flags), the switch as default router.
                lines += [" ipv6 nd managed-config-flag", " ipv6 nd other-config-flag",
                          " ipv6 nd prefix %s 300 300 no-autoconfig" % network.ipv6.prefix]
            lines += ["exit", "!"]
        router_id = next(peer.address for dummy, peer, dummy in sessions if ":" not in peer.address)
        lines += ["router bgp %d" % asn, " bgp router-id %s" % router_id,
                  " no bgp ebgp-requires-policy", " bgp bestpath as-path multipath-relax",
                  " bgp log-neighbor-changes", " timers bgp 3 9",
                  " neighbor NODES peer-group", " neighbor NODES remote-as external",
                  " neighbor NODES bfd", " neighbor NODES bfd profile lab"]
        # One neighbor per SoT peering: the node's IPv4 address, or its address6 for an IPv6 peer.
        lines += [" neighbor %s peer-group NODES" % (node.address6 if ":" in peer.address else node.address)
                  for node, peer, dummy in sessions]
        lines += [" address-family ipv4 unicast", "  maximum-paths 8", " exit-address-family",
                  " address-family ipv6 unicast", "  neighbor NODES activate", "  maximum-paths 8",
                  " exit-address-family", "exit", ""]
        return "\n".join(lines)

    def start_switch(self, fleet):
        tor_dir = os.path.join(self.dir, "tor")
        frr_dir = os.path.join(tor_dir, "frr")
        os.makedirs(frr_dir, exist_ok=True)
        shutil.chown(frr_dir, "frr", "frr")
        shutil.chown(tor_dir, "frr", "frr")
        os.chmod(frr_dir, 0o755)
        empty = os.path.join(frr_dir, "empty.conf")
        open(empty, "a").close()
        config = os.path.join(frr_dir, "frr.conf")
        with open(config, "w") as out:
            out.write(self.frr_config(fleet))
        started = False
        for daemon in FRR_DAEMONS:
            argv = [os.path.join(FRR_DIR, daemon), "-f", empty, "-i", os.path.join(frr_dir, daemon + ".pid"),
                    "--vty_socket", frr_dir, "-P", "0", "-z", os.path.join(frr_dir, "zserv.api")]
            if daemon == "bfdd":
                argv += ["--bfdctl", os.path.join(frr_dir, "bfdd.sock")]
            if self.spawn("frr-" + daemon, argv, netns=self.tor):
                started = True
                progress("started FRR %s in %s" % (daemon, self.tor))
                if daemon == "zebra":
                    wait_for(lambda: os.path.exists(os.path.join(frr_dir, "zserv.api")), "zebra's zserv socket", 20)
        wait_for(lambda: all(os.path.exists(os.path.join(frr_dir, d + ".vty")) for d in FRR_DAEMONS),
                 "the FRR vty sockets", 30)
        vtysh = ["vtysh", "--vty_socket", frr_dir]
        # Daemons start empty and get the whole config through vtysh (its integrated -f is what works).
        wait_for(lambda: run(vtysh + ["-f", config], check=False, capture=True).returncode == 0
                 and "router bgp" in run(vtysh + ["-c", "show running-config"], capture=True).stdout,
                 "FRR to take its configuration", 30)
        progress("FRR %s: BGP AS%s peering with %s, BFD, RAs on %s"
                 % ("configured" if started else "re-applied", self.frr_asn(fleet),
                    ", ".join(n.address for n in fleet.dhcp_nodes), ", ".join(self.bridge(n.name) for n in fleet.networks)))
        uplinks = [self.uplink(i) for i in range(1, len(fleet.dhcp_nodes) + 1)]
        v4 = [self.bridge(n.name) for n in fleet.networks if n.ipv4 is not None]
        v6 = [self.bridge(n.name) for n in fleet.networks if n.ipv6 is not None]
        if v4 and fleet.fabric.anycast_ipv4:
            argv = ["dhcrelay", "-4", "-d", "-pf", os.path.join(tor_dir, "dhcrelay4.pid")]
            for dev in v4:
                argv += ["-id", dev]
            for dev in uplinks:
                argv += ["-iu", dev]
            if self.spawn("dhcrelay4", argv + [fleet.fabric.anycast_ipv4], netns=self.tor):
                progress("started dhcrelay -4 %s -> %s" % (",".join(v4), fleet.fabric.anycast_ipv4))
        if v6 and fleet.fabric.anycast_ipv6:
            # dhcrelay -6 pins each upstream to an interface: forward on every uplink (every node
            # answers alike: same DUID, same reservations), so a dead node costs nothing.
            argv = ["dhcrelay", "-6", "-d", "-pf", os.path.join(tor_dir, "dhcrelay6.pid")]
            for dev in v6:
                argv += ["-l", dev]
            for dev in uplinks:
                argv += ["-u", "%s%%%s" % (fleet.fabric.anycast_ipv6, dev)]
            if self.spawn("dhcrelay6", argv, netns=self.tor):
                progress("started dhcrelay -6 %s -> %s" % (",".join(v6), fleet.fabric.anycast_ipv6))

    def frr_asn(self, fleet):
        return sorted({peer.asn for node in fleet.dhcp_nodes for peer in node.peers})[0]

    def start_nodes(self, fleet):
        for node in fleet.dhcp_nodes:
            name = self.node_netns(node.name)
            log_dir = os.path.join(self.dir, "nodes", node.name, "log", "nginx")
            os.makedirs(log_dir, exist_ok=True)
            # BIRD keeps NET_ADMIN, NET_RAW and NET_BROADCAST when it drops root; capset fails without all three.
            self.start_container(name, node.name, IMAGE, ["--cap-add", "NET_ADMIN,NET_RAW,NET_BROADCAST",
                                                          "-v", "%s:/var/log/nginx" % log_dir], node.address)

    def start_container(self, name, hostname, image, extra_options, address):
        """A systemd container of `image` joined to the namespace `name`: recreated when its image or options changed."""
        env = dict(os.environ, **podman_environment())
        image_id = run(["podman", "image", "inspect", "--format", "{{.Id}}", image], env=env, capture=True).stdout.strip()
        options = ["--hostname", hostname, "--network", "ns:/run/netns/" + name, "--systemd", "always"] + extra_options
        spec = hashlib.sha256(json.dumps([image_id] + options).encode()).hexdigest()[:16]
        inspect = run(["podman", "container", "inspect", "--format",
                       '{{.State.Running}} {{index .Config.Labels "netboot-fleet.lab-spec"}}', name],
                      env=env, check=False, capture=True)
        if inspect.returncode == 0:
            running, current_spec = (inspect.stdout.split() + [""])[:2]
            if current_spec == spec and running == "true":
                progress("%s: container running" % name)
                return
            progress("%s: container %s, recreating" % (name, "changed" if current_spec != spec else "stopped"))
            run(["podman", "rm", "-f", "-t", "2", name], env=env, capture=True)
        run(["podman", "run", "-d", "--name", name, "--label", "netboot-fleet.lab=" + self.prefix,
             "--label", "netboot-fleet.lab-spec=" + spec] + options + [image, "/sbin/init"], env=env, capture=True)
        if name not in self.state["containers"]:
            self.state["containers"].append(name)
            self.save()
        progress("%s: container started (namespace %s, %s)" % (name, name, address))

    # ---------------------------------------------------------------- database mode
    def database_netns(self, name):
        return "%s-%s" % (self.prefix, name)

    def start_databases(self, fleet):
        """The database mode's PostgreSQL hosts: a namespace and a container each, on their own uplink of the
        switch (connected routes: every DHCP node reaches them through it), and the inventory of that mode."""
        for name, switch_address, address, dummy in DATABASES:
            netns = self.database_netns(name)
            self.add_netns(netns)
            if not self.link_exists(self.tor, name):
                run(["ip", "link", "add", name, "netns", self.tor, "type", "veth", "peer", "name", "eth0", "netns", netns])
            self.addr(self.tor, switch_address + "/31", name)
            self.addr(netns, address + "/31", "eth0")
            run(["ip", "-n", self.tor, "link", "set", name, "up"])
            run(["ip", "-n", netns, "link", "set", "eth0", "up"])
            run(["ip", "-n", netns, "route", "replace", "default", "via", switch_address])
            self.start_container(netns, "kea-" + name, DB_IMAGE, [], address)
        self.write_database_inventory(fleet)

    def database_passwords(self):
        """The database mode's passwords: made once per lab, kept in its state dir (0600), never printed."""
        path = os.path.join(self.dir, "database-passwords.json")
        try:
            with open(path) as source:
                return json.load(source)
        except FileNotFoundError:
            pass
        passwords = {name: secrets.token_urlsafe(18) for name in ("sync", "reader", "leases", "replication")}
        write_private(path, json.dumps(passwords))
        return passwords

    def write_database_inventory(self, fleet):
        passwords = self.database_passwords()
        env = podman_environment()
        connection = {"ansible_connection": "netboot.fleet.podman_pipelined", "ansible_pipelining": True,
                      "ansible_podman_extra_args": " ".join(podman_global_args(env)),
                      "ansible_python_interpreter": "/usr/bin/python3", "ansible_remote_tmp": "/var/tmp/.ansible-netboot"}
        nodes = ["%s/32" % node.address for node in fleet.dhcp_nodes]
        addresses = {name: address for name, dummy, address, dummy in DATABASES}
        hosts = {}
        for name, dummy, address, role in DATABASES:
            host = dict(connection, ansible_ssh_host=self.database_netns(name), kea_db_replication_role=role)
            if role == "primary":
                host.update(kea_db_replication_standbys=["kea_%s" % other for other, *dummy in DATABASES if other != name])
            else:
                host.update(kea_db_replication_primary=addresses["db1"])
            hosts["kea-" + name] = host
        inventory = {"all": {"vars": {"netboot_dhcp_database": "postgresql"}, "children": {
            "kea_db": {"hosts": hosts, "vars": {
                # The sync runs on the primary: over TCP with its password (Debian's local connections are peer).
                "kea_hostsdb_listen_addresses": "*", "kea_hostsdb_sync_host": "127.0.0.1",
                "kea_hostsdb_sync_password": passwords["sync"], "kea_hostsdb_reader_password": passwords["reader"],
                "kea_hostsdb_lease_password": passwords["leases"], "kea_db_replication_password": passwords["replication"],
                "kea_hostsdb_reader_networks": nodes, "kea_hostsdb_lease_networks": nodes,
                "kea_db_replication_networks": ["%s/32" % address for address in addresses.values()]}},
            "dhcp_nodes": {"vars": {
                # Every server: libpq (PGTARGETSESSIONATTRS=read-write, the kea_dhcp drop-in) finds the writable one.
                "kea_dhcp_hosts_db_host": ",".join(address for dummy, dummy, address, dummy in DATABASES),
                "kea_dhcp_hosts_db_sslmode": "require",
                "kea_dhcp_hosts_db_password": passwords["reader"], "kea_dhcp_lease_db_password": passwords["leases"]}}}}}
        write_private(self.database_inventory(), json.dumps(inventory, indent=1, sort_keys=True))
        progress("database mode: PostgreSQL hosts %s; inventory %s"
                 % (", ".join("%s %s (%s)" % (self.database_netns(n), a, r) for n, dummy, a, r in DATABASES),
                    self.database_inventory()))

    def database_inventory(self):
        return os.path.join(self.dir, "database.yml")

    def wait_nodes(self, fleet):
        env = dict(os.environ, **podman_environment())
        names = [self.node_netns(n.name) for n in fleet.dhcp_nodes]
        if self.state.get("database", "none") == "postgresql":
            names += [self.database_netns(name) for name, *dummy in DATABASES]
        for name in names:

            def booted(name=name):
                state = run(["podman", "exec", name, "systemctl", "is-system-running"], env=env, check=False, capture=True)
                return state.stdout.strip() in ("running", "degraded")
            wait_for(booted, "systemd in %s" % name, 90)
        progress("containers booted: %s" % ", ".join(names))

    def bmc_credentials(self):
        import yaml  # only `up` needs it; the chassis control path must not
        with open(self.state["bmc_vars"]) as source:
            data = yaml.safe_load(source) or {}
        return data.get("netboot_bmc_username", "admin"), str(data["netboot_bmc_password"])

    @staticmethod
    def console_port(machine):
        return machine.bmc.port or 623

    def vm_argv(self, fleet, index, machine):
        mdir = os.path.join(self.dir, "machines", machine.name)
        network = fleet.network(machine.network)
        # The serial console: a TCP server the BMC's Serial-over-LAN connects to (lan.conf `sol`), on the
        # BMC's port number (TCP beside its UDP), also appended to serial.log (the VM's whole life: installer,
        # then the installed system). The NIC: the lab's tap, by fd.
        console = "socket,id=console,host=127.0.0.1,port=%d,server=on,wait=off,logfile=%s,logappend=on" % (
            self.console_port(machine), os.path.join(mdir, "serial.log"))
        argv = ["qemu-system-x86_64", "-name", machine.name, "-accel", "tcg", "-smp", "1",
                "-display", "none", "-monitor", "none", "-nodefaults", "-no-user-config",
                "-chardev", console, "-serial", "chardev:console",
                "-netdev", "tap,id=n0,fd={tap_fd}",
                # The disk first, as on an installed server: a blank one does not boot and the firmware goes on
                # to the network; the BMC's "next boot: network" puts the NIC first (chassis_control.py).
                "-drive", "if=none,id=d0,format=raw,file=" + os.path.join(mdir, "disk.img"),
                "-device", "virtio-blk-pci,drive=d0,bootindex=1"]
        if machine.firmware == "bios":
            # SeaBIOS + the NIC's own iPXE ROM (qemu's efi-e1000.rom): its DHCP is already iPXE's.
            return argv + ["-m", "256", "-device", "e1000,netdev=n0,mac=%s,bootindex=2" % machine.mac]
        # OVMF with no NIC ROM: the firmware's own network stack boots, as on real hardware. 512 MB: GRUB's
        # EFI loader ran out of memory at 256 MB booting the installed disk.
        argv += ["-m", "512", "-drive", "if=pflash,format=raw,readonly=on,file=" + OVMF_CODE,
                 "-drive", "if=pflash,format=raw,file=" + os.path.join(mdir, "OVMF_VARS.fd"),
                 "-device", "virtio-net-pci,netdev=n0,mac=%s,romfile=,bootindex=2" % machine.mac]
        if network.ipv4 is None:
            argv += ["-fw_cfg", "name=opt/org.tianocore/IPv4Support,string=no"]
        if machine.firmware == "uefi-http":
            # A machine set to UEFI HTTP boot: no PXE attempts first (OVMF would try PXEv4/v6 for minutes).
            argv += ["-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=no",
                     "-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=no"]
        return argv

    def start_machines(self, fleet):
        username, password = self.bmc_credentials()
        for index, machine in enumerate(fleet.machines):
            mdir = os.path.join(self.dir, "machines", machine.name)
            os.makedirs(mdir, exist_ok=True)
            if machine.firmware != "bios" and not os.path.exists(os.path.join(mdir, "OVMF_VARS.fd")):
                shutil.copyfile(OVMF_VARS, os.path.join(mdir, "OVMF_VARS.fd"))
            if not os.path.exists(os.path.join(mdir, "disk.img")):  # blank: the machine is not installed
                with open(os.path.join(mdir, "disk.img"), "wb") as disk:
                    disk.truncate(DISK_MIB << 20)
            with open(os.path.join(mdir, "vm.json"), "w") as out:
                json.dump({"netns": self.tor, "tap": self.tap(index), "argv": self.vm_argv(fleet, index, machine)}, out,
                          indent=1)
            name = "bmc-" + machine.name
            if machine.bmc.protocol != "ipmi":
                raise LabError("machine %s: the lab simulates IPMI BMCs only (bmc.protocol %s)" % (machine.name, machine.bmc.protocol))
            if self.alive(name):
                continue
            port = machine.bmc.port or 623
            if udp_port_bound(machine.bmc.address, port):
                raise LabError("machine %s: %s:%d is taken by another process" % (machine.name, machine.bmc.address, port))
            bdir = os.path.join(self.dir, "bmc", machine.name)
            os.makedirs(os.path.join(bdir, "state"), exist_ok=True)
            with open(os.path.join(bdir, "bmc.emu"), "w") as out:
                out.write(BMC_EMU)
            conf = os.path.join(bdir, "lan.conf")
            # The password is in this root-only file, never on a command line.
            with open(os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
                out.write(LAN_CONF % {"name": machine.name[:16], "address": machine.bmc.address, "port": port,
                                      "username": username, "password": password, "console_port": self.console_port(machine),
                                      "control": "%s %s %s" % (sys.executable, CHASSIS_CONTROL, mdir)})
            self.spawn(name, ["ipmi_sim", "-c", conf, "-f", os.path.join(bdir, "bmc.emu"), "-n", "-s",
                              os.path.join(bdir, "state")])
            wait_for(lambda address=machine.bmc.address, port=port: udp_port_bound(address, port),
                     "BMC of %s on port %d" % (machine.name, port), 20)
            progress("machine %s (%s, %s): BMC %s:%d, VM off"
                     % (machine.name, machine.firmware, machine.network, machine.bmc.address, port))

    # ---------------------------------------------------------------- status / down
    def status(self):
        machines = {}
        for name in sorted(os.listdir(os.path.join(self.dir, "machines"))) if os.path.isdir(os.path.join(self.dir, "machines")) else []:
            pidfile = os.path.join(self.dir, "machines", name, "qemu.pid")
            power = "off"
            if os.path.exists(pidfile):
                with open(pidfile) as source:
                    pid, start = source.read().split()
                power = "on" if process_start_time(int(pid)) == start else "off"
            machines[name] = {"power": power, "dir": os.path.join(self.dir, "machines", name)}
        return {"prefix": self.prefix, "dir": self.dir, "sot": self.state.get("sot"),
                "database": self.state.get("database", "none"),
                "namespaces": self.state["namespaces"], "containers": self.state["containers"],
                "processes": {n: {"pid": r["pid"], "alive": self.alive(n)} for n, r in sorted(self.state["processes"].items())},
                "machines": machines}

    def down(self, wipe_disks=False):
        mroot = os.path.join(self.dir, "machines")
        for name in sorted(os.listdir(mroot)) if os.path.isdir(mroot) else []:
            if os.path.exists(os.path.join(mroot, name, "vm.json")):
                run([sys.executable, CHASSIS_CONTROL, os.path.join(mroot, name), "set", "power", "0"], check=False)
            if wipe_disks and os.path.exists(os.path.join(mroot, name, "disk.img")):
                os.unlink(os.path.join(mroot, name, "disk.img"))
        for name in sorted(self.state["processes"]):
            self.stop(name)
            progress("stopped %s" % name)
        if self.state["containers"]:
            env = dict(os.environ, **podman_environment())
            for name in list(self.state["containers"]):
                run(["podman", "rm", "-f", "-t", "2", name], env=env, check=False, capture=True)
                self.state["containers"].remove(name)
                self.save()
                progress("removed container %s" % name)
        if wipe_disks:  # blank disks: the controller's machine states of this lab would lie
            shutil.rmtree(os.path.join(self.dir, "controller"), ignore_errors=True)
        for name in list(self.state["namespaces"]):
            run(["ip", "netns", "delete", name], check=False, capture=True)
            self.state["namespaces"].remove(name)
            self.save()
            progress("deleted namespace %s" % name)
        progress("lab %s is down" % self.prefix)


LAN_CONF = """name "%(name)s"
set_working_mc 0x20
  startlan 1
    addr %(address)s %(port)d
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  user 2 true  "%(username)s" "%(password)s" admin 10 none md2 md5 straight
  chassis_control "%(control)s"
  sol "tcp:127.0.0.1:%(console_port)d" 115200
"""


def write_private(path, text):
    """A file only root reads (passwords), replaced whole."""
    temp = "%s.%d.tmp" % (path, os.getpid())
    with open(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        out.write(text)
    os.replace(temp, path)


def wait_for(ready, what, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.2)
    raise LabError("timed out after %d s waiting for %s" % (timeout, what))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--sot", default=os.path.join(REPO, "inventory", "sot"), help="SoT file or directory (up)")
    parser.add_argument("--bmc-vars", help="YAML with netboot_bmc_username/password (default: <sot>/../group_vars/all/bmc.yml)")
    parser.add_argument("--prefix", default="nbl", help="name prefix of namespaces, containers and the state dir")
    parser.add_argument("--database", choices=DATABASE_MODES,
                        help="up: none (default), or postgresql: also the database mode's PostgreSQL primary and standby "
                             "and its inventory <state dir>/database.yml (netboot_dhcp_database)")
    parser.add_argument("--wipe-disks", action="store_true",
                        help="down: also remove the VMs' disks (the next up gives them blank ones) and the machine "
                             "states of <state dir>/controller (make bringup's netboot_state_dir)")
    args = parser.parse_args(argv)
    lab = Lab(args.prefix, args.sot if args.action == "up" else None, args.bmc_vars,
              args.database if args.action == "up" else None)
    try:
        if args.action == "up":
            lab.up()
        elif args.action == "down":
            lab.down(wipe_disks=args.wipe_disks)
        else:
            print(json.dumps(lab.status(), indent=1))
    except (LabError, sot_model.SotError) as error:
        print("lab %s: %s" % (args.action, error), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
