# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each SoT record may hold (FIELDS) and the checks of single values, collecting every problem."""

# type(x) is T on purpose: exact types keep a YAML boolean from passing as an integer (bool subclasses int).
# pylint: disable=unidiomatic-typecheck
from __future__ import annotations

import re
import socket
from collections import namedtuple

try:
    from netaddr import IPNetwork, AddrFormatError
except ImportError:  # pragma: no cover - reported by files.read_sources
    pass

from ansible_collections.netboot.fleet.plugins.module_utils.problems import Problem, ProblemsError
from ansible_collections.netboot.fleet.plugins.module_utils.sot.model import RESERVED_GROUPS


# \Z, not $: $ also matches before a final newline.
HOSTNAME_RE = re.compile(r"^(?=.{1,253}\Z)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\Z", re.I)
# Networks, racks and profiles become inventory groups and file names: keep them group-safe.
GROUP_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}\Z")
DUID_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){1,129}\Z")
LABEL_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,62}\Z")
PACKAGE_RE = re.compile(r"^[A-Za-z0-9@][A-Za-z0-9_.+:@-]*\Z")
DOTTED_RE = re.compile(r"^[0-9.]+\Z")
# Control characters but tab (kernel command lines may hold tabs).
CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class SotError(ProblemsError):
    """The SoT is invalid: .problems lists every problem found, each naming file, record and field."""

    HEADER = "%d problem(s) in the source of truth:"


# --------------------------------------------------------------------------
# Structure: what each record may hold
# --------------------------------------------------------------------------
# field -> (accepted python type, required). Unknown fields are errors: a typo such as
# "gatway" must not silently drop the gateway. Types are compared exactly (type() is),
# so a boolean is not taken for an integer.

FIELDS = {
    "top": {"fabric": (dict, False), "dhcp_nodes": (list, False), "networks": (list, False),
            "profiles": (dict, False), "machines": (list, False)},
    "fabric": {"anycast": (dict, True), "asn": (int, True), "pxe": (dict, False)},
    "fabric.anycast": {"ipv4": (str, False), "ipv6": (str, False)},
    "fabric.pxe": {"ipv4": (str, False), "ipv6": (str, False), "http_port": (int, False)},
    "dhcp_node": {"name": (str, True), "address": (str, True), "address6": (str, False),
                  "asn": (int, False), "peers": (list, False)},
    "peer": {"address": (str, True), "asn": (int, True), "name": (str, False)},
    "network": {"name": (str, True), "ipv4": (dict, False), "ipv6": (dict, False),
                "dns_servers": (list, False), "domain": (str, False)},
    "subnet": {"prefix": (str, True), "gateway": (str, True), "pool": (str, False)},
    "profile": {"installer": (str, True), "kernel": (str, True), "initrd": (str, True),
                "cmdline": (str, False), "disk": (str, False), "packages": (list, False),
                "template": (str, False)},
    "machine": {"name": (str, True), "mac": (str, True), "ipv4": (str, False), "ipv6": (str, False),
                "duid": (str, False), "network": (str, True), "profile": (str, True),
                "firmware": (str, True), "bmc": (dict, True), "rack": (str, False),
                "labels": (dict, False)},
    "bmc": {"address": (str, True), "protocol": (str, True), "port": (int, False)},
}
FIELD_SETS = {kind: frozenset(spec) for kind, spec in FIELDS.items()}
_TYPE_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "a mapping"}
CANONICAL_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z")
# The same without the repeated group (half the cost) and without accepting a final newline: the fast path
# may be stricter than build_machine (a record it declines is checked by build_machine), never laxer.
FAST_MAC_RE = re.compile(r"[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}\Z")


class Address(namedtuple("Address", "version value text")):
    """A parsed IP address: version, integer value (for netaddr range math), canonical text."""


def parse_ip(text):
    """Address for an IPv4/IPv6 literal, None if it is not one.

    socket.inet_pton is strict (no leading zeros, no short forms) and much faster than netaddr.IPAddress.
    inet_ntop gives the canonical (RFC 5952) text.
    """
    family, version = (socket.AF_INET6, 6) if ":" in text else (socket.AF_INET, 4)
    try:
        packed = socket.inet_pton(family, text)
    except (OSError, ValueError):
        return None
    return Address(version, int.from_bytes(packed, "big"), socket.inet_ntop(family, packed))


class Where:
    """Names a record in messages; the label string is only built when a problem is reported."""
    __slots__ = ("source", "kind", "index", "raw")

    def __init__(self, source, kind, index, raw):
        self.source, self.kind, self.index, self.raw = source, kind, index, raw

    def __str__(self):
        if self.index is None:
            return self.kind
        name = self.raw.get("name") if isinstance(self.raw, dict) else None
        return "%s[%d]" % (self.kind, self.index) + (" (%s)" % name if isinstance(name, str) else "")


