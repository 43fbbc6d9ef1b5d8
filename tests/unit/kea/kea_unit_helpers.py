"""Helpers for the Kea unit tests: SoT records as plain data, paths. (A uniquely named module:
test files must not import from conftest, which other test folders have too.)"""

from __future__ import annotations

import os
import sys

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
