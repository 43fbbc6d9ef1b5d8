"""Two Kea nodes sharing one lease database on PostgreSQL 15 (primary + synchronous standby), for the
shared-leases tests and benchmarks.

Names carry the prefix nbq- and the run's PID; TCP is never used (PostgreSQL listens on Unix sockets in
this lab's directories, port 19432 for both servers, so one libpq host list names both). The clusters
are Debian clusters (pg_createcluster), managed like a real server's by the kea_hostsdb and
kea_db_replication roles; each node is kea_lab's pair of namespaces (nbq-srv-/nbq-cli-<tag>): a client
"reaches" a node by sending from that node's client namespace, as ECMP would send a relay there.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
for path in (os.path.join(REPO, "collections"), os.path.join(REPO, "tests", "integration", "kea"),
             os.path.join(REPO, "tests", "integration", "hostsdb")):
    if path not in sys.path:
        sys.path.insert(0, path)

import hostsdb_lab  # noqa: E402  (Kea nodes, Ansible runs: reused, not copied)
import kea_lab  # noqa: E402

PORT = 19432
VERSION = "15"
# The Kea unit drop-in of the kea_dhcp role sets this: libpq picks the server that accepts writes.
KEA_ENVIRONMENT = {"PGTARGETSESSIONATTRS": "read-write"}
# Durable server settings for many small commits (benchmarks/kea_leases.py): Kea's threads commit
# concurrently, group commit flushes them together; WAL buffers sized for the burst.
TUNING = "commit_delay = 200\ncommit_siblings = 2\nwal_buffers = 16MB\n"


def missing():
    reason = hostsdb_lab.missing()
    if reason:
        return reason
    for tool in ("pg_createcluster", "pg_ctlcluster", "pg_dropcluster", "pg_basebackup"):
        if shutil.which(tool) is None:
            return "%s is not installed (Debian postgresql-common / postgresql-client)" % tool
    return None


def run(*command, timeout=120, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True, **kwargs)


class Cluster:
    """A Debian PostgreSQL cluster (/etc/postgresql/15/<name>) with its data and socket under workdir."""

    def __init__(self, name, workdir, admin_password):
        self.name = name
        self.socket_dir = os.path.join(workdir, name)
        self.data = os.path.join(self.socket_dir, "data")
        self.port = PORT
        self.admin_password = admin_password

    def create(self, durable=False):
        os.makedirs(self.socket_dir)
        shutil.chown(self.socket_dir, "postgres", "postgres")
        password_file = os.path.join(self.socket_dir, "pwfile")
        with open(os.open(password_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
            handle.write(self.admin_password + "\n")
        shutil.chown(password_file, "postgres", "postgres")
        try:
            run("pg_createcluster", VERSION, self.name, "-p", str(self.port), "-s", self.socket_dir, "-d", self.data,
                "--", "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "--pwfile=" + password_file)
        finally:
            os.unlink(password_file)
        with open(os.path.join(self.config_dir, "postgresql.conf"), "a") as conf:
            conf.write("listen_addresses = ''\nshared_buffers = 64MB\nsynchronous_commit = on\n")
            # Tests: the lab kills processes, never the machine, and the page cache survives that; what an
            # acknowledged commit needs on failover is the standby's copy (synchronous_commit). Benchmarks
            # keep fsync, as a real server does, and take TUNING.
            conf.write(TUNING if durable else "fsync = off\nfull_page_writes = off\n")
        return self

    @property
    def config_dir(self):
        return "/etc/postgresql/%s/%s" % (VERSION, self.name)

    def ctl(self, *action, check=True):
        return subprocess.run(["pg_ctlcluster", VERSION, self.name] + list(action), capture_output=True, text=True,
                              timeout=120, check=check)

    def start(self):
        self.ctl("start")
        return self

    def crash(self):
        """The primary dies: every server process is killed, nothing is flushed or handed over."""
        self.ctl("stop", "-m", "immediate")

    def promote(self):
        self.ctl("promote")

    def drop(self):
        subprocess.run(["pg_dropcluster", "--stop", VERSION, self.name], capture_output=True, timeout=120, check=False)
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    def connect(self, user="postgres", password=None, dbname="kea", **extra):
        import psycopg
        return psycopg.connect(host=self.socket_dir, port=self.port, user=user, dbname=dbname,
                               password=password if password is not None else self.admin_password, **extra)


class Topology(kea_lab.Topology):
    def __init__(self, tag: str):
        super().__init__(tag)
        self.srv, self.cli = "nbq-srv-%s" % tag, "nbq-cli-%s" % tag
        self.srv_if, self.cli_if = "nbqs%s" % tag[-8:], "nbqc%s" % tag[-8:]


PROMOTE = """\
- name: Promote the standby
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Promote
      ansible.builtin.include_role:
        name: netboot.fleet.kea_db_replication
        tasks_from: promote.yml
