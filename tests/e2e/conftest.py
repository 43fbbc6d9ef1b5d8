"""Fixtures of the end-to-end test: a two-machine lab (prefix nbe) built by lab/netboot_lab.py.

The lab gets its own namespaces (nbe-tor, nbe-dhcp-a1, nbe-dhcp-a2), containers, BMC ports
(16251, 16252) and state dir, so it runs beside the embedded lab (prefix nbl); it is torn down
by `netboot_lab.py down`, which stops only what `up` recorded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
INVENTORY = os.path.join(HERE, "inventory")
PREFIX = "nbe"
LAB = os.path.join(REPO, "lab", "netboot_lab.py")


def _missing():
    tools = ["podman", "ipmi_sim", "qemu-system-x86_64", "dhcrelay", "vtysh"]
    absent = [tool for tool in tools if shutil.which(tool) is None]
    absent += [path for path in ("/usr/lib/frr/bgpd", "/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd", "/usr/lib/ipxe/snponly.efi")
               if not os.path.exists(path)]
    return absent


def lab_command(action, *extra):
    argv = [sys.executable, LAB, action, "--prefix", PREFIX] + list(extra)
    return subprocess.run(argv, check=False, text=True, capture_output=True, cwd=REPO)


# One lab for the whole session: every test module uses the same nodes and machines.
@pytest.fixture(scope="session")
def e2e_lab():
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (namespaces, bridges, taps, containers)")
    absent = _missing()
    if absent:
        pytest.skip("not installed on this machine: %s" % ", ".join(absent))
    lab_command("down")  # leftovers of an interrupted run, recorded in the state dir
    up = lab_command("up", "--sot", os.path.join(INVENTORY, "sot"))
    print(up.stdout)
    assert up.returncode == 0, "lab up failed:\n%s\n%s" % (up.stdout, up.stderr)
    yield os.path.join(os.environ.get("NBF_WORK", "/var/tmp/netboot-fleet"), "lab-" + PREFIX)
    down = lab_command("down")
    assert down.returncode == 0, down.stderr
