# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fast path of the machine validator: the same checks as records.build_machine for the common case.

It may decline a valid record (records.build_machine then builds it), never accept one build_machine rejects:
tests/unit/sot/test_fast_path.py compares the two on mutated records.
"""

# pylint: disable=unidiomatic-typecheck
from __future__ import annotations

import socket

from ansible_collections.netboot.fleet.plugins.module_utils.sot.checks import (
    BMC_SPECIAL_ALLOWED, DOTTED_RE, DUID_RE, FAST_MAC_RE, FIELD_SETS, FREE_TEXT_MAX, GROUP_NAME_RE, HOSTNAME_RE, LABEL_KEY_RE, LINE_BREAK_RE, NEVER_HOSTS,
    ZERO_MAC, reserved_hosts)
from ansible_collections.netboot.fleet.plugins.module_utils.sot.model import BMC_PROTOCOLS, FIRMWARES, RESERVED_GROUPS, Bmc, Machine


def fast_machine_builder(networks, profile_names):
    """fast(raw, source) -> the Machine build_machine would build, or None: it leaves the record to build_machine.

    The same checks as build_machine for the common case, at a fraction of the cost (local names, bytes
    comparisons instead of Address/Span objects, no Checker): 100,000 machines in about a second. It may
    decline a valid record (then build_machine builds it), never accept one build_machine rejects
    (tests/unit/sot/test_fast_path.py compares the two on mutated records). networks: name -> ParsedNetwork.
    """
    # name -> (IPv4 span, IPv6 span), a span being packed (first, last, {addresses no machine takes}, pool or None).
    spans = {name: (_packed_span(parsed.span4, socket.AF_INET), _packed_span(parsed.span6, socket.AF_INET6))
             for name, parsed in networks.items()}
    machine_fields, bmc_fields = FIELD_SETS["machine"].issuperset, FIELD_SETS["bmc"].issuperset
    hostname, canonical_mac = HOSTNAME_RE.match, FAST_MAC_RE.match
    group_name, duid_form, label_key, dotted = GROUP_NAME_RE.match, DUID_RE.match, LABEL_KEY_RE.match, DOTTED_RE.match
    racks = set()  # rack names already checked: a rack is named by its 40 or so machines
    inet_pton, inet_ntop, af_inet, af_inet6 = socket.inet_pton, socket.inet_ntop, socket.AF_INET, socket.AF_INET6
    label_types = (str, int, float, bool)
    line_break = LINE_BREAK_RE.search
    # A BMC address whose first byte a special-purpose block (loopback, ...) starts with is left to build_machine.
    special_first_bytes = {af_inet: _first_bytes(4), af_inet6: _first_bytes(6)}

    def address_text(text, family, span):
        """Canonical text of an address inside span and usable by a host, else None."""
        if type(text) is not str or span is None:
            return None
        try:
            packed = inet_pton(family, text)
        except (OSError, ValueError):
            return None
        first, last, reserved, pool = span
        if not first <= packed <= last or packed in reserved or (pool is not None and pool[0] <= packed <= pool[1]):
            return None
        return inet_ntop(family, packed)

    def fast(raw, source):
        if type(raw) is not dict or not machine_fields(raw):
            return None
        try:
            name, mac, network, profile, firmware, bmc = (raw["name"], raw["mac"], raw["network"], raw["profile"],
                                                          raw["firmware"], raw["bmc"])
        except KeyError:
            return None
        if not (type(name) is str and type(mac) is str and type(network) is str and type(profile) is str
                and type(firmware) is str and type(bmc) is dict and bmc_fields(bmc)
                and firmware in FIRMWARES and profile in profile_names
                # A name of ASCII letters and digits only is a hostname: two C calls instead of the regex.
                and (len(name) <= 63 and name.isascii() and name.isalnum() or hostname(name))):
            return None
        get = raw.get
        network_spans = spans.get(network)
        mac = mac.lower()
        if network_spans is None or not canonical_mac(mac) or mac[1] in "13579bdf" or mac == ZERO_MAC:  # odd: multicast
            return None
        ipv4, ipv6 = get("ipv4"), get("ipv6")
        if ipv4 is not None:
            ipv4 = address_text(ipv4, af_inet, network_spans[0])
            if ipv4 is None:
                return None
        if ipv6 is not None:
            ipv6 = address_text(ipv6, af_inet6, network_spans[1])
            if ipv6 is None:
                return None
        elif ipv4 is None:
            return None
        if ipv4 is None and firmware == "bios":
            return None
        duid, rack, labels = get("duid"), get("rack"), get("labels")
        if duid is not None:
            if type(duid) is not str:
                return None
            duid = duid.lower()
            if not duid_form(duid):
                return None
        if rack is not None and (type(rack) is not str or rack not in racks):
            if type(rack) is not str or not group_name(rack) or rack in RESERVED_GROUPS:
                return None
            racks.add(rack)
        if labels is not None:
            if type(labels) is not dict:
                return None
            for key, value in labels.items():
                if type(key) is not str or not label_key(key) or not isinstance(value, label_types) \
                        or type(value) is str and (len(value) > FREE_TEXT_MAX or line_break(value)):
                    return None
        bmc_address, protocol, port = bmc.get("address"), bmc.get("protocol"), bmc.get("port")
        if (type(bmc_address) is not str or type(protocol) is not str or protocol not in BMC_PROTOCOLS
                or (port is not None and (type(port) is not int or not 1 <= port <= 65535))):
            return None
        family = af_inet6 if ":" in bmc_address else af_inet if dotted(bmc_address) else None
        if family is not None:
            try:
                packed = inet_pton(family, bmc_address)
            except (OSError, ValueError):
                return None
            if packed[0] in special_first_bytes[family]:
                return None
            bmc_address = inet_ntop(family, packed)
        elif not hostname(bmc_address):
            return None
        return Machine(name, mac, network, profile, firmware, Bmc(bmc_address.lower(), protocol, port),
                       ipv4, ipv6, duid, rack, dict(labels) if labels else {}, source)

    return fast


def _first_bytes(version):
    """The first bytes of every address of the NEVER_HOSTS blocks a BMC may not be in, of one IP version."""
    shift = (32 if version == 4 else 128) - 8
    return frozenset(byte for block_version, first, last, kind, _what in NEVER_HOSTS
                     if block_version == version and kind not in BMC_SPECIAL_ALLOWED
                     for byte in range(first >> shift, (last >> shift) + 1))


def _packed_span(span, family):
    if span is None:
        return None
    size, version = (4, 4) if family == socket.AF_INET else (16, 6)
    reserved = {socket.inet_pton(family, span.gateway)}
    reserved.update(value.to_bytes(size, "big") for value in reserved_hosts(version, span))
    pool = None if span.pool is None else tuple(value.to_bytes(size, "big") for value in span.pool)
    return span.first.to_bytes(size, "big"), span.last.to_bytes(size, "big"), frozenset(reserved), pool
