"""ipmi_power / ipmi_boot / bmc_info through Ansible against OpenIPMI's ipmi_sim BMCs."""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
import threading
import time

import bmc_lab
from bmc_lab import REPO, ipmi_record

from ansible_collections.netboot.fleet.plugins.module_utils.bmc.client import BmcClient, BmcError, BmcTarget

# (state, changed, power afterwards, what ipmi_sim's chassis was told) from a machine that is off
POWER_STEPS = [
    ("status", False, "off", []), ("status", False, "off", []),
    ("on", True, "on", ["set power 1"]), ("on", False, "on", []),
    ("reset", True, "on", ["set reset 1"]), ("reset", True, "on", ["set reset 1"]),
    ("cycle", True, "on", ["set power 0", "set power 1"]),  # ipmi_sim powers on again after ~1 s
    ("cycle", True, "on", ["set power 0", "set power 1"]),
    ("boot", True, "on", ["set reset 1"]), ("boot", True, "on", ["set reset 1"]),
    ("shutdown", True, "off", ["set shutdown 1"]), ("shutdown", False, "off", []),
    ("boot", True, "on", ["set power 1"]),
    ("off", True, "off", ["set power 0"]), ("off", False, "off", []),
]


def test_every_power_state_twice(ipmi_sims, inventory, ansible):
    sim = ipmi_sims()
    hosts = inventory({"m1": ipmi_record(sim)})
    for state, changed, power, actions in POWER_STEPS:
        sent_before = len(sim.actions())
        run = ansible(hosts, "netboot.fleet.ipmi_power", "state=%s" % state)
        result = run["m1"]
        assert run.rc == 0, run.stdout + run.stderr
        assert (result["changed"], result["power_state"]) == (changed, power), (state, result)
        assert sim.power == power, state
        # what the BMC was asked to do, counted by the chassis_control program itself
        assert sim.actions()[sent_before:] == actions, state
        assert result["elapsed"] < 10


def test_check_mode_reads_but_sends_nothing(ipmi_sims, inventory, ansible):
    sim = ipmi_sims()
    run = ansible(inventory({"m1": ipmi_record(sim)}), "netboot.fleet.ipmi_power", "state=on", "all", "--check")
    assert (run["m1"]["changed"], run["m1"]["action"], run["m1"]["power_state"]) == (True, "on", "off")
    assert sim.power == "off" and sim.actions() == []


def test_boot_device_is_set_and_read_back(ipmi_sims, inventory, ansible):
    """ipmi_sim never marks boot flags valid: every request is sent, reported changed, and warned about."""
    sim = ipmi_sims()
    hosts = inventory({"m1": ipmi_record(sim)})
    for device, stored in (("network", "pxe"), ("cdrom", "cdrom"), ("bios", "bios"), ("pxe", "pxe"),
                           ("disk", "default"), ("default", "none")):
        run = ansible(hosts, "netboot.fleet.ipmi_boot", "device=%s persistent=true" % device)
        assert run["m1"]["changed"] is True, run.stdout
        assert "does not mark its boot flags valid" in run.stderr
        assert sim.boot == stored, device  # what the BMC handed to its chassis
    info = ansible(hosts, "netboot.fleet.bmc_info", "gather=boot")["m1"]
    assert info["boot"]["valid"] is False


def test_bmc_info_reports_what_the_bmc_offers(ipmi_sims, inventory, ansible):
    sim = ipmi_sims()
    sim.power = "on"
    result = ansible(inventory({"m1": ipmi_record(sim)}), "netboot.fleet.bmc_info")["m1"]
    assert result["status"] == "SUCCESS" and result["changed"] is False
    assert result["power_state"] == "on"
    assert result["device"]["manufacturer_id"] == 0x1291 and result["device"]["firmware_version"] == "9.08"
    assert result["firmware"]["BMC Version"]["version"] == "9.8"
    # ipmi_sim has no FRU data and no sensors: listed, not fatal
    assert "completion code 0xCC" in result["unsupported"]["inventory"]
    assert "completion code 0xCB" in result["unsupported"]["health"]


