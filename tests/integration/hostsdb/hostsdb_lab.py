"""A private PostgreSQL cluster, Kea in hosts-db and json mode, and Ansible runs for the host
database tests and benchmarks/propagation.py.

Reuses tests/integration/kea/kea_lab.py (Kea processes, relayed scapy clients, the control
client) with this suite's own namespace names (prefix nbh-). PostgreSQL runs as the postgres
user from a tmp directory, listening on a Unix socket there only; the host's own PostgreSQL
service is never touched. Passwords are generated per run and travel in files (0600) and
environment variables, never on command lines.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
for path in (os.path.join(REPO, "collections"), os.path.join(REPO, "tests", "integration", "kea")):
    if path not in sys.path:
        sys.path.insert(0, path)

import kea_lab  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.kea import config as kea  # noqa: E402

PG_BIN = "/usr/lib/postgresql/15/bin"
DAEMONS = {"dhcp4": "kea-dhcp4", "dhcp6": "kea-dhcp6"}


def missing():
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, PostgreSQL as the postgres user)"
    for tool in ("kea-dhcp4", "kea-dhcp6", "kea-admin", "ip", os.path.join(PG_BIN, "initdb")):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    try:
        import pwd
        pwd.getpwnam("postgres")
    except KeyError:
        return "no postgres user (Debian package postgresql)"
    return None


class Topology(kea_lab.Topology):
    """kea_lab's two namespaces, named nbh-srv-<tag> / nbh-cli-<tag>."""

    def __init__(self, tag: str):
        super().__init__(tag)
        self.srv, self.cli = "nbh-srv-%s" % tag, "nbh-cli-%s" % tag
        self.srv_if, self.cli_if = "nbhs%s" % tag[-8:], "nbhc%s" % tag[-8:]


