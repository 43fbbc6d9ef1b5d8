"""Fixtures: a private PostgreSQL set up by the kea_hostsdb role, one Kea node in hosts-db mode
and one in json mode (same SoT), both configured by kea_config and the database by kea_hosts,
all through ansible-playbook."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import hostsdb_lab  # noqa: E402
import kea_lab  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot  # noqa: E402

EMBEDDED_SOT = kea_lab.EMBEDDED_SOT


class HostsLab:
    def __init__(self, workdir):
        self.dir = workdir
        self.sot = sot.load(EMBEDDED_SOT)
        self.passwords = {"sync": secrets.token_urlsafe(18), "reader": secrets.token_urlsafe(18)}
        self.cluster = hostsdb_lab.PgCluster()
        tag = str(os.getpid())[-6:]
        self.db_node = hostsdb_lab.KeaNode(workdir, tag + "d", self.sot, {
            "hosts_backend": "postgresql", "hosts_db_host": self.cluster.socket_dir,
            "hosts_db_port": self.cluster.port, "hosts_db_user": "kea",
            # Short, so the database-down test sees the exit within seconds.
            "hosts_db_max_reconnect_tries": 3, "hosts_db_reconnect_wait_time": 500})
        self.json_node = hostsdb_lab.KeaNode(workdir, tag + "j", self.sot)
        self.role_runs = []

    def start(self):
        self.cluster.init().start()
        for _run in range(2):  # the second run shows the role is idempotent
            returncode, output, seconds = hostsdb_lab.ansible_playbook(
                self.dir, hostsdb_lab.ROLE_PLAYBOOK, hostsdb_lab.role_vars(self.cluster, self.passwords))
            assert returncode == 0, output
            self.role_runs.append(output)
            print("role run: %.1f s" % seconds)
        for node in (self.db_node, self.json_node):
            node.create()
            node.start()
        returncode, output, _results = self.apply_config(self.json_node)
        assert returncode == 0, output
        returncode, output, _results = self.apply_config(self.db_node)
        assert returncode == 0, output
        returncode, output, _result = self.sync(EMBEDDED_SOT)
        assert returncode == 0, output

    def stop(self):
        for node in (self.db_node, self.json_node):
            node.destroy()
        self.cluster.destroy()

    def _result(self, name):
        path = os.path.join(self.dir, name)
        if not os.path.exists(path):
            return None
        with open(path) as handle:
            data = json.load(handle)
        os.unlink(path)
        return data

    def apply_config(self, node, sot_path=EMBEDDED_SOT):
        extra = {"sot_path": sot_path, "kea_settings": node.settings, "config_dir": node.dir,
                 "result_file": os.path.join(self.dir, "config-result.json")}
        if node is self.db_node:
            extra["reader_password"] = self.passwords["reader"]
        returncode, output, _seconds = hostsdb_lab.ansible_playbook(self.dir, hostsdb_lab.CONFIG_TASK, extra)
        return returncode, output, self._result("config-result.json")

    def sync(self, sot_path, check=False, state_file=True, full=False):
        extra = {"sot_path": str(sot_path), "db_host": self.cluster.socket_dir, "db_port": self.cluster.port,
                 "sync_password": self.passwords["sync"], "result_file": os.path.join(self.dir, "sync-result.json"),
                 "cache_dir": os.path.join(self.dir, "cache"), "full": full}
        if state_file:
            extra["state_file"] = os.path.join(self.dir, "kea_hosts.state.json")
        returncode, output, _seconds = hostsdb_lab.ansible_playbook(self.dir, hostsdb_lab.SYNC_TASK, extra, check=check)
        return returncode, output, self._result("sync-result.json")


@pytest.fixture(scope="module")
def lab():
    reason = hostsdb_lab.missing()
    if reason:
        pytest.skip(reason)
    workdir = tempfile.mkdtemp(prefix="nbh-lab-")
    environment = HostsLab(workdir)
    try:
        environment.start()
        yield environment
    finally:
        environment.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture()
def sot_copy(tmp_path):
    target = tmp_path / "sot"
    shutil.copytree(EMBEDDED_SOT, target)
    return target