def test_wrong_password_is_explained(ipmi_sims, inventory, ansible):
    sim = ipmi_sims()
    hosts = inventory({"m1": ipmi_record(sim)}, credentials=False, netboot_bmc_username="admin",
                      netboot_bmc_password="not-the-one")
    result = ansible(hosts, "netboot.fleet.ipmi_power", "state=on")["m1"]
    assert result["status"] == "FAILED!" and result["bmc_error"] == "auth"
    assert "login on BMC IPMI 127.0.0.1:%d: login refused for user 'admin': Incorrect password" % sim.port \
        in result["msg"]
    assert "not-the-one" not in str(result)
    assert sim.actions() == []


def test_closed_port_fails_within_the_timeout():
    closed = bmc_lab.free_port()
    for retries, attempts in ((0, 1), (1, 2)):
        target = BmcTarget("127.0.0.1", port=closed, username="admin", password="x", timeout=2, retries=retries)
        started = time.monotonic()
        try:
            BmcClient(target).power_state()
            raise AssertionError("a closed port answered")
        except BmcError as error:
            elapsed = time.monotonic() - started
            assert error.kind == "unreachable"
            waited = re.search(r"no answer after (\d+\.\d) s \(UDP\)", error.message)
            assert waited and 2.0 <= float(waited.group(1)) <= 2.5, error.message  # the time it waited, measured
            assert elapsed <= 2 * attempts + 0.5, elapsed
            assert ("(2 attempts)" in error.message) == (attempts == 2)


def test_closed_port_through_ansible(inventory, ansible):
    hosts = inventory({"m1": {"address": "127.0.0.1", "protocol": "ipmi", "port": bmc_lab.free_port()}})
    started = time.monotonic()
    result = ansible(hosts, "netboot.fleet.ipmi_power", "state=status timeout=1.5 retries=0")["m1"]
    assert time.monotonic() - started < 15
    assert result["bmc_error"] == "unreachable" and "no answer after 1.5 s (UDP)" in result["msg"]


def test_unresolvable_name(inventory, ansible):
    hosts = inventory({"m1": {"address": "bmc-m1.invalid", "protocol": "ipmi", "port": None}})
    result = ansible(hosts, "netboot.fleet.ipmi_power", "state=status")["m1"]
    assert result["bmc_error"] == "resolve"
    assert "cannot resolve BMC name 'bmc-m1.invalid'" in result["msg"] and "IPMI bmc-m1.invalid:623" in result["msg"]


def test_unsupported_command(ipmi_sims, inventory, ansible):
    """An ipmi_sim without chassis control refuses power and boot requests (completion code 0xCC)."""
    sim = ipmi_sims(chassis_control=False)
    hosts = inventory({"m1": ipmi_record(sim)})
    power = ansible(hosts, "netboot.fleet.ipmi_power", "state=on")["m1"]
    assert power["bmc_error"] == "unsupported", power
    assert "power on on BMC IPMI 127.0.0.1:%d: not supported by this BMC: Invalid data field in request " \
           "(completion code 0xCC)" % sim.port == power["msg"]
    boot = ansible(hosts, "netboot.fleet.ipmi_boot", "device=network")["m1"]
    assert boot["bmc_error"] == "unsupported" and "0xCC" in boot["msg"]


def test_adhoc_status_of_several_bmcs_shows_no_secret(ipmi_sims, inventory, ansible):
    sims = [ipmi_sims() for dummy in range(3)]
    sims[1].power = "on"
    machines = dict(("m%d" % i, ipmi_record(sim)) for i, sim in enumerate(sims))
    machines["m9"] = {"address": "127.0.0.1", "protocol": "ipmi", "port": bmc_lab.free_port()}  # dead BMC
    hosts = inventory(machines)

    seen_in_args = []
    done = threading.Event()

    def watch_process_args():
        """The password must never be in any process's command line while Ansible runs."""
        while not done.is_set():
            for pid in os.listdir("/proc"):
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as cmdline:
                        if bmc_lab.PASSWORD.encode() in cmdline.read():
                            seen_in_args.append(pid)
                except OSError:
                    continue
            time.sleep(0.05)

    watcher = threading.Thread(target=watch_process_args)
    watcher.start()
    try:
        run = ansible(hosts, "netboot.fleet.ipmi_power", "state=status timeout=2", "all", "-vvvv")
    finally:
        done.set()
        watcher.join()
    assert {host: result["power_state"] for host, result in run.results.items() if host != "m9"} == \
        {"m0": "off", "m1": "on", "m2": "off"}
    assert run["m9"]["bmc_error"] == "unreachable"
    assert run.rc != 0
    assert bmc_lab.PASSWORD not in run.stdout + run.stderr
    assert "BmcTarget(IPMI 127.0.0.1:%d, user='admin')" % sims[0].port in run.stdout + run.stderr  # -vvv trace
    assert seen_in_args == []