class PgCluster:
    """initdb + postgres as the postgres user; Unix socket in its own tmp dir, no TCP."""

    def __init__(self, prefix="nbh-pg-"):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgres.log")
        self.socket_dir = self.dir
        self.port = 5432
        self.admin_password = secrets.token_urlsafe(18)

    def _run(self, *command, timeout=120):
        return subprocess.run(command, user="postgres", group="postgres", cwd=self.dir, capture_output=True,
                              text=True, timeout=timeout, check=True)

    def init(self):
        password_file = os.path.join(self.dir, "pwfile")
        with open(os.open(password_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
            handle.write(self.admin_password + "\n")
        shutil.chown(password_file, "postgres", "postgres")
        self._run(os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", "postgres", "--pwfile", password_file,
                  "--auth=scram-sha-256", "-E", "UTF8")
        os.unlink(password_file)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
            # Test speed only: a crash loses the cluster, which the test throws away anyway.
            conf.write("listen_addresses = ''\nunix_socket_directories = '%s'\nport = %d\nfsync = off\n"
                       "synchronous_commit = off\nfull_page_writes = off\nshared_buffers = 64MB\n"
                       % (self.socket_dir, self.port))
        return self

    def start(self):
        self._run(os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-l", self.log, "-w", "start")
        return self

    def stop(self, mode="fast"):
        subprocess.run([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop"], user="postgres",
                       group="postgres", capture_output=True, text=True, timeout=60, check=False)

    def running(self):
        return os.path.exists(os.path.join(self.data, "postmaster.pid"))

    def destroy(self):
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def connect(self, user="postgres", password=None, dbname="kea", **extra):
        import psycopg
        return psycopg.connect(host=self.socket_dir, port=self.port, user=user, dbname=dbname,
                               password=password if password is not None else self.admin_password, **extra)


def write_secret_json(path, data):
    """A vars file Ansible reads with -e @path: created 0600 before anything is written."""
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        json.dump(data, handle)
    return path


def ansible_playbook(workdir, playbook_text, extra_vars, check=False, timeout=600):
    """Run a playbook against localhost; return (returncode, output, seconds)."""
    playbook = os.path.join(workdir, "play-%d.yml" % os.getpid())
    with open(playbook, "w") as handle:
        handle.write(playbook_text)
    varsfile = write_secret_json(os.path.join(workdir, "vars-%d.json" % os.getpid()),
                                 dict(extra_vars, ansible_python_interpreter=sys.executable))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_DIFF_ALWAYS="1")
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
               "-e", "@" + varsfile, playbook]
    if check:
        command.append("--check")
    start = time.monotonic()
    try:
        proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
                              check=False)
    finally:
        os.unlink(varsfile)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start


ROLE_PLAYBOOK = """\
- name: Set up the host database with the kea_hostsdb role
  hosts: localhost
  gather_facts: false
  roles:
    - role: netboot.fleet.kea_hostsdb
"""


def role_vars(cluster, passwords):
    """Variables for roles/kea_hostsdb against a private cluster (no install, admin by password)."""
    return {"kea_hostsdb_install": False, "kea_hostsdb_admin_become": False,
            "kea_hostsdb_admin_password": cluster.admin_password, "kea_hostsdb_socket_dir": cluster.socket_dir,
            "kea_hostsdb_port": cluster.port, "kea_hostsdb_sync_password": passwords["sync"],
            "kea_hostsdb_reader_password": passwords["reader"]}


SYNC_TASK = """\
- name: Sync the host database
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Sync
      netboot.fleet.kea_hosts:
        sot: "{{ sot_path }}"
        db_host: "{{ db_host }}"
        db_port: "{{ db_port }}"
        db_user: kea_sync
        db_password: "{{ sync_password }}"
        state_file: "{{ state_file | default(omit) }}"
        cache_dir: "{{ cache_dir | default(omit) }}"
        full: "{{ full | default(false) }}"
      register: synced
    - name: Keep the result for the caller
      check_mode: false
      ansible.builtin.copy:
        content: "{{ synced | to_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
"""

CONFIG_TASK = """\
- name: Apply the Kea configuration
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Apply
      netboot.fleet.kea_config:
        family: "{{ item }}"
        sot: "{{ sot_path }}"
        settings: "{{ kea_settings }}"
        hosts_db_password: "{{ reader_password | default(omit) }}"
        config_path: "{{ config_dir }}/kea-{{ item }}.conf"
        persist: file
      loop: [dhcp4, dhcp6]
      register: applied
    - name: Keep the result for the caller
      check_mode: false
      ansible.builtin.copy:
        content: "{{ applied.results | to_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
"""


class KeaNode:
    """kea-dhcp4 + kea-dhcp6 in one topology, started from a bootstrap config (no subnets) and
    configured through kea_config, like the kea_dhcp role does it."""

    def __init__(self, workdir, tag, sot, extra_settings=None):
        self.dir = os.path.join(workdir, tag)
        os.makedirs(self.dir, exist_ok=True)
        self.topology = Topology(tag)
        self.sot = sot
        self.settings = {
            # lo, lo/::1: the anycast health check's probes arrive over loopback (bgp.kea_interfaces).
            "interfaces4": [self.topology.srv_if, "lo"],
            "interfaces6": ["%s/%s" % (self.topology.srv_if, kea_lab.ANYCAST6), "lo/::1"],
            "control_socket4": os.path.join(self.dir, "kea4.sock"),
            "control_socket6": os.path.join(self.dir, "kea6.sock"),
            "lease_file4": os.path.join(self.dir, "leases4.csv"),
            "lease_file6": os.path.join(self.dir, "leases6.csv"),
            "data_directory": self.dir,
            "log_output": "stdout",
        }
        self.settings.update(extra_settings or {})
        self.environment = {}  # the Kea processes' extra environment (the kea_dhcp role's unit drop-in)
        self.daemons = {}

    def socket(self, family):
        return self.settings["control_socket%s" % family[-1]]

    def create(self, gateways4=None, gateways6=None):
        """The namespaces, with the relay addresses of the given gateways (default: every network's)."""
        if gateways4 is None:
            gateways4 = sorted({n.ipv4.gateway for n in self.sot.networks if n.ipv4})
        if gateways6 is None:
            gateways6 = sorted({n.ipv6.gateway for n in self.sot.networks if n.ipv6})
        self.topology.create(gateways4, gateways6)

    def start(self, family=None, bootstrap=True, timeout=60):
        """Start the daemons; bootstrap=False starts from the file kea_config persisted."""
        json_settings = {key: value for key, value in self.settings.items() if not key.startswith("hosts_")}
        for name in ([family] if family else list(DAEMONS)):
            path = os.path.join(self.dir, "kea-%s.conf" % name)
            if bootstrap:
                config = kea.render(self.sot, name, kea.Settings.from_dict(json_settings))
                config[next(iter(config))]["subnet%s" % name[-1]] = []
                with open(path, "w") as handle:
                    json.dump(config, handle)
            if os.path.exists(self.socket(name)):
                os.unlink(self.socket(name))
            process = kea_lab.KeaProcess(self.topology.srv, DAEMONS[name], path, self.dir, self.environment)
            process.start(self.socket(name), timeout=timeout)
            self.daemons[name] = process

    def pids(self):
        return {name: process.pid for name, process in self.daemons.items()}

    def stop(self):
        for process in self.daemons.values():
            process.stop()

    def destroy(self):
        self.stop()
        self.topology.destroy()
