"""Fixtures of the end-to-end test: a two-machine lab (prefix nbe) built by lab/netboot_lab.py.

The lab gets its own namespaces (nbe-tor, nbe-dhcp-a1, nbe-dhcp-a2), containers, BMC ports
(16251, 16252) and state dir, so it runs beside the embedded lab (prefix nbl); it is torn down
by `netboot_lab.py down`, which stops only what `up` recorded.

NBF_E2E_PREFIX and NBF_E2E_BMC_PORT (the first of two ports) move the whole lab, so that two e2e runs
can share the host: the test then uses a copy of tests/e2e/inventory with those names and ports.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
WORK = os.environ.get("NBF_WORK", "/var/tmp/netboot-fleet")
DEFAULT_PREFIX, DEFAULT_BMC_PORT = "nbe", 16251
PREFIX = os.environ.get("NBF_E2E_PREFIX", DEFAULT_PREFIX)
BMC_PORT = int(os.environ.get("NBF_E2E_BMC_PORT", DEFAULT_BMC_PORT))
LAB = os.path.join(REPO, "lab", "netboot_lab.py")
LAB_DIR = os.path.join(WORK, "lab-" + PREFIX)


def _inventory():
    """tests/e2e/inventory, or a copy of it with this run's prefix and BMC ports."""
    source = os.path.join(HERE, "inventory")
    if (PREFIX, BMC_PORT) == (DEFAULT_PREFIX, DEFAULT_BMC_PORT):
        return source
    copy = os.path.join(WORK, "e2e-inventory-" + PREFIX)
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(source, copy)
    for node in ("dhcp-a1", "dhcp-a2"):
        path = os.path.join(copy, "host_vars", node + ".yml")
        with open(path) as handle:
            text = handle.read().replace("%s-%s" % (DEFAULT_PREFIX, node), "%s-%s" % (PREFIX, node))
        with open(path, "w") as handle:
            handle.write(text)
    path = os.path.join(copy, "sot", "machines.yml")
    with open(path) as handle:
        text = re.sub(r"port: (\d+)", lambda match: "port: %d" % (int(match.group(1)) - DEFAULT_BMC_PORT + BMC_PORT),
                      handle.read())
    with open(path, "w") as handle:
        handle.write(text)
    return copy


INVENTORY = _inventory()


def _missing():
    tools = ["podman", "ipmi_sim", "qemu-system-x86_64", "dhcrelay", "vtysh", "curl"]
    absent = [tool for tool in tools if shutil.which(tool) is None]
    absent += [path for path in ("/usr/lib/frr/bgpd", "/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd", "/usr/lib/ipxe/snponly.efi")
               if not os.path.exists(path)]
    sys.path.insert(0, os.path.join(REPO, "lab"))
    import minimal_installer  # pylint: disable=import-outside-toplevel
    return absent + minimal_installer.missing()


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
    # Leftovers of an interrupted run, recorded in the state dir; blank disks and no machine states:
    # every machine starts uninstalled.
    lab_command("down", "--wipe-disks")
    up = lab_command("up", "--sot", os.path.join(INVENTORY, "sot"))
    print(up.stdout)
    assert up.returncode == 0, "lab up failed:\n%s\n%s" % (up.stdout, up.stderr)
    yield LAB_DIR
    down = lab_command("down")
    assert down.returncode == 0, down.stderr