class Checker:
    """Collects the problems of one record, so that one bad field does not hide the next."""

    def __init__(self, problems, where):
        self.problems = problems
        self.where = where
        self.ok = True

    def fail(self, fieldname, message):
        self.ok = False
        self.problems.append(Problem(self.where.source, str(self.where), fieldname, message))

    def fields(self, raw, kind, prefix=""):
        """Check raw against FIELDS[kind]; return it, or {} when it is not a mapping."""
        if type(raw) is not dict:
            self.fail(prefix.rstrip("."), "must be a mapping, got %s" % describe(raw))
            return {}
        spec = FIELDS[kind]
        if not raw.keys() <= FIELD_SETS[kind]:
            for key in raw.keys() - FIELD_SETS[kind]:
                self.fail(prefix + str(key), "unknown field (allowed: %s)" % ", ".join(sorted(spec)))
        for key, (wanted, required) in spec.items():
            value = raw.get(key)
            if value is None:
                if required:
                    self.fail(prefix + key, "is required")
            elif type(value) is not wanted:
                self.fail(prefix + key, "must be %s, got %s" % (_TYPE_NAMES[wanted], describe(value)))
        return raw

    def ip(self, value, fieldname, version=None):
        """The Address of value (of the given version; None: either), or None after reporting why not."""
        if value is None:
            return None
        address = parse_ip(value)
        if address is None:
            self.fail(fieldname, "%r is not a valid IP%s address" % (value, "v%d" % version if version else ""))
        elif version is not None and address.version != version:
            self.fail(fieldname, "%r is an IPv%d address, expected IPv%d" % (value, address.version, version))
            address = None
        return address

    def prefix(self, value, fieldname, version):
        """The netaddr IPNetwork of value, or None after reporting why not."""
        if "/" not in value:
            self.fail(fieldname, "%r is not a prefix (expected address/length)" % value)
            return None
        try:
            # The version named: left to guess, netaddr tries IPv4 first and an IPv6 prefix raises inside it, an
            # exception whose traceback keeps this whole load's frames (every raw record) alive until the cyclic
            # collector finds them.
            network = IPNetwork(value, version=6 if ":" in value else 4)
        except (AddrFormatError, ValueError, TypeError):
            self.fail(fieldname, "%r is not a valid IPv%d prefix" % (value, version))
            return None
        if network.version != version:
            self.fail(fieldname, "%r is an IPv%d prefix, expected IPv%d" % (value, network.version, version))
            return None
        if network.ip != network.network:
            self.fail(fieldname, "%r has host bits set (did you mean %s?)" % (value, network.cidr))
            return None
        return network

    def asn(self, value, fieldname):
        if type(value) is int and not 1 <= value <= 4294967294:
            self.fail(fieldname, "%r is not a valid ASN (1-4294967294)" % value)

    def port(self, value, fieldname):
        if type(value) is int and not 1 <= value <= 65535:
            self.fail(fieldname, "%r is not a valid port (1-65535)" % value)

    def hostname(self, value, fieldname):
        if type(value) is str and not HOSTNAME_RE.match(value):
            self.fail(fieldname, "%r is not a valid hostname (letters, digits, '-', '.'; labels of 1-63)" % value)

    def group_name(self, value, fieldname):
        if type(value) is not str:
            return
        if not GROUP_NAME_RE.match(value):
            self.fail(fieldname, "%r must start with a letter or '_' and hold only letters, digits and '_' "
                                 "(it becomes an inventory group and a file name)" % value)
        elif value in RESERVED_GROUPS:
            self.fail(fieldname, "%r is reserved for the inventory's own groups" % value)

    def choice(self, value, fieldname, allowed):
        if type(value) is str and value not in allowed:
            self.fail(fieldname, "%r is not one of %s" % (value, ", ".join(allowed)))


def describe(value) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean (%r)" % value
    return "%s %r" % (type(value).__name__, value)


def text_of(address):
    return None if address is None else address.text


def inside(address, prefix):
    return prefix.first <= address.value <= prefix.last


def is_network_or_broadcast(address, prefix):
    """IPv4 only: the first and last address of a prefix longer than /31 cannot be hosts."""
    return address.version == 4 and prefix.prefixlen < 31 and address.value in (prefix.first, prefix.last)


class Span(namedtuple("Span", "first last prefixlen cidr gateway")):
    """A network's prefix as plain integers: netaddr's .first/.last are costly properties,
    and every machine is checked against its network."""

    @classmethod
    def of(cls, prefix, subnet):
        return None if prefix is None else cls(prefix.first, prefix.last, prefix.prefixlen, subnet.prefix,
                                               subnet.gateway)