"""

CONFIG_TASK = """\
- name: Apply the Kea configuration to both nodes
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Apply
      netboot.fleet.kea_config:
        family: "{{ item.1 }}"
        sot: "{{ sot_path }}"
        settings: "{{ item.0.settings }}"
        lease_db_password: "{{ lease_password }}"
        hosts_db_password: "{{ reader_password }}"
        config_path: "{{ item.0.dir }}/kea-{{ item.1 }}.conf"
        persist: file
        set: "{{ not restart }}"
      loop: "{{ nodes | product(['dhcp4', 'dhcp6']) | list }}"
      loop_control:
        label: "{{ item.0.dir }} {{ item.1 }}"
"""


class LeasesLab:
    """The database (primary + optional standby) and two Kea nodes, q1 and q2."""

    def __init__(self, sot, with_standby=True, lease_backend="memfile", node_settings=None, durable=False):
        self.dir = tempfile.mkdtemp(prefix="nbq-lab-")
        os.chmod(self.dir, 0o755)
        self.sot = sot
        self.tag = str(os.getpid())[-6:]
        self.passwords = {name: secrets.token_urlsafe(18) for name in ("admin", "sync", "reader", "leases", "replication")}
        self.primary = Cluster("nbq-p-%s" % self.tag, self.dir, self.passwords["admin"])
        self.standby = Cluster("nbq-s-%s" % self.tag, self.dir, self.passwords["admin"]) if with_standby else None
        servers = [self.primary.socket_dir] + ([self.standby.socket_dir] if self.standby else [])
        self.database_settings = {
            # The database mode: reservations and leases in the shared database.
            "hosts_backend": "postgresql", "hosts_db_host": ",".join(servers), "hosts_db_port": PORT,
            # Rides out a promotion (seconds) without exiting: 60 tries 0.5 s apart.
            "hosts_db_max_reconnect_tries": 60, "hosts_db_reconnect_wait_time": 500}
        self.database_settings.update(node_settings or {})
        self.nodes = []
        for name in ("q1", "q2"):
            node = hostsdb_lab.KeaNode(self.dir, self.tag + name, sot, dict(self.database_settings))
            node.topology = Topology(self.tag + name)
            node.settings["interfaces4"] = [node.topology.srv_if, "lo"]
            node.settings["interfaces6"] = ["%s/%s" % (node.topology.srv_if, kea_lab.ANYCAST6), "lo/::1"]
            node.environment = dict(KEA_ENVIRONMENT)
            self.nodes.append(node)
        self.lease_backend = None
        self.initial_backend = lease_backend
        self.durable = durable
        self.role_output = ""

    def start_database(self, sot_path):
        """The clusters, set up by bringup.yml's database plays (the roles), without this lab's Kea nodes."""
        self.sot_path = sot_path
        self.primary.create(self.durable).start()
        if self.standby:
            self.standby.create(self.durable).start()
        returncode, output = self.bringup("--limit", "kea_db", "--tags", "deploy,apply")
        self.role_output = output
        assert returncode == 0, output[-6000:]
        return self

    def start(self, sot_path):
        self.start_database(sot_path)
        for node in self.nodes:
            node.create()
            node.start()
        self.use(self.initial_backend)
        return self

    def write_inventory(self):
        """The embedded SoT through the inventory plugin, plus the kea_db group: this lab's two clusters as
        local hosts, in the database mode. Passwords in a 0600 file."""
        directory = os.path.join(self.dir, "inventory")
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "lab.sot.yml"), "w") as handle:
            json.dump({"plugin": "netboot.fleet.sot", "source": self.sot_path}, handle)
        admin = {"kea_db_replication_admin_become": False, "kea_db_replication_admin_password": self.passwords["admin"],
                 "kea_db_replication_port": PORT, "kea_db_replication_password": self.passwords["replication"],
                 "ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        hosts = {"nbq-primary": dict(admin, kea_db_replication_role="primary", kea_db_replication_standbys=["nbq_standby"],
                                     kea_db_replication_cluster=self.primary.name, kea_db_replication_data_dir=self.primary.data,
                                     kea_db_replication_socket_dir=self.primary.socket_dir,
                                     kea_hostsdb_install=False, kea_hostsdb_admin_become=False,
                                     kea_hostsdb_admin_password=self.passwords["admin"],
                                     kea_hostsdb_socket_dir=self.primary.socket_dir, kea_hostsdb_port=PORT,
                                     kea_hostsdb_sync_password=self.passwords["sync"],
                                     kea_hostsdb_reader_password=self.passwords["reader"],
                                     kea_hostsdb_lease_password=self.passwords["leases"],
                                     kea_hostsdb_state_file=os.path.join(self.dir, "kea_hosts.state.json"))}
        if self.standby:
            hosts["nbq-standby"] = dict(admin, kea_db_replication_role="standby", kea_db_replication_name="nbq_standby",
                                        kea_db_replication_primary=self.primary.socket_dir,
                                        kea_db_replication_cluster=self.standby.name,
                                        kea_db_replication_data_dir=self.standby.data,
                                        kea_db_replication_socket_dir=self.standby.socket_dir)
        data = {"all": {"vars": {"netboot_dhcp_database": "postgresql",
                                 "bringup_report_dir": os.path.join(self.dir, "reports")},
                        "children": {"kea_db": {"hosts": hosts}}}}
        hostsdb_lab.write_secret_json(os.path.join(directory, "kea_db.json"), data)
        return directory

    def bringup(self, *args):
        """ansible-playbook playbooks/bringup.yml on this lab's inventory."""
        return self.playbook("bringup.yml", *args)

    def playbook(self, name, *args):
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, "collections"), ANSIBLE_NOCOLOR="1")
        command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", self.write_inventory(),
                   os.path.join(REPO, "playbooks", name)] + list(args)
        proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
        return proc.returncode, proc.stdout + proc.stderr

    def use(self, lease_backend, restart=False):
        """Apply the SoT to both nodes with kea_config, leases in lease_backend: config-set (no restart), or
        with restart, as sync.yml does on a drained node: config-test, the file written, Kea restarted on it.
        Returns the running configurations just before the restart (None without one)."""
        if lease_backend == self.lease_backend:
            return None
        for node in self.nodes:
            node.settings["lease_backend"] = lease_backend
        extra = {"sot_path": self.sot_path, "lease_password": self.passwords["leases"],
                 "reader_password": self.passwords["reader"], "restart": restart,
                 "nodes": [{"settings": node.settings, "dir": node.dir} for node in self.nodes]}
        returncode, output, _seconds = hostsdb_lab.ansible_playbook(self.dir, CONFIG_TASK, extra)
        assert returncode == 0, output[-6000:]
        before = None
        if restart:
            before = [kea_lab.control(node.socket("dhcp4"), "config-get")["arguments"] for node in self.nodes]
            for node in self.nodes:
                node.stop()
                node.start(bootstrap=False)
        self.lease_backend = lease_backend
        return before

    def promote_standby(self):
        """The documented failover: the kea_db_replication role's promote tasks on the standby."""
        extra = {"kea_db_replication_cluster": self.standby.name, "kea_db_replication_socket_dir": self.standby.socket_dir,
                 "kea_db_replication_port": PORT, "kea_db_replication_admin_become": False,
                 "kea_db_replication_admin_password": self.passwords["admin"]}
        returncode, output, _seconds = hostsdb_lab.ansible_playbook(self.dir, PROMOTE, extra)
        return returncode, output

    def leases_writer(self):
        return self.primary.connect(user="kea_leases", password=self.passwords["leases"])

    def destroy(self, nodes=True):
        for node in self.nodes if nodes else ():
            node.destroy()
        for cluster in (self.primary, self.standby):
            if cluster is not None:
                cluster.drop()
        shutil.rmtree(self.dir, ignore_errors=True)
