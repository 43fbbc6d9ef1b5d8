"""netboot.fleet.bmc_console against a real BMC emulator: ipmi_sim's Serial-over-LAN connected to a qemu
machine's serial console, powered on through the lab's chassis control (lab/chassis_control.py).

The machine is a UEFI VM (OVMF) whose disk holds iPXE as its boot loader: the recorded console must hold
the firmware's own lines and iPXE's, and no credential may appear anywhere (-vvvv, process arguments).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

import bmc_lab
from bmc_lab import REPO

CHASSIS_CONTROL = os.path.join(REPO, "lab", "chassis_control.py")
OVMF_CODE, OVMF_VARS = "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"
IPXE_EFI = "/usr/lib/ipxe/ipxe.efi"
FIRMWARE_LINE = "BdsDxe: starting Boot0001"
IPXE_LINE = "iPXE initialising devices"

PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Record the console
      netboot.fleet.bmc_console:
        state: recording
        dest: "{{ consoles }}"
      register: recording

    - name: The recorder's command line (must hold no credential)
      ansible.builtin.slurp:
        src: "/proc/{{ recording.pid }}/cmdline"
      delegate_to: localhost

    - name: Record again (already recording)
      netboot.fleet.bmc_console:
        state: recording
        dest: "{{ consoles }}"
      register: again

    - name: Power on
      netboot.fleet.ipmi_power:
        state: "on"

    - name: Wait for iPXE on the console
      ansible.builtin.wait_for:
        path: "{{ consoles }}/{{ inventory_hostname }}.log"
        search_regex: "%(ipxe)s"
        timeout: 120
      delegate_to: localhost

    - name: Stop recording
      netboot.fleet.bmc_console:
        state: stopped
        dest: "{{ consoles }}"
        lines: 200
      register: stopped

    - name: Power off
      netboot.fleet.ipmi_power:
        state: "off"

    - name: Keep the results for the test
      ansible.builtin.copy:
        content: "{{ {'recording': recording, 'again': again, 'stopped': stopped} | to_json }}"
        dest: "{{ consoles }}/results.json"
        mode: "0600"
      delegate_to: localhost
""" % {"ipxe": IPXE_LINE}


def _missing():
    for tool in ("ipmi_sim", "qemu-system-x86_64"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    for path in (OVMF_CODE, OVMF_VARS, IPXE_EFI):
        if not os.path.exists(path):
            return "%s is missing (Debian packages ovmf, ipxe)" % path
    return None


@pytest.fixture(name="uefi_machine")
def uefi_machine_fixture(tmp_path):
    """An ipmi_sim BMC whose chassis control is the lab's, powering a UEFI qemu VM with iPXE on its disk."""
    missing = _missing()
    if missing:
        pytest.skip(missing)
    machine = tmp_path / "machine"
    esp = machine / "esp" / "EFI" / "BOOT"
    esp.mkdir(parents=True)
    shutil.copyfile(IPXE_EFI, esp / "BOOTX64.EFI")
    shutil.copyfile(OVMF_VARS, machine / "OVMF_VARS.fd")
    console_port = bmc_lab.free_port(bmc_lab.socket.SOCK_STREAM)
    argv = ["qemu-system-x86_64", "-name", "console-test", "-accel", "tcg", "-smp", "1", "-m", "256",
            "-display", "none", "-monitor", "none", "-nodefaults", "-no-user-config",
            # wait=on: the VM starts once the BMC's Serial-over-LAN is connected, so that no line is printed
            # before the recording can see it (how soon ipmi_sim connects depends on the machine's load).
            "-chardev", "socket,id=console,host=127.0.0.1,port=%d,server=on,wait=on,logfile=%s"
            % (console_port, machine / "serial.log"), "-serial", "chardev:console",
            "-drive", "if=pflash,format=raw,readonly=on,file=" + OVMF_CODE,
            "-drive", "if=pflash,format=raw,file=%s" % (machine / "OVMF_VARS.fd"),
            "-drive", "file=fat:rw:%s,format=raw,if=virtio" % (machine / "esp"), "-net", "none"]
    (machine / "vm.json").write_text(json.dumps({"argv": argv}))
    sim = bmc_lab.IpmiSim(str(tmp_path / "bmc"), chassis_control="%s %s %s" % (sys.executable, CHASSIS_CONTROL, machine),
                          sol_port=console_port).start()
    try:
        yield sim
    finally:
        sim.stop()
        subprocess.run([sys.executable, CHASSIS_CONTROL, str(machine), "set", "power", "0"], check=False, timeout=30)


def test_console_holds_firmware_and_ipxe_lines_and_no_secret(uefi_machine, inventory, ansible_playbook, tmp_path):
    hosts = inventory({"m1": bmc_lab.ipmi_record(uefi_machine)})
    playbook = tmp_path / "console.yml"
    playbook.write_text(PLAYBOOK)
    consoles = tmp_path / "consoles"
    run = ansible_playbook(hosts, str(playbook), "-e", "consoles=%s" % consoles, "-vvvv")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert bmc_lab.PASSWORD not in run.stdout + run.stderr
    log = consoles / "m1.log"
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    text = log.read_bytes().decode(errors="replace")
    assert FIRMWARE_LINE in text and IPXE_LINE in text
    results = json.loads((consoles / "results.json").read_text())
    assert results["recording"]["changed"] is True and results["again"]["changed"] is False
    stopped = results["stopped"]
    assert stopped["changed"] is True and stopped["line_count"] >= 3
    assert any(FIRMWARE_LINE in line for line in stopped["lines"]) and any(IPXE_LINE in line for line in stopped["lines"])
    assert not any("\x1b" in line for line in stopped["lines"])
    # The lab's serial.log (qemu's chardev log) holds the same console: SOL lost nothing of the iPXE banner.
    assert IPXE_LINE in (tmp_path / "machine" / "serial.log").read_text(errors="replace")
