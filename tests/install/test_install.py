"""The installed collection, run as a user runs it: from the runtime venv, outside the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import CORE, REPO, collection_names, galaxy, manifest, tar_members

sys.path.insert(0, os.path.join(REPO, "tests", "integration", "bmc"))
import bmc_lab  # noqa: E402  (ipmi_sim BMCs on 127.0.0.1, started and stopped by PID)

# What a user needs in the tarball, and what must never be in it.
MUST_SHIP = ["MANIFEST.json", "FILES.json", "README.md", "LICENSE", "CHANGELOG.rst", "bindep.txt", "requirements.yml",
             "meta/runtime.yml", "meta/execution-environment.yml", "meta/ee-requirements.txt",
             "changelogs/changelog.yaml", "playbooks/bringup.yml", "inventory/fleet.sot.yml",
             "plugins/inventory/sot.py", "roles/kea_dhcp/meta/argument_specs.yml",
             "docs/docsite/links.yml", "docs/docsite/extra-docs.yml"]
NEVER_SHIP = (".venv/", ".ci/", ".git/", "collections/", "benchmarks/", "lab/", "molecule/", "scripts/", "ee/", "tests/unit/",
              "tests/integration/", "tests/e2e/", "tests/install/", "tests/images/", "tests/output/", "tests/sot_corpus/",
              "build/", "__pycache__/", ".pytest_cache/", ".ansible/")
NEVER_SHIP_FILES = ("requirements.txt", "Makefile", "ansible.cfg", ".gitignore", "galaxy.yml", "execution-environment.yml",
                    ".ansible-lint", ".yamllint")
MAX_TARBALL_BYTES = 1024 * 1024


def test_tarball_holds_the_collection_and_nothing_else(installed):
    members = tar_members(installed.tarball)
    names = [member.name for member in members if member.isfile()]
    missing = [name for name in MUST_SHIP if name not in names]
    assert not missing, missing
    assert any(name.startswith("plugins/module_utils/") and name.endswith(".py") for name in names)
    stray = [name for name in names if (name + "/").startswith(NEVER_SHIP) or "/__pycache__/" in name
             or name.endswith(".pyc") or name in NEVER_SHIP_FILES
             or (name.startswith("tests/") and not name.startswith("tests/sanity/"))]
    assert not stray, stray
    size = os.path.getsize(installed.tarball)
    assert size < MAX_TARBALL_BYTES, size
    top = {}
    for name in names:
        top[name.split("/")[0]] = top.get(name.split("/")[0], 0) + 1
    summary = ", ".join("%s %d" % item for item in sorted(top.items()))
    tarball = os.path.basename(installed.tarball)
    print("\n%s: %d files, %d bytes; by top-level entry: %s" % (tarball, len(names), size, summary))


def test_manifest_matches_galaxy_yml(installed):
    info = manifest(installed)["collection_info"]
    declared = galaxy()
    assert (info["namespace"], info["name"], info["version"]) == ("netboot", "fleet", declared["version"])
    assert info["dependencies"] == declared["dependencies"]
    assert info["license"] == ["GPL-3.0-or-later"]
    for key in ("repository", "documentation", "issues", "homepage"):
        assert "example.invalid" not in str(info.get(key) or ""), key


def test_runtime_venv_has_only_the_declared_dependencies(installed):
    """The venv is ansible-core + meta/ee-requirements.txt: none of the development tools are there."""
    frozen = installed.run("python", "-m", "pip", "list", "--format=json").stdout
    names = {package["name"].lower() for package in json.loads(frozen)}
    assert "ansible-core" in names and "pyghmi" in names and "netaddr" in names
    assert not names & {"ansible", "ansible-lint", "molecule", "pytest", "scapy", "sushy-tools", "tftpy"}, names
    assert installed.run("python", "-c", "import ansible.release as r; print(r.__version__)").stdout.strip() == CORE
    installed.run("python", "-m", "pip", "check")


def test_ansible_doc_for_every_plugin_and_role(installed):
    listed = collection_names(installed.root)
    assert len(listed["module"]) >= 10 and listed["inventory"] == ["netbox", "sot"] and len(listed["role"]) >= 4, listed
    for kind, names in listed.items():
        fqcns = ["netboot.fleet.%s" % name for name in names]
        result = installed.run("ansible-doc", "--json", "-t", kind, *fqcns)
        docs = json.loads(result.stdout)
        assert sorted(docs) == sorted(fqcns), (kind, sorted(docs))
        for fqcn, doc in docs.items():
            if kind == "role":
                assert doc["entry_points"]["main"]["short_description"], fqcn
            else:
                assert doc["doc"]["short_description"] and doc["doc"]["description"], fqcn
        assert result.stderr == "", result.stderr
        # and the plain-text page a user reads, for one of each kind
        page = installed.run("ansible-doc", "-t", kind, fqcns[0]).stdout
        assert fqcns[0].lower() in page.lower()  # ansible-core < 2.19 prints the name in capitals
    modules = installed.run("ansible-doc", "--list", "-t", "module", "netboot.fleet").stdout
    assert sorted(line.split()[0] for line in modules.splitlines() if line.strip()) == \
        ["netboot.fleet.%s" % name for name in listed["module"]]


def test_inventory_plugin_on_the_embedded_sot(installed):
    result = installed.run("ansible-inventory", "-i", os.path.join(installed.root, "inventory"), "--list")
    inventory = json.loads(result.stdout)
    machines = [host for group in inventory["machines"]["children"] for host in inventory[group]["hosts"]]
    assert len(machines) == 4, machines
    assert sorted(inventory["dhcp_nodes"]["hosts"]) == ["dhcp-a1", "dhcp-a2"]
    # the SoT read is the installed one (--list may show the string wrapped as {"__ansible_unsafe": ...})
    source = json.dumps(inventory["_meta"]["hostvars"]["dhcp-a1"]["netboot_sot_source"])
    assert installed.root + "/inventory/sot" in source, source
    assert result.stderr == "", result.stderr


def test_bringup_validate_from_the_installed_playbook(installed):
    result = installed.run("ansible-playbook", "-i", os.path.join(installed.root, "inventory"), "netboot.fleet.bringup",
                           "--tags", "validate")
    assert "4 machines, DHCP nodes dhcp-a1, dhcp-a2" in result.stdout, result.stdout
    assert "failed=0" in result.stdout and "[WARNING]" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_ipmi_power_against_a_real_bmc(installed, tmp_path):
    """netboot.fleet.ipmi_power from the installed collection against OpenIPMI's ipmi_sim on 127.0.0.1."""
    if shutil.which("ipmi_sim") is None:
        pytest.fail("ipmi_sim is not installed (Debian package openipmi, in scripts/apt-packages.txt)")
    sim = bmc_lab.IpmiSim(str(tmp_path / "ipmi")).start()
    try:
        inventory = tmp_path / "inventory.yml"
        host = {"ansible_host": "198.51.100.10",
                "netboot": {"name": "m1", "mac": "52:54:00:00:00:01", "ipv4": "198.51.100.10", "network": "rack12",
                            "profile": "debian-12", "firmware": "uefi", "rack": "r12", "labels": {},
                            "bmc": bmc_lab.ipmi_record(sim)}}
        inventory.write_text(yaml.safe_dump({"all": {"hosts": {"m1": host}, "vars": {
            "netboot_bmc_username": bmc_lab.USERNAME, "netboot_bmc_password": bmc_lab.PASSWORD}}}))
        assert sim.power == "off"
        on = installed.run("ansible", "-i", str(inventory), "m1", "-m", "netboot.fleet.ipmi_power", "-a", "state=on",
                           ANSIBLE_CALLBACK_RESULT_FORMAT="json")
        assert "m1 | CHANGED" in on.stdout, on.stdout
        assert sim.power == "on" and sim.actions() == ["set power 1"]
        status = installed.run("ansible", "-i", str(inventory), "m1", "-m", "netboot.fleet.ipmi_power", "-a",
                               "state=status", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
        assert "m1 | SUCCESS" in status.stdout and '"power_state": "on"' in status.stdout, status.stdout
        assert bmc_lab.PASSWORD not in on.stdout + on.stderr + status.stdout + status.stderr
    finally:
        sim.stop()


@pytest.mark.parametrize("command", [["ansible", "--version"], ["ansible-galaxy", "collection", "list"],
                                     ["ansible-doc", "-t", "inventory", "netboot.fleet.sot"]])
def test_a_plain_run_prints_no_warning(installed, command):
    result = installed.run(*command)
    assert result.stderr == "", result.stderr
    assert "Warning" not in result.stdout and "[WARNING]" not in result.stdout, result.stdout


@pytest.mark.parametrize("command", [["ansible", "--version"], ["ansible-playbook", "--version"],
                                     ["ansible-inventory", "-i", "inventory/", "--graph"]])
def test_a_plain_run_from_the_development_venv_prints_no_warning(command):
    """The checkout's own venv (the one `make test` runs): no CryptographyDeprecationWarning or any other."""
    tool = os.path.join(os.path.dirname(sys.executable), command[0])
    result = subprocess.run([tool, *command[1:]], cwd=REPO, capture_output=True, text=True, check=False, timeout=120,
                            env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == "", result.stderr
