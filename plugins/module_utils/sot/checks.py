# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each SoT record may hold (FIELDS) and the checks of single values, collecting every problem."""

# type(x) is T on purpose: exact types keep a YAML boolean from passing as an integer (bool subclasses int).
# pylint: disable=unidiomatic-typecheck
from __future__ import annotations

import re
import reprlib
import socket
from collections import namedtuple

try:
    from netaddr import IPNetwork, AddrFormatError
except ImportError:  # pragma: no cover - reported by files.read_sources
    pass

from ansible_collections.netboot.fleet.plugins.module_utils.problems import Problem, ProblemsError
from ansible_collections.netboot.fleet.plugins.module_utils.pxe.escape import WORD_CHARS
from ansible_collections.netboot.fleet.plugins.module_utils.sot.model import RESERVED_GROUPS


# \Z, not $: $ also matches before a final newline. re.A: with re.I alone, [a-z] matches the Kelvin sign and
# the long s (they case-fold to k and s), so one name could be written twice.
HOSTNAME_RE = re.compile(r"^(?=.{1,253}\Z)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\Z",
                         re.I | re.A)
# Networks, racks and profiles become inventory groups and file names: keep them group-safe.
GROUP_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}\Z")
DUID_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){1,129}\Z")
LABEL_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,62}\Z")
PACKAGE_RE = re.compile(r"^[A-Za-z0-9@][A-Za-z0-9_.+:@-]*\Z")
DOTTED_RE = re.compile(r"^[0-9.]+\Z")
# A profile's kernel or initrd: an http(s) URL, or a path relative to the HTTP root; of the characters every
# boot file can hold (pxe/escape.py: the renderer refuses the others too).
ASSET_RE = re.compile(r"(https?://[^/?#]+/[%s]*|(?![/%%-])(?!.*://)[%s]+)\Z" % (WORD_CHARS, WORD_CHARS))
# A profile's disk: a device path as installers take it (by-id and by-path names hold ':' and '+').
DISK_RE = re.compile(r"/dev/[A-Za-z0-9/_.:+-]{1,200}\Z")
# A profile's package mirror and proxy: a plain http(s) URL (answer files split the mirror into host and path).
MIRROR_RE = re.compile(r"https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?(/[A-Za-z0-9._~%/+-]{0,200})?\Z")
PROXY_RE = re.compile(r"http://([A-Za-z0-9._~%-]{1,64}@)?[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?/?\Z")
# Free text (a profile's cmdline, a label's value) is written into boot scripts and host variables: bounded.
FREE_TEXT_MAX = 1024
# An echoed value is cut to this many characters: a report names the value, it does not copy it.
SHOWN_MAX = 80
ZERO_MAC = "00:00:00:00:00:00"


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
                "template": (str, False), "mirror": (str, False), "proxy": (str, False)},
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


def _block(cidr, kind):
    text, length = cidr.split("/")
    address = parse_ip(text)
    last = address.value + (1 << ((32 if address.version == 4 else 128) - int(length))) - 1
    return address.version, address.value, last, kind, "%s block %s" % (kind, cidr)


