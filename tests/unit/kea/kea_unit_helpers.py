"""Helpers for the Kea unit tests: SoT records as plain data, paths. (A uniquely named module:
test files must not import from conftest, which other test folders have too.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
if os.path.join(REPO, "collections") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, "collections"))

EMBEDDED_SOT = os.path.join(REPO, "inventory", "sot")
GOLDEN = os.path.join(HERE, "golden")


def base_sot():
    """A small valid SoT as plain data; tests add networks and machines to it."""
    return {
        "fabric": {"anycast": {"ipv4": "203.0.113.53", "ipv6": "2001:db8:53::53"}, "asn": 65053},
        "profiles": {"debian12": {"installer": "preseed", "kernel": "d/linux", "initrd": "d/initrd.gz"}},
        "networks": [],
        "machines": [],
    }


def machine(name, mac, network, ipv4=None, ipv6=None, firmware="bios", port=1, duid=None):
    record = {"name": name, "mac": mac, "network": network, "profile": "debian12", "firmware": firmware,
              "bmc": {"address": "127.0.0.1", "port": port, "protocol": "ipmi"}}
    for key, value in (("ipv4", ipv4), ("ipv6", ipv6), ("duid", duid)):
        if value:
            record[key] = value
    return record


def kea_config_test(family, config, tmp_path):
    """`kea-<family> -t` on config (a dict); skips when that daemon is not installed. Returns the process."""
    daemon = shutil.which("kea-%s" % family)
    if daemon is None:
        pytest.skip("kea-%s is not installed" % family)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.run([daemon, "-t", str(path)], capture_output=True, text=True, check=False,
                          env=dict(os.environ, KEA_LOCKFILE_DIR=str(tmp_path), KEA_PIDFILE_DIR=str(tmp_path)))
