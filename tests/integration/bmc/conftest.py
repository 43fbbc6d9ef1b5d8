"""Fixtures for the BMC tests: ipmi_sim and sushy-emulator BMCs on 127.0.0.1, a YAML
inventory following the netboot.fleet.sot hostvars contract, and an ansible runner."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "collections"))
sys.path.insert(0, HERE)

import bmc_lab  # noqa: E402

REPO = bmc_lab.REPO
RESULT_LINE = re.compile(r"^(\S+) \| (SUCCESS|CHANGED|FAILED!|UNREACHABLE!) => ", re.M)


@pytest.fixture
def ipmi_sims(tmp_path):
    """make(chassis_control=True) -> a started IpmiSim; all stopped after the test."""
    if shutil.which("ipmi_sim") is None:
        pytest.skip("ipmi_sim is not installed (Debian package openipmi)")
    started = []

    def make(chassis_control=True):
        sim = bmc_lab.IpmiSim(str(tmp_path / ("ipmi%d" % len(started))), chassis_control=chassis_control)
        started.append(sim)
        return sim.start()

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    return bmc_lab.self_signed_certificate(str(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def redfish_bmcs(tmp_path, certificate):
    """make(power="Off") -> a started SushyEmulator; all stopped after the test."""
    if bmc_lab.venv_tool("sushy-emulator") is None:
        pytest.skip("sushy-emulator is not installed (pip install sushy-tools)")
    started = []

    def make(power="Off"):
        bmc = bmc_lab.SushyEmulator(str(tmp_path / ("redfish%d" % len(started))), certificate, power=power)
        started.append(bmc)
        return bmc.start()

    yield make
    for bmc in started:
        bmc.stop()


def machine(name, index, bmc, firmware="uefi"):
    """Hostvars of one machine as the netboot.fleet.sot inventory sets them."""
    ipv4 = "198.51.100.%d" % (10 + index)
    return {
        "ansible_host": ipv4,
        "netboot": {
            "name": name, "mac": "52:54:00:00:00:%02x" % (index + 1), "ipv4": ipv4, "ipv6": None,
            "network": "rack12", "profile": "debian-12", "firmware": firmware, "rack": "r12", "labels": {},
            "bmc": bmc,
        },
    }


@pytest.fixture
def inventory(tmp_path):
    """write({name: bmc_record}, credentials=True, **group_vars) -> path of a YAML inventory."""

    def write(machines, credentials=True, **group_vars):
        group = {"hosts": dict((name, machine(name, index, bmc)) for index, (name, bmc)
                               in enumerate(sorted(machines.items())))}
        group_vars.setdefault("netboot_bmc_validate_certs", False)  # sushy's throwaway certificate
        if credentials:
            group_vars.update(netboot_bmc_username=bmc_lab.USERNAME, netboot_bmc_password=bmc_lab.PASSWORD)
        path = tmp_path / "inventory.yml"
        path.write_text(yaml.safe_dump({"all": {"children": {"rack12": group}, "vars": group_vars}}))
        return str(path)

    return write


class AnsibleRun:
    def __init__(self, completed):
        self.rc = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.results = {}
        decoder = json.JSONDecoder()
        for match in RESULT_LINE.finditer(self.stdout):
            result = decoder.raw_decode(self.stdout, match.end())[0]
            self.results[match.group(1)] = dict(result, status=match.group(2))

    def __getitem__(self, host):
        return self.results[host]


def ansible_env():
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_HOST_KEY_CHECKING="0")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


@pytest.fixture
def ansible():
    """ansible(inventory, module, args, pattern="all", *extra) -> AnsibleRun with per-host results."""

    def run(inventory_path, module, args="", pattern="all", *extra):
        command = [bmc_lab.venv_tool("ansible"), "-i", inventory_path, pattern, "-m", module, "-a", args] + list(extra)
        return AnsibleRun(subprocess.run(command, cwd=REPO, env=ansible_env(), capture_output=True, text=True,
                                         check=False, timeout=600))

    return run


@pytest.fixture
def ansible_playbook():
    """ansible_playbook(inventory, playbook, *extra) -> CompletedProcess."""

    def run(inventory_path, playbook, *extra):
        command = [bmc_lab.venv_tool("ansible-playbook"), "-i", inventory_path, playbook] + list(extra)
        return subprocess.run(command, cwd=REPO, env=ansible_env(), capture_output=True, text=True, check=False,
                              timeout=600)

    return run
