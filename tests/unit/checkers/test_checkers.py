"""Each real checker of tests/checkers.py accepts the golden output and rejects a broken one."""

from __future__ import annotations

import json
import os
import re

import checkers

UNIT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def golden_part(case: str, name: str) -> str:
    """One file of a PXE golden case (parts start with '==> <kind>:<path> <==')."""
    with open(os.path.join(UNIT, "pxe", "golden", case + ".txt"), encoding="utf-8") as handle:
        parts = re.split(r"^==> (\S+) <==\n", handle.read(), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))[name]


def golden(package: str, name: str) -> str:
    with open(os.path.join(UNIT, package, "golden", name), encoding="utf-8") as handle:
        return handle.read()


def assert_accepts_then_rejects(check, good, bad, expected):
    ok, message = check(good)
    assert ok, message
    ok, message = check(bad)
    assert not ok and re.search(expected, message), message


def test_kea_dhcp4():
    config = json.loads(golden("kea", "dhcp4.json"))
    broken = json.loads(golden("kea", "dhcp4.json"))
    broken["Dhcp4"]["subnet4"][0]["subnet"] = "198.51.100.0/33"
    assert_accepts_then_rejects(lambda c: checkers.kea("dhcp4", c), config, broken, "Invalid prefix length")


def test_kea_dhcp6():
    config = json.loads(golden("kea", "dhcp6.json"))
    broken = json.loads(golden("kea", "dhcp6.json"))
    broken["Dhcp6"]["subnet6"][0]["pools"] = [{"pool": "192.0.2.1-192.0.2.9"}]
    assert_accepts_then_rejects(lambda c: checkers.kea("dhcp6", c), config, broken, "192.0.2")


def test_bird():
    config = golden("bgp", "bird-dhcp-a1.conf")
    broken = re.sub(r'description "[^"]*"', 'description "tor1"; password "x', config, count=1)
    assert_accepts_then_rejects(checkers.bird, config, broken, "Unterminated string")


def test_grub_script_check():
    script = golden_part("img-server2", "tftp:grub/grub.cfg-01-52-54-00-12-00-02")
    assert_accepts_then_rejects(checkers.grub_script, script, script + "menuentry 'x' {\n", ".")


def test_ksvalidator():
    text = golden_part("img-server2", "http:installer/img-server2/ks.cfg")
    broken = text.replace("autopart", "autopart --nosuchoption")
    assert_accepts_then_rejects(checkers.kickstart, text, broken, "nosuchoption")


def test_debconf_checkonly():
    text = golden_part("img-server1", "http:installer/img-server1/preseed.cfg")
    broken = text + "late_command\n"
    assert_accepts_then_rejects(checkers.preseed, text, broken, "late_command")


def test_cloud_config_schema():
    text = golden_part("web1", "http:installer/web1/user-data")
    broken = text.replace("disable_root: true", "disable_root: [1]")
    assert_accepts_then_rejects(checkers.cloud_config, text, broken, "disable_root")
    ok, message = checkers.cloud_config("#cloud-config\nautoinstall: {version: 1\n")
    assert not ok and "YAML" in message, message


def test_answer_files_with_callbacks_keys_and_local_boot_pass_their_checkers():
    """What the bring-up renders (each machine's callback token, the inventory's SSH keys, installed machines'
    local-boot configs) still passes each installer's and loader's own checker."""
    import sys
    sys.path.insert(0, os.path.join(UNIT, "pxe"))
    from pxe_testlib import ALL_KINDS_SOT  # pylint: disable=import-outside-toplevel
    from ansible_collections.netboot.fleet.plugins.module_utils.pxe import render as pxe  # pylint: disable=import-outside-toplevel
    from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot  # pylint: disable=import-outside-toplevel
    keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq7cT6rX6Xx0f4dQmS0mTS1dTJ8yq1n3wJd0oWbq3xY ops@example.net"]
    fleet = sot.load(ALL_KINDS_SOT)
    templates = pxe.Templates(pxe.read_templates())
    for local_boot in (set(), {machine.name for machine in fleet.machines}):
        tree = pxe.Renderer(fleet, templates, callback_key="5a" * 32, ssh_keys=keys, local_boot=local_boot).render_all()
        for (_root, path), data in sorted(tree.items()):
            text = data.decode("utf-8")
            check = {"ks.cfg": checkers.kickstart, "preseed.cfg": checkers.preseed, "user-data": checkers.cloud_config}.get(
                path.rpartition("/")[2]) or (checkers.grub_script if path.startswith("grub/") else None)
            if check is None:
                continue
            ok, message = check(text)
            assert ok, (path, message)
            if not path.startswith("grub/"):
                assert "/callback/" in text and keys[0] in text, path
