# -*- coding: utf-8 -*-
"""The bring-up lab: one DHCP node made of real Kea, nginx and tftpd-hpa in a network namespace
(nbb-<pid>, or $NBF_BRINGUP_PREFIX-<pid>), machines behind real ipmi_sim BMCs on 127.0.0.1:16261+
($NBF_BRINGUP_BMC_PORT+) whose chassis control starts a
fake PXE client (fake_machine.py) in that namespace, and an inventory that runs
playbooks/bringup.yml against it (the DHCP node over the local connection).

Kea's configuration and the PXE assets are rendered by the collection's own renderers from the lab's
SoT; the deploy and apply stages need systemd and apt, which this host lacks (the embedded lab
covers them), so the tests run validate, power, wait and the report.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, os.pardir, os.pardir, os.pardir))
sys.path.insert(0, os.path.join(REPO, "collections"))

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import callback  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.kea import config as kea  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import render as pxe  # noqa: E402
import role_template  # noqa: E402 pylint: disable=wrong-import-order

PXE_IPV4 = "203.0.113.53"
GATEWAY = "198.51.100.1"
USERNAME = "admin"
PASSWORD = "nbb-lab-S3cret"
# Another checkout may run this lab at the same time: NBF_BRINGUP_PREFIX / NBF_BRINGUP_BMC_PORT move it.
PREFIX = os.environ.get("NBF_BRINGUP_PREFIX", "nbb")
BMC_PORT = int(os.environ.get("NBF_BRINGUP_BMC_PORT", "16261"))
# name, MAC, address, rack, firmware, DHCP arch, how it behaves
MACHINES = (
    ("m-bios", "52:54:00:bb:00:01", "198.51.100.10", "t1", "bios", 0, "boots"),
    ("m-uefi", "52:54:00:bb:00:02", "198.51.100.11", "t1", "uefi", 7, "boots"),
    ("m-noscript", "52:54:00:bb:00:03", "198.51.100.12", "t2", "bios", 0, "boots, but its kernel is missing"),
    ("m-deadbmc", "52:54:00:bb:00:04", "198.51.100.13", "t2", "bios", 0, "its BMC does not answer"),
)


def booting_machines(count):
    """`count` machines that boot (the slicing test and benchmark), in racks t1 and t2 and with bios and uefi
    firmware in turn; addresses .10-.49 and .61-.254 of the lab's network (its pool is .50-.60)."""
    hosts = list(range(10, 50)) + list(range(61, 255))
    if count > len(hosts):
        raise ValueError("the lab's network holds at most %d machines" % len(hosts))
    return tuple(("m-%03d" % index, "52:54:00:bb:%02x:%02x" % (1 + index // 256, index % 256), "198.51.100.%d" % hosts[index],
                  "t%d" % (1 + index % 2), ("bios", "uefi")[index % 2], (0, 7)[index % 2], "boots") for index in range(count))


LOADERS = {"undionly.kpxe": "/usr/lib/ipxe/undionly.kpxe", "snponly.efi": "/usr/lib/ipxe/snponly.efi"}
LAN_CONF = """\
name "nbb%(port)d"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 %(port)d
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid %(port)032x
  endlan
  user 2 true  "%(user)s" "%(password)s" admin 10 none md2 md5 straight
  chassis_control "%(control)s %(dir)s"
"""
BMC_EMU = "mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nmc_enable 0x20\n"


def missing():
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("kea-dhcp4", "nginx", "in.tftpd", "ipmi_sim", "curl", "ip", "unshare"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    for path in LOADERS.values():
        if not os.path.exists(path):
            return "%s is missing (Debian package ipxe)" % path
    return None


def venv_tool(name):
    beside = os.path.join(os.path.dirname(sys.executable), name)
    return beside if os.path.exists(beside) else shutil.which(name)


def _udp_bound(port, table="/proc/net/udp"):
    wanted = ":%04X" % port
    with open(table, encoding="ascii") as lines:
        return any(line.split()[1].endswith(wanted) for line in list(lines)[1:])


class Lab:
    """machines: (name, MAC, address, rack, firmware, DHCP arch, how it behaves) rows, MACHINES by default;
    prefix: of the namespace's name (<prefix>-<pid>); bmc_port: the first machine's BMC port, the others' follow."""

    def __init__(self, machines=MACHINES, prefix=PREFIX, bmc_port=BMC_PORT):
        self.machines, self.bmc_port = machines, bmc_port
        self.netns = "%s-%d" % (prefix, os.getpid())
        # Below /var/tmp with 0755 directories: nginx workers (www-data) and tftpd (tftp) must reach the roots.
        self.work = "/var/tmp/%s" % self.netns
        self.processes = []
        self.sims = {}
        self.fleet = None

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    # -- setup ------------------------------------------------------------------

    def start(self):
        if os.path.exists(self.work):
            shutil.rmtree(self.work)
        for name in ("http", "tftp", "sot", "inventory/group_vars", "kea", "nginx", "bmc", "reports"):
            os.makedirs(self.path(name), mode=0o755, exist_ok=True)
        os.chmod(self.work, 0o755)
        self.write_sot()
        self.write_inventory()
        self.render_assets()
        self.create_namespace()
        self.start_kea()
        self.start_nginx()
        self.start_tftpd()
        self.start_bmcs()
        return self

    def write_sot(self):
        machines = [{"name": name, "mac": mac, "ipv4": address, "network": "rackt", "rack": rack,
                     "profile": "nokernel" if "kernel is missing" in how else "debian12",
                     "firmware": firmware, "bmc": {"address": "127.0.0.1", "port": self.bmc_port + index, "protocol": "ipmi"}}
                    for index, (name, mac, address, rack, firmware, _arch, how) in enumerate(self.machines)]
        # A /26 holds the four default machines; more need the /24.
        prefix = 26 if all(int(row[2].rsplit(".", 1)[1]) < 64 for row in self.machines) else 24
        fleet = {
            "fabric": {"anycast": {"ipv4": PXE_IPV4}, "asn": 65053, "pxe": {"http_port": 80}},
            "dhcp_nodes": [{"name": "dhcp-t1", "address": "192.0.2.1", "peers": [{"name": "tor1", "address": "192.0.2.0", "asn": 65000}]}],
            "networks": [{"name": "rackt",
                          "ipv4": {"prefix": "198.51.100.0/%d" % prefix, "gateway": GATEWAY, "pool": "198.51.100.50-198.51.100.60"}}],
            "profiles": {"debian12": {"installer": "preseed", "kernel": "debian12/linux", "initrd": "debian12/initrd.gz"},
                         "nokernel": {"installer": "preseed", "kernel": "nokernel/linux", "initrd": "nokernel/initrd.gz"}},
            "machines": machines,
        }
        with open(self.path("sot", "fleet.yml"), "w", encoding="utf-8") as handle:
            yaml.safe_dump(fleet, handle)
        self.fleet = sot.load(self.path("sot"))

    def write_inventory(self):
        with open(self.path("inventory", "lab.sot.yml"), "w", encoding="utf-8") as handle:
            handle.write("plugin: netboot.fleet.sot\nsource: ../sot\n")
        with open(self.path("inventory", "group_vars", "all.yml"), "w", encoding="utf-8") as handle:
            yaml.safe_dump({"netboot_bmc_username": USERNAME, "netboot_bmc_password": PASSWORD,
                            "netboot_state_dir": self.path("state"), "bringup_retries": 1}, handle)
        # The DHCP node is this host (its services run in the namespace; their files are local, the lab's). Its
        # group's variables: a slice whose inventory lacks the node reaches it with them (bringup.yml).
        with open(self.path("inventory", "group_vars", "dhcp_nodes.yml"), "w", encoding="utf-8") as handle:
            yaml.safe_dump({"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                            "pxe_server_http_root": self.path("http"),
                            "pxe_server_state_file": self.path("pxe-assets.json")}, handle)

    def render_assets(self):
        # The playbook's key (it finds this one in netboot_state_dir): answer files carry its callbacks.
        key = callback.load_key(os.path.join(self.path("state"), callback.KEY_FILE))
        renderer = pxe.Renderer(self.fleet, pxe.Templates(pxe.read_templates()), callback_key=key)
        for (root, relative), content in renderer.render_all().items():
            target = self.path(root, relative)
            os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(content)
        for name, source in LOADERS.items():
            shutil.copy(source, self.path("tftp", name))
        # What the installers fetch (the lab's machines only check that the node serves them); no "nokernel".
        for name in ("linux", "initrd.gz"):
            os.makedirs(self.path("http", "debian12"), exist_ok=True)
            with open(self.path("http", "debian12", name), "w", encoding="ascii") as handle:
                handle.write("not a real %s\n" % name)
        for directory, dirs, files in os.walk(self.work):
            if directory == self.work:
                dirs.remove("state")  # the controller's: its callback key stays 0600
            os.chmod(directory, 0o755)
            for name in files:
                os.chmod(os.path.join(directory, name), 0o644)

    def ns(self, *command, check=True):
        return subprocess.run(["ip", "netns", "exec", self.netns] + list(command), check=check, capture_output=True)

    def create_namespace(self):
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        subprocess.run(["ip", "-n", self.netns, "link", "set", "lo", "up"], check=True)
        for address in [PXE_IPV4, GATEWAY] + [machine[2] for machine in self.machines]:
            subprocess.run(["ip", "-n", self.netns, "addr", "add", address + "/32", "dev", "lo"], check=True)

    def _spawn(self, command, log, env=None):
        with open(self.path(log), "a", encoding="utf-8") as out:
            process = subprocess.Popen(["ip", "netns", "exec", self.netns] + command, stdin=subprocess.DEVNULL,
                                       stdout=out, stderr=subprocess.STDOUT, env=env)
        self.processes.append(process)
        return process

    def _wait(self, ready, what, process, log, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("%s exited with %s: %s" % (what, process.returncode, self.read(log)[-2000:]))
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError("%s not ready after %d s: %s" % (what, timeout, self.read(log)[-2000:]))

    def start_kea(self):
        settings = kea.Settings(interfaces4=("lo/%s" % PXE_IPV4,), control_socket4=self.path("kea", "kea4.sock"),
                                lease_file4=self.path("kea", "kea-leases4.csv"), multi_threading=False,
                                log_output=self.path("kea", "kea.log"), data_directory=self.path("kea"))
        config = self.path("kea", "kea-dhcp4.conf")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write(kea.dumps(kea.render_dhcp4(self.fleet, settings), pretty=True))
        env = dict(os.environ, KEA_PIDFILE_DIR=self.path("kea"), KEA_LOCKFILE_DIR=self.path("kea"))
        process = self._spawn(["kea-dhcp4", "-c", config], "kea/stdout.log", env=env)
        self._wait(lambda: os.path.exists(self.path("kea", "kea4.sock")), "kea-dhcp4", process, "kea/stdout.log")

    def start_nginx(self):
        server = role_template.render(
            "pxe_server", "nginx-netboot-pxe.conf.j2", pxe_server_http_addresses=[PXE_IPV4], pxe_server_http_port=80,
            pxe_server_http_root=self.path("http"), pxe_server_access_log=self.path("nginx", "netboot-pxe.log"))
        temp = self.path("nginx")
        with open(self.path("nginx", "nginx.conf"), "w", encoding="utf-8") as handle:
            handle.write(
                "user www-data;\nworker_processes 1;\npid %(t)s/nginx.pid;\nerror_log %(t)s/error.log;\n"
                "events {}\nhttp {\n  include /etc/nginx/mime.types;\n  access_log %(t)s/access.log;\n"
                "  client_body_temp_path %(t)s/body;\n  proxy_temp_path %(t)s/proxy;\n"
                "  fastcgi_temp_path %(t)s/fastcgi;\n  uwsgi_temp_path %(t)s/uwsgi;\n  scgi_temp_path %(t)s/scgi;\n"
                "%(server)s}\n" % {"t": temp, "server": server})
        self.ns("nginx", "-t", "-q", "-c", self.path("nginx", "nginx.conf"))
        process = self._spawn(["nginx", "-c", self.path("nginx", "nginx.conf"), "-g", "daemon off;"], "nginx/stdout.log")
        self._wait(self._http_up, "nginx", process, "nginx/stdout.log")

    def _http_up(self):
        return self.ns("curl", "-s", "-o", "/dev/null", "http://%s/ipxe/boot.ipxe" % PXE_IPV4, check=False).returncode == 0

    def start_tftpd(self):
        """in.tftpd logs only to syslog: in its own mount namespace, /dev/log leads to a small syslog
        daemon writing an RFC 3339 file (as rsyslog does), so the host's /dev is untouched."""
        socket_path = self.path("syslog.sock")
        syslogd = subprocess.Popen([sys.executable, os.path.join(HERE, "syslog_sink.py"), socket_path, self.path("syslog")],
                                   stdin=subprocess.DEVNULL)
        self.processes.append(syslogd)
        deadline = time.monotonic() + 10
        while not os.path.exists(socket_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        script = ("mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/null c 1 3 && ln -s %s /dev/log && "
                  "exec in.tftpd --foreground --listen --verbose --address %s:69 --user tftp --secure %s"
                  % (socket_path, PXE_IPV4, self.path("tftp")))
        process = self._spawn(["unshare", "-m", "sh", "-c", script], "tftpd.log")
        self._wait(lambda: self.ns("curl", "-s", "-o", "/dev/null", "tftp://%s/undionly.kpxe" % PXE_IPV4,
                                   check=False).returncode == 0, "in.tftpd", process, "tftpd.log")

    def start_bmcs(self):
        control = os.path.join(HERE, "..", "bmc", "files", "chassis_control.sh")
        for index, (name, mac, _address, _rack, _firmware, arch, how) in enumerate(self.machines):
            if how == "its BMC does not answer":
                continue
            port = self.bmc_port + index
            directory = self.path("bmc", name)
            os.makedirs(os.path.join(directory, "state"), exist_ok=True)
            with open(os.path.join(directory, "boots"), "w", encoding="utf-8") as handle:
                handle.write("ip netns exec %s %s %s %s %d %s %s %s %s %s\n" % (
                    self.netns, sys.executable, os.path.join(HERE, "fake_machine.py"), mac, arch, GATEWAY, PXE_IPV4,
                    self.path("dhcp.lock"), self.path("machines.log"), os.path.join(directory, "disk")))
            with open(os.path.join(directory, "lan.conf"), "w", encoding="utf-8") as handle:
                handle.write(LAN_CONF % {"port": port, "user": USERNAME, "password": PASSWORD, "control": control, "dir": directory})
            with open(os.path.join(directory, "bmc.emu"), "w", encoding="utf-8") as handle:
                handle.write(BMC_EMU)
            with open(os.path.join(directory, "ipmi_sim.log"), "w", encoding="utf-8") as out:
                process = subprocess.Popen(["ipmi_sim", "-c", os.path.join(directory, "lan.conf"), "-f", os.path.join(directory, "bmc.emu"),
                                            "-n", "-s", os.path.join(directory, "state")],
                                           stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
            self.processes.append(process)
            self.sims[name] = directory
            self._wait(lambda port=port: _udp_bound(port), "ipmi_sim on %d" % port, process, os.path.join(directory, "ipmi_sim.log"))

    # -- use ----------------------------------------------------------------------

    def read(self, *parts):
        try:
            with open(self.path(*parts), encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError:
            return ""

    def power_calls(self, name):
        """chassis_control calls that changed something, in order."""
        return [line for line in self.read("bmc", name, "calls.log").splitlines() if line.startswith("set ")]

    def reinstall_all(self):
        """Every machine back to new: powered off, a blank disk, no provisioning state, its installer scripts."""
        self.power_off_all()
        for directory in self.sims.values():
            if os.path.exists(os.path.join(directory, "disk")):
                os.unlink(os.path.join(directory, "disk"))
        for name in os.listdir(self.path("state")):
            if name.startswith("machines-"):
                os.unlink(self.path("state", name))
        if os.path.exists(self.path("pxe-assets.json")):
            os.unlink(self.path("pxe-assets.json"))
        self.render_assets()

    def power_off_all(self):
        for directory in self.sims.values():
            with open(os.path.join(directory, "power"), "w", encoding="utf-8") as handle:
                handle.write("0\n")

    def run_vars(self, extra=None):
        """The variables of a bring-up run on the lab (extra ones win)."""
        variables = {
            "bringup_report_dir": self.path("reports"),
            "bringup_wait_timeout": 60,  # a refused fetch fails its attempt after a 15 s grace: two attempts
            "bringup_poll_interval": 1,
            "bringup_http_logs": [self.path("nginx", "netboot-pxe.log")],
            "bringup_tftp_journal": False,
            "bringup_tftp_logs": [self.path("syslog")],
            "bringup_lease_files4": [self.path("kea", "kea-leases4.csv")],
            "bringup_lease_files6": [],
            "bringup_events_cursor_dir": self.path("cursors"),
            "bringup_bmc_timeout": 3,
        }
        variables.update(extra or {})
        return variables

    def playbook(self, *args, extra=None, timeout=300):
        command = [venv_tool("ansible-playbook"), "-i", self.path("inventory"), os.path.join(REPO, "playbooks", "bringup.yml"),
                   "-f", "10", "-e", json.dumps(self.run_vars(extra))] + list(args)
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
        return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)

    def report(self, name):
        with open(self.path("reports", name), encoding="utf-8") as handle:
            return json.load(handle)

    def reports(self):
        return sorted(os.listdir(self.path("reports")))

    # -- teardown -------------------------------------------------------------------

    def stop(self):
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
        # Fake clients still running (a machine stuck mid-boot) live in the namespace: end them by PID.
        listed = subprocess.run(["ip", "netns", "pids", self.netns], capture_output=True, text=True, check=False)
        for pid in listed.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        subprocess.run(["ip", "netns", "del", self.netns], check=False, capture_output=True)
        shutil.rmtree(self.work, ignore_errors=True)


def free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
