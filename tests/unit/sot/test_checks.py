"""The single-value rules of sot/checks.py against their references."""

from __future__ import annotations

import ipaddress
import random

import pytest

from ansible_collections.netboot.fleet.plugins.module_utils.sot.checks import NEVER_HOSTS, never_host, shown

PROPERTIES = {"loopback": "is_loopback", "link-local": "is_link_local", "multicast": "is_multicast",
              "unspecified": "is_unspecified", "reserved": "is_reserved"}


def special(address):
    """The kind the ipaddress module gives an address, or None; 0.0.0.0/8 ('this network', RFC 1122) has no
    property of its own (is_unspecified is 0.0.0.0 only)."""
    if address.version == 4 and address in ipaddress.ip_network("0.0.0.0/8"):
        return "'this network'"
    for kind, name in PROPERTIES.items():
        if getattr(address, name) and not (kind == "reserved" and address.version == 6):
            return kind
    return None


def test_every_block_is_the_ipaddress_modules():
    for version, first, last, kind, _what in NEVER_HOSTS:
        for value in (first, last, (first + last) // 2):
            assert special(ipaddress.ip_address(value) if version == 4 else ipaddress.IPv6Address(value)) == kind


@pytest.mark.parametrize("version", (4, 6))
def test_never_host_agrees_with_the_ipaddress_module(version):
    rng = random.Random(version)
    bits = 32 if version == 4 else 128
    # Random addresses, and addresses at every block's edges (the rule must not be off by one).
    values = [rng.getrandbits(bits) for _ in range(20000)]
    values += [value + delta for block in NEVER_HOSTS if block[0] == version for value in block[1:3]
               for delta in (-1, 0, 1) if 0 <= value + delta < 1 << bits]
    for value in values:
        address = ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)
        what = never_host(version, value, value)
        kind = special(address)
        # IPv6 ranges ipaddress also calls reserved (::/8 but :: and ::1, ...) are not special-purpose here.
        if version == 6 and kind == "reserved":
            kind = None
        assert (what.split(" block")[0] if what else None) == kind, address


def test_shown_is_bounded_and_does_not_expand_shared_structures():
    bomb = ["lol"] * 9
    for _level in range(9):
        bomb = [bomb] * 9  # 9**10 strings if expanded
    assert len(shown(bomb)) < 200
    text = shown("x" * 10 ** 6)
    assert len(text) < 120 and text.endswith("(1000000 characters)")
    assert shown("\u212a1") == "'\\u212a1'"