def test_password_from_a_vault(ipmi_sims, ansible, tmp_path):
    sim = ipmi_sims()
    vault_key = tmp_path / "vault-key"
    vault_key.write_text("test vault key\n")
    encrypted = subprocess.run(
        [bmc_lab.venv_tool("ansible-vault"), "encrypt_string", "--vault-password-file", str(vault_key),
         "--stdin-name", "netboot_bmc_password"],
        input=bmc_lab.PASSWORD, capture_output=True, text=True, check=True).stdout
    inventory = tmp_path / "vaulted.yml"
    inventory.write_text(
        "all:\n  hosts:\n    m1:\n      netboot: {bmc: {address: 127.0.0.1, protocol: ipmi, port: %d}}\n"
        "  vars:\n    netboot_bmc_username: admin\n%s" % (sim.port, textwrap.indent(encrypted, "    ")))
    run = ansible(str(inventory), "netboot.fleet.ipmi_power", "state=on", "all",
                  "--vault-password-file", str(vault_key), "-vvvv")
    assert run["m1"]["power_state"] == "on" and sim.power == "on", run.stdout + run.stderr
    assert bmc_lab.PASSWORD not in run.stdout + run.stderr


MODULE_DEFAULTS_PLAY = """
- name: Credentials from module_defaults (action group), BMC from the SoT hostvars
  hosts: all
  gather_facts: false
  module_defaults:
    group/netboot.fleet.bmc:
      username: admin
      password: "{{ bmc_password }}"
  tasks:
    - name: Power on
      netboot.fleet.ipmi_power:
        state: on
    - name: Next boot from the network
      netboot.fleet.ipmi_boot:
        device: network
    - name: Read
      netboot.fleet.bmc_info:
        gather: [power]
      register: info
    - name: Check
      ansible.builtin.assert:
        that: info.power_state == 'on'
"""


def test_credentials_from_module_defaults(ipmi_sims, inventory, ansible_playbook, tmp_path):
    sim = ipmi_sims()
    hosts = inventory({"m1": ipmi_record(sim)}, credentials=False, bmc_password=bmc_lab.PASSWORD)
    playbook = tmp_path / "defaults.yml"
    playbook.write_text(MODULE_DEFAULTS_PLAY)
    run = ansible_playbook(hosts, str(playbook), "-vvvv")
    assert run.returncode == 0, run.stdout + run.stderr
    assert sim.power == "on" and sim.boot == "pxe"
    assert bmc_lab.PASSWORD not in run.stdout + run.stderr


def test_power_playbook_summarises_every_machine(ipmi_sims, inventory, ansible_playbook):
    sims = [ipmi_sims() for dummy in range(3)]
    machines = dict(("m%d" % i, ipmi_record(sim)) for i, sim in enumerate(sims))
    machines["m9"] = {"address": "127.0.0.1", "protocol": "ipmi", "port": bmc_lab.free_port()}
    run = ansible_playbook(inventory(machines), os.path.join(REPO, "playbooks", "power.yml"),
                           "-e", "power_target=rack12 power_state=on power_boot_device=network power_batch_size=2",
                           "-e", "power_bmc_timeout=2")
    output = run.stdout + run.stderr
    assert run.returncode != 0, output  # one machine failed, and the play says so at the end
    assert all(sim.power == "on" and sim.boot == "pxe" for sim in sims)  # the rest went on
    for name in ("m0", "m1", "m2"):
        assert "%s: ok, off -> on" % name in output, output
    assert "m9: FAILED (unreachable)" in output, output
    assert "1 of 4 machines failed" in output
