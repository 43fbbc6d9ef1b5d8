"""Fixtures: a real Kea 2.x (dhcp4 + dhcp6) in network namespaces, configured by the
collection's own kea_config action/module through ansible-playbook."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "collections"))
sys.path.insert(0, HERE)

from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.kea import config as kea  # noqa: E402
import kea_lab  # noqa: E402

EMBEDDED_SOT = kea_lab.EMBEDDED_SOT
DAEMONS = {"dhcp4": "kea-dhcp4", "dhcp6": "kea-dhcp6"}

PLAYBOOK = """\
- name: Apply the SoT to the test Kea
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Apply the configuration
      netboot.fleet.kea_config:
        family: "{{ item }}"
        sot: "{{ sot_path | default(omit) }}"
        # From a file: a Kea config holds "{%" (log patterns), which must not be templated.
        config: "{{ (lookup('ansible.builtin.file', raw_config) | from_json) if raw_config is defined else omit }}"
        settings: "{{ kea_settings }}"
        config_path: "{{ config_dir }}/kea-{{ item }}.conf"
        persist: file
      loop: "{{ families }}"
      register: applied
    - name: Keep the module results for the test
      check_mode: false
      ansible.builtin.copy:
        content: "{{ applied.results | to_json }}"
        dest: "{{ config_dir }}/results.json"
        mode: "0600"
"""


def _missing():
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("kea-dhcp4", "kea-dhcp6", "ip"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    return None


class KeaLab:
    """The topology, the two daemons and a way to apply a SoT through Ansible."""

    def __init__(self, tmp_path):
        self.tmp = str(tmp_path)
        self.topology = kea_lab.Topology(str(os.getpid()))
        self.sot = sot.load(EMBEDDED_SOT)
        self.settings = {
            "interfaces4": [self.topology.srv_if],
            "interfaces6": ["%s/%s" % (self.topology.srv_if, kea_lab.ANYCAST6)],
            "control_socket4": os.path.join(self.tmp, "kea4.sock"),
            "control_socket6": os.path.join(self.tmp, "kea6.sock"),
            "lease_file4": os.path.join(self.tmp, "leases4.csv"),
            "lease_file6": os.path.join(self.tmp, "leases6.csv"),
            "data_directory": self.tmp,
        }
        self.daemons = {}

    def socket(self, family):
        return self.settings["control_socket%s" % family[-1]]

    def start(self):
        gateways4 = sorted({n.ipv4.gateway for n in self.sot.networks if n.ipv4})
        gateways6 = sorted({n.ipv6.gateway for n in self.sot.networks if n.ipv6})
        self.topology.create(gateways4, gateways6)
        settings = kea.Settings.from_dict(self.settings)
        for family, daemon in DAEMONS.items():
            # Bootstrap: server settings and control socket, no subnets (what the role writes).
            config = kea.render(self.sot, family, settings)
            config[next(iter(config))]["subnet%s" % family[-1]] = []
            path = os.path.join(self.tmp, "kea-%s.conf" % family)
            with open(path, "w") as handle:
                json.dump(config, handle)
            process = kea_lab.KeaProcess(self.topology.srv, daemon, path, self.tmp)
            self.daemons[family] = process
            process.start(self.socket(family))

    def stop(self):
        for process in self.daemons.values():
            process.stop()
        self.topology.destroy()

    def apply(self, sot_path=None, raw_config=None, families=("dhcp4", "dhcp6"), check=False):
        """Run ansible-playbook with the kea_config action; return (returncode, output, results)."""
        playbook = os.path.join(self.tmp, "apply.yml")
        with open(playbook, "w") as handle:
            handle.write(PLAYBOOK)
        results = os.path.join(self.tmp, "results.json")
        if os.path.exists(results):
            os.unlink(results)
        extra = {"kea_settings": self.settings, "config_dir": self.tmp, "families": list(families),
                 "ansible_python_interpreter": sys.executable}
        if sot_path:
            extra["sot_path"] = sot_path
        if raw_config:
            extra["raw_config"] = os.path.join(self.tmp, "raw-config.json")
            with open(extra["raw_config"], "w") as handle:
                json.dump(raw_config, handle)
        varsfile = os.path.join(self.tmp, "vars.json")
        with open(varsfile, "w") as handle:
            json.dump(extra, handle)
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, "collections"),
                   ANSIBLE_NOCOLOR="1", ANSIBLE_DIFF_ALWAYS="1")
        command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                   "-c", "local", "-e", "@" + varsfile, playbook]
        if check:
            command.append("--check")
        proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
                              check=False)
        data = None
        if os.path.exists(results):
            with open(results) as handle:
                data = json.load(handle)
        return proc.returncode, proc.stdout + proc.stderr, data


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    reason = _missing()
    if reason:
        pytest.skip(reason)
    environment = KeaLab(tmp_path_factory.mktemp("kea"))
    try:
        environment.start()
        yield environment
    finally:
        environment.stop()


@pytest.fixture()
def sot_copy(tmp_path):
    """A writable copy of the embedded SoT."""
    target = tmp_path / "sot"
    shutil.copytree(EMBEDDED_SOT, target)
    return target