# The special-purpose blocks (RFC 6890) no host, gateway, peer or service address can lie in.
# tests/unit/sot/test_checks.py holds this list equal to the ipaddress module's is_* properties.
NEVER_HOSTS = tuple(_block(cidr, what) for cidr, what in (
    ("0.0.0.0/8", "'this network'"), ("127.0.0.0/8", "loopback"), ("169.254.0.0/16", "link-local"),
    ("224.0.0.0/4", "multicast"), ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"), ("::1/128", "loopback"), ("fe80::/10", "link-local"), ("ff00::/8", "multicast")))


# A BMC may be on loopback: BMC emulators (ipmi_sim, sushy-tools) and SSH tunnels to BMCs listen there.
BMC_SPECIAL_ALLOWED = ("loopback",)


def never_host(version, first, last, allowed=()):
    """The special-purpose block (kind and prefix) that the addresses first..last reach into, or None.
    allowed: kinds not to report."""
    for block_version, block_first, block_last, kind, what in NEVER_HOSTS:
        if block_version == version and first <= block_last and block_first <= last and kind not in allowed:
            return what
    return None


class _Shown(reprlib.Repr):
    def repr_str(self, x, level):
        # ascii(): a name that only looks like ASCII (the Kelvin sign) shows as what it is.
        text = ascii(x)
        if len(text) > self.maxstring:
            keep = (self.maxstring - 3) // 2
            text = text[:keep] + "..." + text[len(text) - keep:]
        return text


_REPR = _Shown()
_REPR.maxstring = _REPR.maxother = SHOWN_MAX
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict = 2, 4, 4


def shown(value) -> str:
    """repr(value), bounded: long strings cut (with their length), containers to a few items and levels
    (reprlib: a YAML alias bomb is never expanded)."""
    text = _REPR.repr(value)
    if type(value) is str and len(value) > SHOWN_MAX:
        text += " (%d characters)" % len(value)
    return text


def label(name) -> str:
    """A name as it appears in a record's label: as written when short and printable, else shown()."""
    return name if type(name) is str and len(name) <= 64 and name.isascii() and name.isprintable() else shown(name)


class Where:
    """Names a record in messages; the label string is only built when a problem is reported."""
    __slots__ = ("source", "kind", "index", "raw")

    def __init__(self, source, kind, index, raw):
        self.source, self.kind, self.index, self.raw = source, kind, index, raw

    def __str__(self):
        if self.index is None:
            return self.kind
        name = self.raw.get("name") if isinstance(self.raw, dict) else None
        return "%s[%d]" % (self.kind, self.index) + (" (%s)" % label(name) if isinstance(name, str) else "")


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
                self.fail(prefix + label(key), "unknown field (allowed: %s)" % ", ".join(sorted(spec)))
        for key, (wanted, required) in spec.items():
            value = raw.get(key)
            if value is None:
                if required:
                    self.fail(prefix + key, "is required")
            elif type(value) is not wanted:
                self.fail(prefix + key, "must be %s, got %s" % (_TYPE_NAMES[wanted], describe(value)))
        return raw

    def ip(self, value, fieldname, version=None, allowed=()):
        """The Address of value (of the given version; None: either), or None after reporting why not.
        allowed: kinds of special-purpose addresses (never_host) accepted."""
        if value is None:
            return None
        address = parse_ip(value)
        if address is None:
            self.fail(fieldname, "%s is not a valid IP%s address" % (shown(value), "v%d" % version if version else ""))
            return None
        if version is not None and address.version != version:
            self.fail(fieldname, "%s is an IPv%d address, expected IPv%d" % (shown(value), address.version, version))
            return None
        what = never_host(address.version, address.value, address.value, allowed)
        if what is not None:
            self.fail(fieldname, "%s is in the %s: no host has it" % (address.text, what))
            return None
        return address

    def prefix(self, value, fieldname, version):
        """The netaddr IPNetwork of value, or None after reporting why not."""
        if "/" not in value:
            self.fail(fieldname, "%s is not a prefix (expected address/length)" % shown(value))
            return None
        try:
            # The version named: left to guess, netaddr tries IPv4 first and an IPv6 prefix raises inside it, an
            # exception whose traceback keeps this whole load's frames (every raw record) alive until the cyclic
            # collector finds them.
            network = IPNetwork(value, version=6 if ":" in value else 4)
        except (AddrFormatError, ValueError, TypeError):
            self.fail(fieldname, "%s is not a valid IPv%d prefix" % (shown(value), version))
            return None
        if network.version != version:
            self.fail(fieldname, "%s is an IPv%d prefix, expected IPv%d" % (shown(value), network.version, version))
            return None
        if network.ip != network.network:
            self.fail(fieldname, "%s has host bits set (did you mean %s?)" % (shown(value), network.cidr))
            return None
        what = never_host(version, network.first, network.last)
        if what is not None:
            self.fail(fieldname, "%s reaches into the %s: no host has those addresses" % (network.cidr, what))
            return None
        return network

    def asn(self, value, fieldname):
        if type(value) is int and not 1 <= value <= 4294967294:
            self.fail(fieldname, "%s is not a valid ASN (1-4294967294)" % shown(value))

    def port(self, value, fieldname):
        if type(value) is int and not 1 <= value <= 65535:
            self.fail(fieldname, "%s is not a valid port (1-65535)" % shown(value))

    def hostname(self, value, fieldname):
        if type(value) is str and not HOSTNAME_RE.match(value):
            self.fail(fieldname, "%s is not a valid hostname (letters, digits, '-', '.'; labels of 1-63)" % shown(value))

    def group_name(self, value, fieldname):
        if type(value) is not str:
            return
        if not GROUP_NAME_RE.match(value):
            self.fail(fieldname, "%s must start with a letter or '_' and hold only letters, digits and '_' "
                                 "(it becomes an inventory group and a file name)" % shown(value))
        elif value in RESERVED_GROUPS:
            self.fail(fieldname, "%s is reserved for the inventory's own groups" % shown(value))

    def choice(self, value, fieldname, allowed):
        if type(value) is str and value not in allowed:
            self.fail(fieldname, "%s is not one of %s" % (shown(value), ", ".join(allowed)))


def describe(value) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean (%r)" % value
    return "%s %s" % (type(value).__name__, shown(value))


def text_of(address):
    return None if address is None else address.text


def inside(address, prefix):
    return prefix.first <= address.value <= prefix.last


def not_a_host_of(value, version, prefix):
    """What the address (its integer value) is in prefix if no host can have it, else None: the network and
    broadcast address of an IPv4 prefix longer than /31, the subnet-router anycast address (RFC 4291) of an
    IPv6 prefix longer than /127."""
    if version == 4 and prefix.prefixlen < 31 and value in (prefix.first, prefix.last):
        return "the network or broadcast address"
    if version == 6 and prefix.prefixlen < 127 and value == prefix.first:
        return "the subnet-router anycast address"
    return None


def reserved_hosts(version, prefix):
    """The integer values of the addresses of prefix no host can have (see not_a_host_of)."""
    return tuple(value for value in (prefix.first, prefix.last) if not_a_host_of(value, version, prefix))


class Span(namedtuple("Span", "first last prefixlen cidr gateway pool")):
    """A network's prefix as plain integers: netaddr's .first/.last are costly properties,
    and every machine is checked against its network. pool: (first, last) of its dynamic pool, or None."""

    @classmethod
    def of(cls, prefix, subnet):
        if prefix is None:
            return None
        pool = None
        if subnet.pool is not None:
            first, last = (parse_ip(bound).value for bound in subnet.pool.split("-"))
            pool = (first, last)
        return cls(prefix.first, prefix.last, prefix.prefixlen, subnet.prefix, subnet.gateway, pool)
