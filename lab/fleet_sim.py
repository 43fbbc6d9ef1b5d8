"""A fleet of simulated machines behind real DHCP nodes, for tests and benchmarks of bringup.yml at scale.

    python lab/fleet_sim.py up   --prefix s20 --machines 1000 --bmc-port 31000 [--no-dhcp 0.02 --lost-fetch 0.02 --dead-bmcs 3]
    ansible-playbook -i <work>/inventory playbooks/bringup.yml --tags validate,power,wait,report -e @<work>/vars.json
    python lab/fleet_sim.py down --prefix s20

Network namespaces (names from --prefix, interface names of at most 15 characters):

  <p>-n1, <p>-n2   DHCP nodes: real kea-dhcp4/kea-dhcp6 (configuration from the collection's renderer), nginx
                   (the pxe_server role's site), in.tftpd (v4 and v6) on the anycast addresses (on lo), the
                   PXE assets from the collection's renderer; uplink <p>d<i> 192.0.2.<2i+1>/31
  <p>-t            the rack switch: an ECMP route to the anycast addresses over both nodes, one link per rack
                   (<p>r<n>, the rack's gateways: the relay's giaddr / link-address), dhcrelay -4 and -6
  <p>-m            the machines' side of every rack link (<p>m<n>), each machine's SoT addresses, policy routes
                   per rack; the simulated machines' sockets live here (lab/fleet_machines.py)

The SoT comes from benchmarks/sot_gen.py (racks of 40, up to 4 dual-stack racks, the rest IPv6-only with
UEFI), with each BMC on 127.0.0.1:<bmc-port + index>. The BMCs are lab/bmc_farm.py's pyghmi servers,
one process per rack (40 BMCs), each also running those racks' machines in an asyncio loop
whose thread is in <p>-m: a power-on at the BMC is the machine's boot. Everything started is
recorded (PIDs) in <work>/state.json and stopped by PID; the namespaces are deleted.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "collections"))
sys.path.insert(0, os.path.join(REPO, "benchmarks"))
sys.path.insert(0, os.path.join(REPO, "tests"))
sys.path.insert(0, HERE)

import bmc_farm  # noqa: E402
import fleet_machines  # noqa: E402

USERNAME = "admin"
PASSWORD_ENV = bmc_farm.PASSWORD_ENV
ANYCAST4, ANYCAST6 = "203.0.113.53", "2001:db8:53::53"
RACK_SIZE = 40
RACKS_PER_PROCESS = 1  # a process's BMCs are whole racks (one owner per link); pyghmi's server, one select loop, lags at 80 under load
LOADERS = {"undionly.kpxe": "/usr/lib/ipxe/undionly.kpxe", "snponly.efi": "/usr/lib/ipxe/snponly.efi"}
NODES = ("dhcp-a1", "dhcp-a2")
NEIGHBOUR_LIMIT = "/proc/sys/net/%s/neigh/default/gc_thresh%d"
INSTALL_SECONDS = 20.0  # from the answer file to the install-done callback


def missing():
    """Why the simulator cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("kea-dhcp4", "kea-dhcp6", "nginx", "in.tftpd", "dhcrelay", "ip", "unshare"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    for path in LOADERS.values():
        if not os.path.exists(path):
            return "%s is missing (Debian package ipxe)" % path
    try:
        import pyghmi  # noqa: F401 pylint: disable=import-outside-toplevel,unused-import
    except ImportError:
        return "pyghmi is not installed"
    return None


def run(*argv, netns=None, check=True):
    command = (["ip", "netns", "exec", netns] if netns else []) + list(argv)
    return subprocess.run(command, check=check, capture_output=True, text=True)


def batch(lines, netns=None, family=None):
    """Many `ip` commands in one process (ip -batch); family "-6" for commands that do not guess it (rule)."""
    command = ["ip"] + (["-n", netns] if netns else []) + ([family] if family else []) + ["-batch", "-"]
    done = subprocess.run(command, input="\n".join(lines) + "\n", check=False, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError("%s: %s" % (" ".join(command), done.stderr.strip()))


class FleetSim:
    def __init__(self, prefix, machines=100, bmc_port=31000, work=None, no_dhcp=0.0, lost_fetch=0.0, dead_bmcs=0,
                 seed=1, password="sim-S3cret-pw", node_cgroup=None):
        self.prefix, self.count, self.bmc_port = prefix, machines, bmc_port
        # A cgroup v1 cpuacct directory for the DHCP nodes' module runs (benchmarks: on a real fleet they run on
        # the nodes, here on the controller through the local connection); None: no wrapper.
        self.node_cgroup = node_cgroup
        self.work = work or "/var/tmp/netboot-fleet/fleet-sim-%s" % prefix
        self.faults = {"no_dhcp": no_dhcp, "lost_fetch": lost_fetch, "seed": seed}
        self.dead = set(bmc_port + index for index in
                        sorted(range(machines), key=lambda index: hash((seed, index)) % 1000003)[:dead_bmcs])
        self.password = password
        self.processes = []
        self.neighbour_limits = {}  # {sysctl path: [original, raised]}, put back by down()
        self.farm = None
        self.sot = None
        self.racks = []

    # names ---------------------------------------------------------------------------------------------
    def ns(self, what):
        return "%s-%s" % (self.prefix, what)

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    # setup ---------------------------------------------------------------------------------------------
    def up(self):
        reason = missing()
        if reason:
            raise RuntimeError(reason)
        self.down(quiet=True)
        shutil.rmtree(self.work, ignore_errors=True)
        for name in ("sot", "inventory/host_vars", "reports", "farm", "state", "cursors"):
            os.makedirs(self.path(name), mode=0o755, exist_ok=True)
        os.chmod(self.work, 0o755)
        self.write_sot()
        self.write_inventory()
        self.raise_neighbour_limits()
        self.create_network()
        for index, node in enumerate(NODES, start=1):
            self.start_node(index, node)
        self.start_relays()
        self.start_farm()
        self.save_state()
        return self

    def write_sot(self):
        import sot_gen  # pylint: disable=import-outside-toplevel
        from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot  # pylint: disable=import-outside-toplevel
        data = sot_gen.generate(self.count, RACK_SIZE, dual_stack_racks=min(2, (self.count + RACK_SIZE - 1) // RACK_SIZE))
        for index, machine in enumerate(data["machines"]):
            machine["bmc"] = {"address": "127.0.0.1", "port": self.bmc_port + index, "protocol": "ipmi"}
        for network in data["networks"]:
            network.pop("dns_servers", None)
        data["fabric"]["pxe"] = {"http_port": 80}
        with open(self.path("sot", "fleet.json"), "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        self.sot = sot.load(self.path("sot"))
        self.racks = list(data["networks"])
        self.machines = data["machines"]

    def write_inventory(self):
        with open(self.path("inventory", "fleet.sot.yml"), "w", encoding="utf-8") as handle:
            handle.write("plugin: netboot.fleet.sot\nsource: ../sot\n")
        os.makedirs(self.path("inventory", "group_vars", "all"), exist_ok=True)
        with open(self.path("inventory", "group_vars", "all", "main.yml"), "w", encoding="utf-8") as handle:
            yaml.safe_dump({"netboot_bmc_username": USERNAME, "netboot_state_dir": self.path("state"),
                            "bringup_consoles": False}, handle)
        # 0600: the BMCs' password.
        fd = os.open(self.path("inventory", "group_vars", "all", "bmc.yml"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yaml.safe_dump({"netboot_bmc_password": self.password}, handle)
        interpreter = self.write_node_python() if self.node_cgroup else sys.executable
        for node in NODES:
            # The node's services run in its namespace; its files are this host's (local connection).
            with open(self.path("inventory", "host_vars", "%s.yml" % node), "w", encoding="utf-8") as handle:
                yaml.safe_dump({"ansible_connection": "local", "ansible_python_interpreter": interpreter,
                                "pxe_server_http_root": self.path(node, "http"),
                                "pxe_server_tftp_root": self.path(node, "tftp"),
                                "pxe_server_state_file": self.path(node, "pxe-assets.json"),
                                "bringup_http_logs": [self.path(node, "nginx", "netboot-pxe.log")],
                                "bringup_tftp_logs": [self.path(node, "syslog")],
                                "bringup_lease_files4": [self.path(node, "kea", "kea-leases4.csv")],
                                "bringup_lease_files6": [self.path(node, "kea", "kea-leases6.csv")]}, handle)

    def write_node_python(self):
        """The DHCP nodes' Python: moves the module process (and what it starts) into node_cgroup first."""
        path = self.path("node-python")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("#!/bin/sh\nset -e\necho $$ > %s\nexec %s \"$@\"\n" % (
                shlex.quote(os.path.join(self.node_cgroup, "cgroup.procs")), shlex.quote(sys.executable)))
        os.chmod(path, 0o755)
        return path

    def playbook_vars(self, **extra):
        """Extra vars of a bringup.yml run against the simulator (timeouts short enough for the retries)."""
        variables = {"bringup_report_dir": self.path("reports"), "bringup_tftp_journal": False,
                     "bringup_events_cursor_dir": self.path("cursors"), "bringup_poll_interval": 3,
                     "bringup_bmc_timeout": 5, "bringup_retries": 1, "bringup_wait_timeout": 600,
                     "bringup_timeouts": {"lease": 30, "script": 45, "answer": 60, "installed": 120, "booted": 60}}
        variables.update(extra)
        return variables

    def create_network(self):
        tor, machines = self.ns("t"), self.ns("m")
        for name in [tor, machines] + [self.ns("n%d" % index) for index in range(1, len(NODES) + 1)]:
            subprocess.run(["ip", "netns", "add", name], check=True)
            batch(["link set lo up"], name)
            for sysctl in ("net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", "net.ipv4.conf.all.rp_filter=0",
                           "net.ipv4.conf.default.rp_filter=0", "net.ipv6.conf.default.accept_dad=0",
                           "net.ipv6.conf.all.accept_dad=0",
                           # No IPv6 flow labels: the switch's ECMP hash (addresses + flow label) must keep
                           # a connection on one node, and Linux changes a socket's label on retransmits.
                           "net.ipv6.auto_flowlabels=0"):
                run("sysctl", "-qw", sysctl, netns=name)
        host, tor_lines, machine_lines, machine_lines6 = [], [], [], []
        for index, node in enumerate(NODES, start=1):
            up, down, node_ns = "%su%d" % (self.prefix, index), "%sd%d" % (self.prefix, index), self.ns("n%d" % index)
            host.append("link add %s netns %s type veth peer name %s netns %s" % (up, tor, down, node_ns))
            tor_lines += ["addr add 192.0.2.%d/31 dev %s" % (2 * index - 2, up), "addr add 2001:db8:ff:%d::1/64 dev %s" % (index, up),
                          "link set %s up" % up]
            batch(["addr add %s/32 dev lo" % ANYCAST4, "addr add %s/128 dev lo" % ANYCAST6], node_ns)
        batch(host)
        for index in range(1, len(NODES) + 1):
            batch(["addr add 192.0.2.%d/31 dev %sd%d" % (2 * index - 1, self.prefix, index),
                   "addr add 2001:db8:ff:%d::2/64 dev %sd%d" % (index, self.prefix, index),
                   "link set %sd%d up" % (self.prefix, index),
                   "route add default via 192.0.2.%d" % (2 * index - 2),
                   "route add ::/0 via 2001:db8:ff:%d::1" % index], self.ns("n%d" % index))
        tor_lines.append("route add %s/32 %s" % (ANYCAST4, " ".join(
            "nexthop via 192.0.2.%d" % (2 * index - 1) for index in range(1, len(NODES) + 1))))
        tor_lines.append("route add %s/128 %s" % (ANYCAST6, " ".join(
            "nexthop via 2001:db8:ff:%d::2" % index for index in range(1, len(NODES) + 1))))
        by_rack = {}
        for machine in self.machines:
            by_rack.setdefault(machine["network"], []).append(machine)
        host = []
        for number, network in enumerate(self.racks):
            switch_side, machine_side = "%sr%d" % (self.prefix, number), "%sm%d" % (self.prefix, number)
            host.append("link add %s netns %s type veth peer name %s netns %s" % (switch_side, tor, machine_side, machines))
            table = 100 + number
            for key, default in (("ipv4", "0.0.0.0/0"), ("ipv6", "::/0")):
                subnet = network.get(key)
                if not subnet:
                    continue
                length = ipaddress.ip_network(subnet["prefix"]).prefixlen
                tor_lines.append("addr add %s/%d dev %s" % (subnet["gateway"], length, switch_side))
                lines = machine_lines6 if key == "ipv6" else machine_lines
                lines.append("rule add from %s table %d" % (subnet["prefix"], table))
                lines.append("route add %s via %s dev %s table %d onlink" % (default, subnet["gateway"], machine_side, table))
            tor_lines.append("link set %s up" % switch_side)
            machine_lines.insert(0, "link set %s up" % machine_side)
            for machine in by_rack.get(network["name"], ()):
                for key, length in (("ipv4", 32), ("ipv6", 128)):
                    if machine.get(key):
                        machine_lines.append("addr add %s/%d dev %s%s" % (machine[key], length, machine_side,
                                                                          " nodad" if key == "ipv6" else ""))
        batch(host)
        batch(tor_lines, tor)
        batch(machine_lines, machines)
        batch(machine_lines6, machines, "-6")

    def render_assets(self, node):
        from ansible_collections.netboot.fleet.plugins.module_utils.bringup import callback  # pylint: disable=import-outside-toplevel
        from ansible_collections.netboot.fleet.plugins.module_utils.pxe import render as pxe  # pylint: disable=import-outside-toplevel
        key = callback.load_key(os.path.join(self.path("state"), callback.KEY_FILE))
        renderer = pxe.Renderer(self.sot, pxe.Templates(pxe.read_templates()), callback_key=key)
        for (root, relative), content in renderer.render_all().items():
            target = self.path(node, root, relative)
            os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(content)
        for name, source in LOADERS.items():
            shutil.copy(source, self.path(node, "tftp", name))
            shutil.copy(source, self.path(node, "http", name))
        for profile in self.sot.profiles:  # what the installers fetch: the simulated ones only check it is served
            for relative in (profile.kernel, profile.initrd):
                os.makedirs(os.path.dirname(self.path(node, "http", relative)), exist_ok=True)
                with open(self.path(node, "http", relative), "w", encoding="ascii") as handle:
                    handle.write("not a real %s\n" % relative)
        for directory, _dirs, files in os.walk(self.path(node)):
            os.chmod(directory, 0o755)
            for name in files:
                os.chmod(os.path.join(directory, name), 0o644)

    def spawn(self, name, argv, netns=None, env=None):
        log = open(self.path("logs", name + ".log"), "a", encoding="utf-8")  # pylint: disable=consider-using-with
        command = (["ip", "netns", "exec", netns] if netns else []) + argv
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        self.processes.append({"name": name, "pid": process.pid, "process": process})
        return process

    def wait_for(self, ready, what, process, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("%s exited with %s: see %s" % (what, process.returncode, self.path("logs")))
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError("%s not ready after %d s: see %s" % (what, timeout, self.path("logs")))

    def start_node(self, index, node):
        from ansible_collections.netboot.fleet.plugins.module_utils.kea import config as kea  # pylint: disable=import-outside-toplevel
        import role_template  # pylint: disable=import-outside-toplevel
        netns = self.ns("n%d" % index)
        for name in ("http", "tftp", "kea", "nginx", "logs"):
            os.makedirs(self.path(node, name), mode=0o755, exist_ok=True)
        os.makedirs(self.path("logs"), exist_ok=True)
        self.render_assets(node)
        # "*" answers relays on the uplink; "lo" holds the anycast address the relays send to (as the roles do).
        settings = kea.Settings(interfaces4=("*", "lo"), interfaces6=("*", "lo/%s" % ANYCAST6),
                                control_socket4=self.path(node, "kea", "kea4.sock"),
                                control_socket6=self.path(node, "kea", "kea6.sock"),
                                lease_file4=self.path(node, "kea", "kea-leases4.csv"),
                                lease_file6=self.path(node, "kea", "kea-leases6.csv"), multi_threading=False,
                                log_output=self.path(node, "kea", "kea.log"), data_directory=self.path(node, "kea"),
                                server_duid="00:02:00:00:fd:e8:%02x" % index)
        env = dict(os.environ, KEA_PIDFILE_DIR=self.path(node, "kea"), KEA_LOCKFILE_DIR=self.path(node, "kea"))
        for family, render in ((4, kea.render_dhcp4), (6, kea.render_dhcp6)):
            config = self.path(node, "kea", "kea-dhcp%d.conf" % family)
            with open(config, "w", encoding="utf-8") as handle:
                handle.write(kea.dumps(render(self.sot, settings), pretty=True))
            process = self.spawn("%s-kea%d" % (node, family), ["kea-dhcp%d" % family, "-c", config], netns, env)
            self.wait_for(lambda family=family: os.path.exists(self.path(node, "kea", "kea%d.sock" % family)),
                          "%s kea-dhcp%d" % (node, family), process)
        server = role_template.render(
            "pxe_server", "nginx-netboot-pxe.conf.j2", pxe_server_http_addresses=[ANYCAST4, ANYCAST6],
            pxe_server_http_port=80, pxe_server_http_root=self.path(node, "http"),
            pxe_server_access_log=self.path(node, "nginx", "netboot-pxe.log"))
        temp = self.path(node, "nginx")
        with open(self.path(node, "nginx", "nginx.conf"), "w", encoding="utf-8") as handle:
            handle.write(
                "user www-data;\nworker_processes 1;\npid %(t)s/nginx.pid;\nerror_log %(t)s/error.log;\n"
                "events { worker_connections 4096; }\nhttp {\n  include /etc/nginx/mime.types;\n  access_log off;\n"
                "  client_body_temp_path %(t)s/body;\n  proxy_temp_path %(t)s/proxy;\n"
                "  fastcgi_temp_path %(t)s/fastcgi;\n  uwsgi_temp_path %(t)s/uwsgi;\n  scgi_temp_path %(t)s/scgi;\n"
                "%(server)s}\n" % {"t": temp, "server": server})
        process = self.spawn("%s-nginx" % node, ["nginx", "-c", self.path(node, "nginx", "nginx.conf"), "-g", "daemon off;"], netns)
        self.wait_for(lambda: run("curl", "-s", "-o", "/dev/null", "http://%s/ipxe/boot.ipxe" % ANYCAST4, netns=netns,
                                  check=False).returncode == 0, "%s nginx" % node, process)
        # in.tftpd logs only to syslog: in its own mount namespace /dev/log leads to a small syslog daemon (RFC 3339 file).
        socket_path = self.path(node, "syslog.sock")
        sink = self.spawn("%s-syslog" % node, [sys.executable, os.path.join(REPO, "tests", "integration", "bringup", "syslog_sink.py"),
                                               socket_path, self.path(node, "syslog")])
        self.wait_for(lambda: os.path.exists(socket_path), "%s syslog sink" % node, sink)
        for family, address in (("4", ANYCAST4), ("6", "[%s]" % ANYCAST6)):
            script = ("mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/null c 1 3 && ln -s %s /dev/log && "
                      "exec in.tftpd --foreground --listen -%s --verbose --address %s:69 --user tftp --secure %s"
                      % (socket_path, family, address, self.path(node, "tftp")))
            process = self.spawn("%s-tftpd%s" % (node, family), ["unshare", "-m", "sh", "-c", script], netns)
        url = "tftp://[%s]/snponly.efi" % ANYCAST6
        self.wait_for(lambda: run("curl", "-s", "-o", "/dev/null", url, netns=netns, check=False).returncode == 0,
                      "%s in.tftpd" % node, process)

    def start_relays(self):
        tor = self.ns("t")
        uplinks = ["%su%d" % (self.prefix, index) for index in range(1, len(NODES) + 1)]
        v4 = ["%sr%d" % (self.prefix, number) for number, network in enumerate(self.racks) if network.get("ipv4")]
        v6 = ["%sr%d" % (self.prefix, number) for number, network in enumerate(self.racks) if network.get("ipv6")]
        if v4:
            argv = ["dhcrelay", "-4", "-d", "-q", "-pf", self.path("dhcrelay4.pid")]
            for dev in v4:
                argv += ["-id", dev]
            for dev in uplinks:
                argv += ["-iu", dev]
            self.spawn("dhcrelay4", argv + [ANYCAST4], tor)
        if v6:
            argv = ["dhcrelay", "-6", "-d", "-q", "-pf", self.path("dhcrelay6.pid")]
            for dev in v6:
                argv += ["-l", dev]
            for dev in uplinks:
                argv += ["-u", "%s%%%s" % (ANYCAST6, dev)]
            self.spawn("dhcrelay6", argv, tor)
        time.sleep(1)  # dhcrelay opens its sockets after parsing: give it a moment
        for entry in self.processes[-2:]:
            if entry["process"].poll() is not None:
                raise RuntimeError("%s exited: see %s" % (entry["name"], self.path("logs")))

    def start_farm(self):
        per_process = RACK_SIZE * RACKS_PER_PROCESS
        self.farm = bmc_farm.Farm(self.path("farm"), self.bmc_port, self.count, USERNAME, self.password,
                                  dead=self.dead, per_process=per_process, program=os.path.abspath(__file__),
                                  program_args=["--work", self.work, "--prefix", self.prefix,
                                                "--no-dhcp", str(self.faults["no_dhcp"]),
                                                "--lost-fetch", str(self.faults["lost_fetch"]),
                                                "--seed", str(self.faults["seed"])])
        self.farm.start(timeout=120)
        for first, process in self.farm.processes:
            self.processes.append({"name": "farm-%d" % first, "pid": process.pid, "process": process})

    def save_state(self):
        with open(self.path("state.json"), "w", encoding="utf-8") as handle:
            json.dump({"prefix": self.prefix, "processes": [{"name": p["name"], "pid": p["pid"]} for p in self.processes],
                       "dead_bmcs": sorted(self.dead), "faults": self.faults, "machines": self.count,
                       "neighbour_limits": self.neighbour_limits}, handle)

    def raise_neighbour_limits(self):
        """The kernel's neighbour tables are shared by every namespace, with the host's limits: the rack switch
        keeps an entry per machine, and past gc_thresh3 (1,024 by default) sends fail with EINVAL. Raised for
        this simulator's size, never lowered; down() puts back what it changed, if still as it left it."""
        wanted = {2: 2 * self.count + 512, 3: 4 * self.count + 1024}
        for family in ("ipv4", "ipv6"):
            for level, value in wanted.items():
                path = NEIGHBOUR_LIMIT % (family, level)
                with open(path, encoding="ascii") as handle:
                    current = int(handle.read())
                if current < value:
                    with open(path, "w", encoding="ascii") as handle:
                        handle.write(str(value))
                    self.neighbour_limits[path] = [current, value]

    # results ------------------------------------------------------------------------------------------
    def expected_failures(self):
        """{machine name: why} of the machines the simulator makes fail for good (a dead BMC)."""
        return {machine["name"]: "dead BMC" for index, machine in enumerate(self.machines) if self.bmc_port + index in self.dead}

    def faulted(self):
        """{machine name: faults} of the machines whose first boot fails on purpose (a retry recovers them)."""
        faults = fleet_machines.Faults(self.faults["no_dhcp"], self.faults["lost_fetch"], self.faults["seed"])
        return {machine["name"]: sorted(faults.of(machine["name"])) for machine in self.machines if faults.of(machine["name"])}

    def farm_states(self):
        """{machine name: {"step", "boots", "installed", "faults"}} from the farm processes (stops them)."""
        states = self.farm.stop() if self.farm is not None else {}
        self.farm = None
        return states.get("machines", {})

    # teardown -------------------------------------------------------------------------------------------
    def down(self, quiet=False):
        """Stop what the state file (or this object) lists, by PID, and delete the namespaces. Returns the
        machines' states when the farm was stopped by this object."""
        states = {}
        if self.farm is not None:
            states = self.farm.stop()
            self.farm = None
        saved = _read_json(self.path("state.json"))
        recorded = self.processes or saved.get("processes", [])
        for entry in reversed(recorded):
            process = entry.get("process")
            if process is not None:
                if process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(5)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
            elif _is_ours(entry["pid"], self.work, self.prefix):
                try:
                    os.kill(entry["pid"], signal.SIGTERM)
                except ProcessLookupError:
                    pass
        self.processes = []
        for name in [self.ns("m"), self.ns("t")] + [self.ns("n%d" % index) for index in range(1, len(NODES) + 1)]:
            # Whatever still runs in our namespaces (a tftpd child) is ours: by PID.
            listed = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, check=False)
            for pid in listed.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
        for path, (original, raised) in (self.neighbour_limits or saved.get("neighbour_limits", {})).items():
            with open(path, "r+", encoding="ascii") as handle:
                if int(handle.read()) == raised:
                    handle.seek(0)
                    handle.write(str(original))
        self.neighbour_limits = {}
        if not quiet:
            print("down: %s" % self.prefix)
        return states


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def _is_ours(pid, work, prefix):
    """A recorded PID still runs one of our commands (not a reused PID)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            cmdline = handle.read().decode(errors="replace")
    except OSError:
        return False
    return work in cmdline or prefix in cmdline


# -- the serve process: BMCs + their machines ------------------------------------------------------------

class Chassis:
    """The machines behind one farm process's BMCs, in an asyncio loop on a thread inside the machines' namespace."""

    def __init__(self, args, first_port, count):
        sim = FleetSim(args.prefix, work=args.work)
        data = _read_json(sim.path("sot", "fleet.json"))
        self.machines_by_port = {}
        self.log_handle = open(sim.path("farm", "machines-%d.log" % first_port), "a", buffering=1,  # pylint: disable=consider-using-with
                               encoding="utf-8")
        self.loop = asyncio.new_event_loop()
        self.install_seconds = args.install_seconds
        self.anycast4, self.anycast6 = data["fabric"]["anycast"]["ipv4"], data["fabric"]["anycast"]["ipv6"]
        racks = [network["name"] for network in data["networks"]]
        faults = fleet_machines.Faults(args.no_dhcp, args.lost_fetch, args.seed)
        ready = threading.Event()
        links = {}

        def loop_thread():
            fleet_machines.enter_netns(sim.ns("m"))
            for machine in data["machines"]:
                port = machine["bmc"]["port"]
                if not first_port <= port < first_port + count:
                    continue
                rack = racks.index(machine["network"])
                if rack not in links:
                    links[rack] = fleet_machines.Link(self.loop, "%sm%d" % (args.prefix, rack))
                self.machines_by_port[port] = fleet_machines.Machine(self, machine, links[rack], faults.of(machine["name"]))
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=loop_thread, daemon=True).start()
        ready.wait(30)

    def log(self, line):
        self.log_handle.write(line + "\n")

    def power(self, port, request, boot_device, bmc):
        machine = self.machines_by_port.get(port)
        if machine is not None:
            self.loop.call_soon_threadsafe(machine.power, request, boot_device, bmc)

    def state(self):
        return {machine.name: {"step": machine.step, "boots": machine.boots, "installed": bool(machine.disk),
                               "faults": sorted(machine.faults)} for machine in self.machines_by_port.values()}


def main(argv=None):
    parser, serve = bmc_farm.serve_parser(__doc__.splitlines()[0])
    for sub in (serve,):
        sub.add_argument("--work", required=True)
        sub.add_argument("--prefix", required=True)
        sub.add_argument("--no-dhcp", type=float, default=0.0)
        sub.add_argument("--lost-fetch", type=float, default=0.0)
        sub.add_argument("--seed", type=int, default=1)
        sub.add_argument("--install-seconds", type=float, default=INSTALL_SECONDS)
    commands = parser._subparsers._group_actions[0]  # pylint: disable=protected-access
    up = commands.add_parser("up")
    up.add_argument("--prefix", required=True)
    up.add_argument("--machines", type=int, default=100)
    up.add_argument("--bmc-port", type=int, default=31000)
    up.add_argument("--no-dhcp", type=float, default=0.0)
    up.add_argument("--lost-fetch", type=float, default=0.0)
    up.add_argument("--dead-bmcs", type=int, default=0)
    down = commands.add_parser("down")
    down.add_argument("--prefix", required=True)
    args = parser.parse_args(argv)
    if args.command == "serve":
        dead = set(int(port) for port in args.dead.split(",") if port)
        bmc_farm.serve(args.first_port, args.count, args.state_dir, dead, args.answer_delay,
                       chassis=Chassis(args, args.first_port, args.count))
    elif args.command == "up":
        if PASSWORD_ENV not in os.environ:
            parser.error("set %s (the BMCs' password; never on the command line)" % PASSWORD_ENV)
        sim = FleetSim(args.prefix, args.machines, args.bmc_port, no_dhcp=args.no_dhcp, lost_fetch=args.lost_fetch,
                       dead_bmcs=args.dead_bmcs, password=os.environ[PASSWORD_ENV]).up()
        with open(sim.path("vars.json"), "w", encoding="utf-8") as handle:
            json.dump(sim.playbook_vars(), handle)
        print("up: %d machines, inventory %s, vars %s" % (args.machines, sim.path("inventory"), sim.path("vars.json")))
    else:
        FleetSim(args.prefix).down()


if __name__ == "__main__":
    main()
