# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Source of truth (SoT): typed records, loader and validation.

Pure Python (PyYAML + netaddr), importable without Ansible running. Every
consumer - the inventory plugin, the Kea/PXE/BGP renderers, the benchmarks -
goes through load(), so parsing and validation live in exactly one place.

load() reads a YAML/JSON file or a directory of them, checks the structure of
every record against FIELDS, then the relations between records (duplicates,
addresses inside their networks, overlapping networks, references), and raises
SotError listing *all* problems, each naming file, record and field. Nothing
downstream ever sees an invalid SoT.
"""

# type(x) is T on purpose throughout: exact types are ~2x faster than isinstance() at 100k records,
# and they keep a YAML boolean from passing as an integer (bool subclasses int).
# pylint: disable=unidiomatic-typecheck

from __future__ import annotations

import json
import os
import re
import socket
from collections import namedtuple
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from ansible_collections.netboot.fleet.plugins.module_utils.gc_pause import cyclic_gc_paused

try:
    import yaml
    _YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    HAS_YAML = True
except ImportError:  # reported by load() with an install hint
    HAS_YAML = False

try:
    from netaddr import EUI, IPNetwork, IPRange, AddrFormatError, mac_unix_expanded
    HAS_NETADDR = True
except ImportError:  # pragma: no cover - reported by callers with an install hint
    HAS_NETADDR = False

FIRMWARES = ("bios", "uefi", "uefi-http")
BMC_PROTOCOLS = ("ipmi", "redfish")
INSTALLERS = ("preseed", "kickstart", "autoinstall")
SOURCE_SUFFIXES = (".yml", ".yaml", ".json")
# Inventory group names the plugin creates itself; a network or rack may not take them.
RESERVED_GROUPS = ("all", "ungrouped", "machines", "dhcp_nodes")

_HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$", re.I)
# Networks, racks and profiles become inventory groups and file names: keep them group-safe.
_GROUP_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_DUID_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){1,129}$")
_LABEL_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,62}$")
_PACKAGE_RE = re.compile(r"^[A-Za-z0-9@][A-Za-z0-9_.+:@-]*$")
_DOTTED_RE = re.compile(r"^[0-9.]+$")


# --------------------------------------------------------------------------
# Typed records (treat as read-only; not frozen because frozen dataclasses cost
# ~3 us more per record, which is 0.3 s at 100,000 machines)
# --------------------------------------------------------------------------

@dataclass(slots=True)
class Bmc:
    address: str
    protocol: str
    port: int | None = None

    def as_dict(self) -> dict:
        record = {"address": self.address, "protocol": self.protocol}
        if self.port is not None:
            record["port"] = self.port
        return record


@dataclass(slots=True)
class Machine:
    name: str
    mac: str
    network: str
    profile: str
    firmware: str
    bmc: Bmc
    ipv4: str | None = None
    ipv6: str | None = None
    duid: str | None = None
    rack: str | None = None
    labels: dict = field(default_factory=dict)
    source: str = ""

    @property
    def address(self) -> str:
        """The address Ansible would reach the machine at: IPv4 first."""
        return self.ipv4 or self.ipv6

    def as_dict(self) -> dict:
        """The record as plain data (the `netboot` host variable); unset optional fields are left out.

        Ansible tags every value of every host variable, so each leaf left out saves work at 100k hosts.
        """
        record = {"name": self.name, "mac": self.mac, "network": self.network, "profile": self.profile,
                  "firmware": self.firmware, "bmc": self.bmc.as_dict()}
        for key in ("ipv4", "ipv6", "duid", "rack"):
            value = getattr(self, key)
            if value is not None:
                record[key] = value
        if self.labels:
            record["labels"] = dict(self.labels)
        return record


@dataclass(slots=True)
class Subnet:
    """One address family of a network. gateway is the relay (giaddr / link-address)."""
    prefix: str
    gateway: str
    pool: str | None = None

    def as_dict(self) -> dict:
        return {"prefix": self.prefix, "gateway": self.gateway, "pool": self.pool}


@dataclass(slots=True)
class Network:
    name: str
    ipv4: Subnet | None = None
    ipv6: Subnet | None = None
    dns_servers: tuple = ()
    domain: str | None = None
    source: str = ""

    def as_dict(self) -> dict:
        return {
            "name": self.name, "domain": self.domain, "dns_servers": list(self.dns_servers),
            "ipv4": self.ipv4.as_dict() if self.ipv4 else None,
            "ipv6": self.ipv6.as_dict() if self.ipv6 else None,
        }


@dataclass(slots=True)
class Profile:
    name: str
    installer: str
    kernel: str
    initrd: str
    cmdline: str = ""
    disk: str = "/dev/sda"
    packages: tuple = ()
    template: str | None = None
    source: str = ""

    def as_dict(self) -> dict:
        return {
            "name": self.name, "installer": self.installer, "kernel": self.kernel,
            "initrd": self.initrd, "cmdline": self.cmdline, "disk": self.disk,
            "packages": list(self.packages), "template": self.template,
        }


@dataclass(slots=True)
class Peer:
    address: str
    asn: int
    name: str | None = None

    def as_dict(self) -> dict:
        return {"address": self.address, "asn": self.asn, "name": self.name}


@dataclass(slots=True)
class DhcpNode:
    name: str
    address: str
    asn: int
    peers: tuple = ()
    address6: str | None = None
    source: str = ""

    def as_dict(self) -> dict:
        return {
            "name": self.name, "address": self.address, "address6": self.address6,
            "asn": self.asn, "peers": [peer.as_dict() for peer in self.peers],
        }


@dataclass(slots=True)
class Fabric:
    anycast_ipv4: str | None
    anycast_ipv6: str | None
    asn: int
    pxe_ipv4: str | None
    pxe_ipv6: str | None
    http_port: int = 80

    def as_dict(self) -> dict:
        return {
            "anycast": {"ipv4": self.anycast_ipv4, "ipv6": self.anycast_ipv6},
            "asn": self.asn,
            "pxe": {"ipv4": self.pxe_ipv4, "ipv6": self.pxe_ipv6, "http_port": self.http_port},
        }


@dataclass
class Sot:
    """The validated fleet. Record tuples are sorted by name."""
    fabric: Fabric
    dhcp_nodes: tuple
    networks: tuple
    profiles: tuple
    machines: tuple
    sources: tuple = ()
    _networks: dict = field(init=False, repr=False)
    _profiles: dict = field(init=False, repr=False)

    def __post_init__(self):
        self._networks = {network.name: network for network in self.networks}
        self._profiles = {profile.name: profile for profile in self.profiles}

    def network(self, name: str) -> Network:
        return self._networks[name]

    def profile(self, name: str) -> Profile:
        return self._profiles[name]


# --------------------------------------------------------------------------
# Problems
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    source: str
    record: str
    field: str
    message: str

    def __str__(self) -> str:
        where = self.record + ("." + self.field if self.field else "")
        return "%s: %s: %s" % (self.source, where, self.message)


class SotError(Exception):
    """The SoT is invalid. .problems lists every problem found; the message shows the first ones."""

    # A generated SoT with one systematic mistake can have 100,000 problems: nobody reads past these.
    SHOWN = 100

    def __init__(self, problems):
        self.problems = list(problems)
        lines = ["%d problem(s) in the source of truth:" % len(self.problems)]
        lines.extend("  - %s" % problem for problem in self.problems[:self.SHOWN])
        if len(self.problems) > self.SHOWN:
            lines.append("  ... and %d more" % (len(self.problems) - self.SHOWN))
        super().__init__("\n".join(lines))


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
_FIELD_SETS = {kind: frozenset(spec) for kind, spec in FIELDS.items()}
_TYPE_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "a mapping"}
_CANONICAL_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
# The same without the repeated group (half the cost) and without accepting a final newline: the fast path
# may be stricter than _machine (a record it declines is checked by _machine), never laxer.
_FAST_MAC_RE = re.compile(r"[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}\Z")


class Address(namedtuple("Address", "version value text")):
    """A parsed IP address: version, integer value (for netaddr range math), canonical text."""


def parse_ip(text):
    """Address for an IPv4/IPv6 literal, None if it is not one.

    socket.inet_pton is strict (no leading zeros, no short forms) and ~10x faster than
    netaddr.IPAddress here; at 100,000 machines that is the difference between 1 s and 10 s.
    inet_ntop gives the canonical (RFC 5952) text.
    """
    family, version = (socket.AF_INET6, 6) if ":" in text else (socket.AF_INET, 4)
    try:
        packed = socket.inet_pton(family, text)
    except (OSError, ValueError):
        return None
    return Address(version, int.from_bytes(packed, "big"), socket.inet_ntop(family, packed))


class _Where:
    """Names a record in messages; the label string is only built when a problem is reported."""
    __slots__ = ("source", "kind", "index", "raw")

    def __init__(self, source, kind, index, raw):
        self.source, self.kind, self.index, self.raw = source, kind, index, raw

    def __str__(self):
        if self.index is None:
            return self.kind
        name = self.raw.get("name") if isinstance(self.raw, dict) else None
        return "%s[%d]" % (self.kind, self.index) + (" (%s)" % name if isinstance(name, str) else "")


class _Checker:
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
            self.fail(prefix.rstrip("."), "must be a mapping, got %s" % _describe(raw))
            return {}
        spec = FIELDS[kind]
        if not raw.keys() <= _FIELD_SETS[kind]:
            for key in raw.keys() - _FIELD_SETS[kind]:
                self.fail(prefix + str(key), "unknown field (allowed: %s)" % ", ".join(sorted(spec)))
        for key, (wanted, required) in spec.items():
            value = raw.get(key)
            if value is None:
                if required:
                    self.fail(prefix + key, "is required")
            elif type(value) is not wanted:
                self.fail(prefix + key, "must be %s, got %s" % (_TYPE_NAMES[wanted], _describe(value)))
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
            # collector finds them - 0.3 s at 100,000 machines.
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
        if type(value) is str and not _HOSTNAME_RE.match(value):
            self.fail(fieldname, "%r is not a valid hostname (letters, digits, '-', '.'; labels of 1-63)" % value)

    def group_name(self, value, fieldname):
        if type(value) is not str:
            return
        if not _GROUP_NAME_RE.match(value):
            self.fail(fieldname, "%r must start with a letter or '_' and hold only letters, digits and '_' "
                                 "(it becomes an inventory group and a file name)" % value)
        elif value in RESERVED_GROUPS:
            self.fail(fieldname, "%r is reserved for the inventory's own groups" % value)

    def choice(self, value, fieldname, allowed):
        if type(value) is str and value not in allowed:
            self.fail(fieldname, "%r is not one of %s" % (value, ", ".join(allowed)))


def _describe(value) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean (%r)" % value
    return "%s %r" % (type(value).__name__, value)


def _text(address):
    return None if address is None else address.text


def _inside(address, prefix):
    return prefix.first <= address.value <= prefix.last


def _is_network_or_broadcast(address, prefix):
    """IPv4 only: the first and last address of a prefix longer than /31 cannot be hosts."""
    return address.version == 4 and prefix.prefixlen < 31 and address.value in (prefix.first, prefix.last)


class _Span(namedtuple("_Span", "first last prefixlen cidr gateway")):
    """A network's prefix as plain integers: netaddr's .first/.last are properties costing ~5 us each,
    and every machine is checked against its network."""

    @classmethod
    def of(cls, prefix, subnet):
        return None if prefix is None else cls(prefix.first, prefix.last, prefix.prefixlen, subnet.prefix,
                                               subnet.gateway)


# --------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------

def source_files(path: str) -> list:
    """The files a SoT path stands for: the file itself, or the data files below a directory (sorted)."""
    if os.path.isdir(path):
        found = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found.extend(os.path.join(root, name) for name in sorted(files)
                         if name.endswith(SOURCE_SUFFIXES) and not name.startswith("."))
        return found
    return [path]


def _read(path: str, problems: list):
    """The parsed content of one file, or None after reporting why it cannot be used."""
    try:
        with open(path, "rb") as handle:
            text = handle.read()
    except OSError as exc:
        problems.append(Problem(path, "file", "", "cannot be read: %s" % exc.strerror))
        return None
    try:
        if path.endswith(".json"):
            data = json.loads(text)
        else:
            data = yaml.load(text, Loader=_YAML_LOADER)  # nosec B506 - a SafeLoader
    except ValueError as exc:
        problems.append(Problem(path, "file", "", "is not valid JSON: %s" % exc))
        return None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        problems.append(Problem(path, "file", "", "is not valid YAML: line %d, column %d: %s%s" % (
            mark.line + 1, mark.column + 1, exc.problem, " (%s)" % exc.context if exc.context else "")))
        return None
    except yaml.YAMLError as exc:
        problems.append(Problem(path, "file", "", "is not valid YAML: %s" % exc))
        return None
    if data is None:
        problems.append(Problem(path, "file", "", "is empty"))
        return None
    return data


# --------------------------------------------------------------------------
# Building records: each returns the record, or None after reporting its problems
# --------------------------------------------------------------------------

def _fabric(raw, where, problems):
    check = _Checker(problems, where)
    raw = check.fields(raw, "fabric")
    anycast = check.fields(raw.get("anycast") or {}, "fabric.anycast", "anycast.")
    pxe = check.fields(raw.get("pxe") or {}, "fabric.pxe", "pxe.")
    if not check.ok:
        return None
    any4 = check.ip(anycast.get("ipv4"), "anycast.ipv4", 4)
    any6 = check.ip(anycast.get("ipv6"), "anycast.ipv6", 6)
    if anycast.get("ipv4") is None and anycast.get("ipv6") is None:
        check.fail("anycast", "needs an ipv4 or an ipv6 address")
    check.asn(raw["asn"], "asn")
    pxe4 = check.ip(pxe.get("ipv4"), "pxe.ipv4", 4)
    pxe6 = check.ip(pxe.get("ipv6"), "pxe.ipv6", 6)
    check.port(pxe.get("http_port"), "pxe.http_port")
    if not check.ok:
        return None
    # The PXE service defaults to the anycast address: the DHCP nodes serve TFTP/HTTP too.
    return Fabric(anycast_ipv4=_text(any4), anycast_ipv6=_text(any6), asn=raw["asn"],
                  pxe_ipv4=_text(pxe4 or any4), pxe_ipv6=_text(pxe6 or any6),
                  http_port=pxe.get("http_port") or 80)


def _dhcp_node(raw, where, fabric_asn, problems):
    check = _Checker(problems, where)
    raw = check.fields(raw, "dhcp_node")
    if not check.ok:
        return None
    check.hostname(raw["name"], "name")
    address = check.ip(raw["address"], "address", 4)
    address6 = check.ip(raw.get("address6"), "address6", 6)
    check.asn(raw.get("asn"), "asn")
    peers = []
    for index, peer_raw in enumerate(raw.get("peers") or []):
        prefix = "peers[%d]." % index
        peer_raw = check.fields(peer_raw, "peer", prefix)
        if not check.ok:
            continue
        peer = check.ip(peer_raw["address"], prefix + "address")
        check.asn(peer_raw["asn"], prefix + "asn")
        if peer is None:
            continue
        if peer.text in (peer_known.address for peer_known in peers):
            check.fail(prefix + "address", "peer %s is listed twice" % peer.text)
        if peer in (address, address6):
            check.fail(prefix + "address", "peer %s is the node's own address" % peer.text)
        peers.append(Peer(peer.text, peer_raw["asn"], peer_raw.get("name")))
    if not check.ok:
        return None
    return DhcpNode(name=raw["name"], address=address.text, address6=_text(address6),
                    asn=raw.get("asn") or fabric_asn, peers=tuple(peers), source=where.source)


def _subnet(raw, check, fieldname, version):
    """(Subnet, netaddr prefix) of one address family of a network, or (None, None)."""
    raw = check.fields(raw, "subnet", fieldname + ".")
    if not check.ok:
        return None, None
    prefix = check.prefix(raw["prefix"], fieldname + ".prefix", version)
    gateway = check.ip(raw["gateway"], fieldname + ".gateway", version)
    if prefix is None or gateway is None:
        return None, None
    if not _inside(gateway, prefix):
        check.fail(fieldname + ".gateway", "%s is outside the network's prefix %s" % (gateway.text, prefix))
    elif _is_network_or_broadcast(gateway, prefix):
        check.fail(fieldname + ".gateway", "%s is the network or broadcast address of %s" % (gateway.text, prefix))
    pool = raw.get("pool")
    if pool is not None:
        bounds = [parse_ip(part.strip()) for part in pool.split("-")]
        if len(bounds) != 2 or None in bounds or bounds[0].version != version or bounds[1].version != version \
                or bounds[0].value > bounds[1].value:
            check.fail(fieldname + ".pool", "%r is not a range 'first-last' of IPv%d addresses" % (pool, version))
        else:
            pool_range = IPRange(bounds[0].text, bounds[1].text)
            if pool_range not in prefix:
                check.fail(fieldname + ".pool", "%s is outside the network's prefix %s" % (pool, prefix))
            elif pool_range.first <= gateway.value <= pool_range.last:
                check.fail(fieldname + ".pool", "%s contains the gateway %s" % (pool, gateway.text))
            pool = "%s-%s" % (bounds[0].text, bounds[1].text)
    return Subnet(str(prefix.cidr), gateway.text, pool), prefix


def _network(raw, where, problems):
    """(Network, IPv4 prefix, IPv6 prefix), or (None, None, None)."""
    check = _Checker(problems, where)
    raw = check.fields(raw, "network")
    if not check.ok:
        return None, None, None
    check.group_name(raw["name"], "name")
    if raw.get("ipv4") is None and raw.get("ipv6") is None:
        check.fail("ipv4", "a network needs an ipv4 or an ipv6 section (or both)")
    ipv4, net4 = _subnet(raw["ipv4"], check, "ipv4", 4) if raw.get("ipv4") is not None else (None, None)
    ipv6, net6 = _subnet(raw["ipv6"], check, "ipv6", 6) if raw.get("ipv6") is not None else (None, None)
    dns = []
    for index, server in enumerate(raw.get("dns_servers") or []):
        fieldname = "dns_servers[%d]" % index
        if type(server) is not str:
            check.fail(fieldname, "must be a string, got %s" % _describe(server))
            continue
        address = check.ip(server, fieldname)
        if address is not None:
            dns.append(address.text)
    check.hostname(raw.get("domain"), "domain")
    if not check.ok:
        return None, None, None
    network = Network(name=raw["name"], ipv4=ipv4, ipv6=ipv6, dns_servers=tuple(dns),
                      domain=raw.get("domain"), source=where.source)
    return network, net4, net6


def _profile(name, raw, where, problems):
    check = _Checker(problems, where)
    check.group_name(name, "")
    raw = check.fields(raw, "profile")
    if not check.ok:
        return None
    check.choice(raw["installer"], "installer", INSTALLERS)
    packages = raw.get("packages") or []
    for index, package in enumerate(packages):
        if type(package) is not str or not _PACKAGE_RE.match(package):
            check.fail("packages[%d]" % index, "%r is not a package name" % (package,))
    for key in ("kernel", "initrd", "template"):
        value = raw.get(key)
        if type(value) is str and (not value.strip() or "\n" in value or ".." in value.split("/")):
            check.fail(key, "%r is not a usable path or URL (empty, multi-line or with '..')" % value)
    if not check.ok:
        return None
    return Profile(name=name, installer=raw["installer"], kernel=raw["kernel"], initrd=raw["initrd"],
                   cmdline=raw.get("cmdline") or "", disk=raw.get("disk") or "/dev/sda",
                   packages=tuple(packages), template=raw.get("template"), source=where.source)


def _mac(value, check):
    """Lower-case colon form. netaddr parses every other notation (dashes, dots, upper case)."""
    mac = value.lower()
    if not _CANONICAL_MAC_RE.match(mac):
        try:
            mac = str(EUI(value, version=48, dialect=mac_unix_expanded))
        except (AddrFormatError, ValueError, TypeError):
            check.fail("mac", "%r is not a valid MAC address" % value)
            return None
    if int(mac[:2], 16) & 1:
        check.fail("mac", "%s is a multicast address, not a NIC's" % mac)
    return mac


def _machine(raw, where, networks, profile_names, problems):
    """networks: name -> _ParsedNetwork, or None for a declared network that failed validation."""
    check = _Checker(problems, where)
    raw = check.fields(raw, "machine")
    bmc_raw = check.fields(raw["bmc"], "bmc", "bmc.") if raw.get("bmc") is not None else {}
    if not check.ok:
        return None
    check.hostname(raw["name"], "name")
    mac = _mac(raw["mac"], check)
    ipv4 = check.ip(raw.get("ipv4"), "ipv4", 4)
    ipv6 = check.ip(raw.get("ipv6"), "ipv6", 6)
    if raw.get("ipv4") is None and raw.get("ipv6") is None:
        check.fail("ipv4", "a machine needs an ipv4 or an ipv6 address (or both)")
    duid = raw.get("duid")
    if duid is not None:
        duid = duid.lower()
        if not _DUID_RE.match(duid):
            check.fail("duid", "%r is not a DUID (hex octets separated by ':')" % raw["duid"])
    check.choice(raw["firmware"], "firmware", FIRMWARES)
    check.group_name(raw.get("rack"), "rack")
    for key, value in (raw.get("labels") or {}).items():
        if type(key) is not str or not _LABEL_KEY_RE.match(key):
            check.fail("labels", "label name %r must be a word (letters, digits, '_', '-', '.')" % (key,))
        elif not isinstance(value, (str, int, float, bool)):
            check.fail("labels." + key, "must be a string, number or boolean, got %s" % _describe(value))

    if raw["network"] not in networks:
        check.fail("network", "unknown network %r (known: %s)" % (raw["network"], _known(networks)))
    elif networks[raw["network"]] is not None:
        for address in (ipv4, ipv6):
            if address is not None:
                _check_in_network(check, address, networks[raw["network"]])
    if raw["profile"] not in profile_names:
        check.fail("profile", "unknown profile %r (known: %s)" % (raw["profile"], _known(profile_names)))

    bmc_address = bmc_raw.get("address")
    if type(bmc_address) is str:
        if ":" in bmc_address or _DOTTED_RE.match(bmc_address):
            check.ip(bmc_address, "bmc.address")
        else:
            check.hostname(bmc_address, "bmc.address")
    check.choice(bmc_raw.get("protocol"), "bmc.protocol", BMC_PROTOCOLS)
    check.port(bmc_raw.get("port"), "bmc.port")
    if not check.ok:
        return None
    return Machine(name=raw["name"], mac=mac, network=raw["network"], profile=raw["profile"],
                   firmware=raw["firmware"],
                   bmc=Bmc(bmc_address.lower(), bmc_raw["protocol"], bmc_raw.get("port")),
                   ipv4=_text(ipv4), ipv6=_text(ipv6), duid=duid, rack=raw.get("rack"),
                   labels=dict(raw.get("labels") or {}), source=where.source)


def _machines(machine_lists, declared_networks, networks, profile_names, problems):
    """[Machine] of the valid machines, reporting the others; and a function giving the (machine, _Where)
    pairs _cross_checks needs (built only when it has something to report).

    Each record goes through the fast path (_fast_machine) first; a record it does not accept as-is - any
    problem, or a spelling it leaves to _machine such as an upper-case MAC - goes through _machine, which
    builds the record or the exact report.
    """
    fast = _fast_machine(networks, profile_names)
    machines = []
    rejected = set()  # (file number, index) of the machines that are not in `machines`
    for number, (source, raws) in enumerate(machine_lists):
        for index, raw in enumerate(raws):
            machine = fast(raw, source)
            if machine is None:
                machine = _machine(raw, _Where(source, "machines", index, raw), declared_networks, profile_names,
                                   problems)
                if machine is None:
                    rejected.add((number, index))
                    continue
            machines.append(machine)

    def with_where():
        wheres = [_Where(source, "machines", index, raw) for number, (source, raws) in enumerate(machine_lists)
                  for index, raw in enumerate(raws) if (number, index) not in rejected]
        return list(zip(machines, wheres))
    return machines, with_where


def _fast_machine(networks, profile_names):
    """fast(raw, source) -> the Machine _machine would build, or None: it leaves the record to _machine.

    The same checks as _machine for the common case, at a fraction of the cost (local names, bytes
    comparisons instead of Address/_Span objects, no _Checker): 100,000 machines in about a second. It may
    decline a valid record (then _machine builds it), never accept one _machine rejects
    (tests/unit/sot/test_fast_path.py compares the two on mutated records). networks: name -> _ParsedNetwork.
    """
    # name -> (IPv4 span, IPv6 span), a span being packed (first, last, gateway, first/last are not hosts).
    spans = {name: (_packed_span(parsed.span4, socket.AF_INET), _packed_span(parsed.span6, socket.AF_INET6))
             for name, parsed in networks.items()}
    machine_fields, bmc_fields = _FIELD_SETS["machine"].issuperset, _FIELD_SETS["bmc"].issuperset
    hostname, canonical_mac = _HOSTNAME_RE.match, _FAST_MAC_RE.match
    group_name, duid_form, label_key, dotted = _GROUP_NAME_RE.match, _DUID_RE.match, _LABEL_KEY_RE.match, _DOTTED_RE.match
    racks = set()  # rack names already checked: a rack is named by its 40 or so machines
    inet_pton, inet_ntop, af_inet, af_inet6 = socket.inet_pton, socket.inet_ntop, socket.AF_INET, socket.AF_INET6
    label_types = (str, int, float, bool)

    def address_text(text, family, span):
        """Canonical text of an address inside span and usable by a host, else None."""
        if type(text) is not str or span is None:
            return None
        try:
            packed = inet_pton(family, text)
        except (OSError, ValueError):
            return None
        first, last, gateway, ends_reserved = span
        if not first <= packed <= last or packed == gateway or (ends_reserved and packed in (first, last)):
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
        if network_spans is None or not canonical_mac(mac) or mac[1] in "13579bdf":  # odd first octet: multicast
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
        duid, rack, labels = get("duid"), get("rack"), get("labels")
        if duid is not None:
            if type(duid) is not str:
                return None
            duid = duid.lower()
            if not duid_form(duid):
                return None
        if rack is not None and rack not in racks:
            if type(rack) is not str or not group_name(rack) or rack in RESERVED_GROUPS:
                return None
            racks.add(rack)
        if labels is not None:
            if type(labels) is not dict:
                return None
            for key, value in labels.items():
                if type(key) is not str or not label_key(key) or not isinstance(value, label_types):
                    return None
        bmc_address, protocol, port = bmc.get("address"), bmc.get("protocol"), bmc.get("port")
        if (type(bmc_address) is not str or type(protocol) is not str or protocol not in BMC_PROTOCOLS
                or (port is not None and (type(port) is not int or not 1 <= port <= 65535))):
            return None
        family = af_inet6 if ":" in bmc_address else af_inet if dotted(bmc_address) else None
        if family is not None:
            try:
                inet_pton(family, bmc_address)
            except (OSError, ValueError):
                return None
        elif not hostname(bmc_address):
            return None
        return Machine(name, mac, network, profile, firmware, Bmc(bmc_address.lower(), protocol, port),
                       ipv4, ipv6, duid, rack, dict(labels) if labels else {}, source)

    return fast


def _packed_span(span, family):
    if span is None:
        return None
    size = 4 if family == socket.AF_INET else 16
    return (span.first.to_bytes(size, "big"), span.last.to_bytes(size, "big"), socket.inet_pton(family, span.gateway),
            family == socket.AF_INET and span.prefixlen < 31)


def _check_in_network(check, address, network):
    version = address.version
    fieldname = "ipv%d" % version
    span = network.span4 if version == 4 else network.span6
    name = network.record.name
    if span is None:
        check.fail(fieldname, "network %r has no IPv%d prefix" % (name, version))
    elif not _inside(address, span):
        check.fail(fieldname, "%s is outside network %r (%s)" % (address.text, name, span.cidr))
    elif _is_network_or_broadcast(address, span):
        check.fail(fieldname, "%s is the network or broadcast address of %s" % (address.text, span.cidr))
    elif address.text == span.gateway:
        check.fail(fieldname, "%s is the gateway of network %r" % (address.text, name))


def _known(names) -> str:
    names = sorted(name for name in names if isinstance(name, str))
    return ", ".join(names[:10]) + (", ..." if len(names) > 10 else "") if names else "none defined"


# --------------------------------------------------------------------------
# Cross-record checks
# --------------------------------------------------------------------------

def _unique(records, key, fieldname, kind, problems, seen=None):
    """Report every record whose key was already used, naming the first user. records: (record, where)."""
    seen = {} if seen is None else seen
    for record, where in records:
        value = key(record)
        if value is None:
            continue
        first = seen.setdefault(value, where)
        if first is not where:
            problems.append(Problem(where.source, str(where), fieldname,
                                    "%s %s is also used by %s" % (kind, value, first)))
    return seen


def _overlaps(networks, version, problems):
    """Sort prefixes by start and compare each with the widest one seen so far: O(n log n)."""
    with_prefix = [(getattr(parsed, "net%d" % version), parsed) for parsed in networks]
    widest = None
    for prefix, parsed in sorted((item for item in with_prefix if item[0] is not None),
                                 key=lambda item: (item[0].first, -item[0].last)):
        if widest is not None and prefix.first <= widest[0].last:
            problems.append(Problem(parsed.where.source, str(parsed.where), "ipv%d.prefix" % version,
                                    "%s overlaps %s of %s" % (prefix.cidr, widest[0].cidr, widest[1].where)))
        if widest is None or prefix.last > widest[0].last:
            widest = (prefix, parsed)


def _cross_checks(fabric, nodes, machines, networks, problems):
    """Uniqueness across all records. nodes, machines: (record, where); networks: _ParsedNetwork."""
    names = _unique(nodes, lambda n: n.name, "name", "name", problems)
    _unique(machines, lambda m: m.name, "name", "name", problems, seen=names)
    _unique(machines, lambda m: m.mac, "mac", "MAC", problems)
    _unique(machines, lambda m: m.duid, "duid", "DUID", problems)
    _unique(machines, lambda m: m.bmc.address + ("" if m.bmc.port is None else " port %d" % m.bmc.port),
            "bmc.address", "BMC", problems)
    # Addresses that belong to the service itself: no node or machine may take them.
    service = {}
    if fabric is not None:
        for address in (fabric.anycast_ipv4, fabric.anycast_ipv6):
            if address:
                service[address] = _Where("", "fabric.anycast", None, None)
    for parsed in networks:
        for family in (parsed.record.ipv4, parsed.record.ipv6):
            if family is not None:
                service.setdefault(family.gateway, _Where("", "%s gateway" % parsed.where, None, None))
    seen = _unique(nodes, lambda n: n.address, "address", "address", problems, seen=dict(service))
    _unique(machines, lambda m: m.ipv4, "ipv4", "address", problems, seen=seen)
    seen = _unique(nodes, lambda n: n.address6, "address6", "address", problems, seen=dict(service))
    _unique(machines, lambda m: m.ipv6, "ipv6", "address", problems, seen=seen)


def _may_clash(fabric, nodes, of_machines, networks):
    """Whether _cross_checks could report anything: set sizes, all in C. Only then is it run, for its
    exact report (it needs a _Where per machine). nodes: (record, where); of_machines: see
    Validated.may_clash; networks: _ParsedNetwork."""
    def repeats(values):
        """values: a list; None (an unset field) is not a value."""
        unset = values.count(None)
        return len(set(values)) - (unset > 0) != len(values) - unset

    if (repeats([node.name for node, _where in nodes] + of_machines("name")) or repeats(of_machines("mac"))
            or repeats(of_machines("duid"))
            # (address, port) pairs: equal exactly when _cross_checks' "address port N" keys are equal.
            or repeats(of_machines("bmc.address", "bmc.port"))):
        return True
    service = set()
    if fabric is not None:
        service.update((fabric.anycast_ipv4, fabric.anycast_ipv6))
    for parsed in networks:
        service.update(family.gateway for family in (parsed.record.ipv4, parsed.record.ipv6) if family is not None)
    service.discard(None)
    for node_field, machine_field in (("address", "ipv4"), ("address6", "ipv6")):
        addresses = [getattr(node, node_field) for node, _where in nodes] + of_machines(machine_field)
        if repeats(addresses) or not service.isdisjoint(addresses):
            return True
    return False


@dataclass(slots=True)
class _ParsedNetwork:
    """A valid network with its prefixes, kept only while loading."""
    record: Network
    net4: Any
    net6: Any
    where: _Where
    span4: _Span = None
    span6: _Span = None

    def __post_init__(self):
        self.span4 = _Span.of(self.net4, self.record.ipv4)
        self.span6 = _Span.of(self.net6, self.record.ipv6)


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------

def load(path: str) -> Sot:
    """Load and validate the SoT at path (file or directory). Raises SotError listing every problem."""
    with cyclic_gc_paused():
        return validate(path, read_sources(path)).sot()


def read_sources(path: str) -> list:
    """[read_source(file)] of every file the SoT at path stands for."""
    if not (HAS_NETADDR and HAS_YAML):
        raise ImportError("netboot.fleet needs the Python libraries netaddr and PyYAML (pip install netaddr pyyaml)")
    if not os.path.exists(path):
        raise SotError([Problem(path, "source", "", "does not exist")])
    files = source_files(path)
    if not files:
        raise SotError([Problem(path, "source", "", "holds no .yml, .yaml or .json file")])
    return [read_source(source) for source in files]


def read_source(source: str) -> tuple:
    """(file, os.stat_result taken before reading or None, parsed content or None, [Problem] of reading)."""
    try:
        info = os.stat(source)
    except OSError:
        info = None
    problems = []
    return source, info, _read(source, problems), problems


@dataclass(slots=True)
class Validated:
    """A validated SoT with what validating it established (parsed networks, names declared), so that
    sot_cache can validate a changed file's machines again without the other files.
    machines: {file: [Machine]} in file order (None in the copy sot_cache keeps: it holds them as columns)."""
    path: str
    files: list
    fabric: Fabric
    nodes: list
    networks: dict
    profiles: list
    declared_networks: dict
    profile_names: frozenset
    machines: dict | None

    def sot(self) -> Sot:
        by_name = attrgetter("name")
        return Sot(
            fabric=self.fabric,
            dhcp_nodes=tuple(sorted((node for node, _where in self.nodes), key=by_name)),
            networks=tuple(sorted((parsed.record for parsed in self.networks.values()), key=by_name)),
            profiles=tuple(sorted(self.profiles, key=by_name)),
            machines=tuple(sorted((machine for machines in self.machines.values() for machine in machines),
                                  key=by_name)),
            sources=tuple(self.files),
        )

    def machines_of(self, source: str, raws: list) -> list:
        """[Machine] of one file's raw machine records, checked against this SoT's networks and profiles but
        not against the other machines (see may_clash). Raises SotError."""
        problems = []
        machines, _with_where = _machines([(source, raws)], self.declared_networks, self.networks,
                                          self.profile_names, problems)
        if problems:
            raise SotError(problems)
        return machines

    def may_clash(self, column) -> bool:
        """Whether a name, MAC, DUID, BMC or address may be used twice among these nodes and networks and
        the machines given by column: column(*fields) -> [value(s) of every machine], fields named as for
        attrgetter ("bmc.address")."""
        return _may_clash(self.fabric, self.nodes, column, self.networks.values())


def machine_columns(machines):
    """Validated.may_clash's column function for a list of Machine."""
    def column(*names):
        return list(map(attrgetter(*names), machines))
    return column


def validate(path: str, contents: list) -> Validated:
    """contents: read_sources(path). Raises SotError listing every problem."""
    problems = []
    fabric_where = None
    raws = {"dhcp_nodes": [], "networks": []}
    machine_lists = []  # (source, raw machines): no per-record _Where unless a machine has a problem
    profile_raws = {}
    for source, _info, data, reading in contents:
        problems.extend(reading)
        if data is None:
            continue
        data = _Checker(problems, _Where(source, "file", None, None)).fields(data, "top")
        for kind, records in raws.items():
            if type(data.get(kind)) is list:
                records.extend((raw, _Where(source, kind, index, raw)) for index, raw in enumerate(data[kind]))
        if type(data.get("machines")) is list:
            machine_lists.append((source, data["machines"]))
        if type(data.get("profiles")) is dict:
            for name, raw in data["profiles"].items():
                where = _Where(source, "profiles.%s" % name, None, raw)
                if name in profile_raws:
                    problems.append(Problem(source, str(where), "", "is also defined in %s"
                                            % profile_raws[name][1].source))
                else:
                    profile_raws[name] = (raw, where)
        if type(data.get("fabric")) is dict:
            if fabric_where is not None:
                problems.append(Problem(source, "fabric", "", "is also defined in %s" % fabric_where.source))
            else:
                fabric_where = _Where(source, "fabric", None, data["fabric"])

    fabric = None
    # When a file could not be used, the fabric may well be in it: say nothing more about it.
    if fabric_where is not None:
        fabric = _fabric(fabric_where.raw, fabric_where, problems)
    elif not problems:
        problems.append(Problem(path, "fabric", "", "is required (anycast addresses and asn)"))

    nodes = [(node, where) for raw, where in raws["dhcp_nodes"]
             for node in [_dhcp_node(raw, where, fabric.asn if fabric else None, problems)] if node is not None]

    networks = {}
    for raw, where in raws["networks"]:
        record, net4, net6 = _network(raw, where, problems)
        if record is None:
            continue
        if record.name in networks:
            problems.append(Problem(where.source, str(where), "name", "network %s is also defined as %s"
                                    % (record.name, networks[record.name].where)))
        else:
            networks[record.name] = _ParsedNetwork(record, net4, net6, where)
    for version in (4, 6):
        _overlaps(networks.values(), version, problems)

    profiles = [profile for name, (raw, where) in profile_raws.items()
                for profile in [_profile(name, raw, where, problems)] if profile is not None]

    # A machine naming a network or profile that failed its own validation gets no second,
    # misleading "unknown" error: names are looked up among everything declared.
    declared_networks = {raw.get("name"): None for raw, _where in raws["networks"] if type(raw) is dict}
    declared_networks.update(networks)
    machines, machines_with_where = _machines(machine_lists, declared_networks, networks, profile_raws, problems)

    if _may_clash(fabric, nodes, machine_columns(machines), networks.values()):
        _cross_checks(fabric, nodes, machines_with_where(), list(networks.values()), problems)
    if problems:
        raise SotError(problems)
    # No machine was rejected: the valid ones are every file's records, in order.
    by_file, start = {}, 0
    for source, file_raws in machine_lists:
        by_file[source] = machines[start:start + len(file_raws)]
        start += len(file_raws)
    return Validated(path, [content[0] for content in contents], fabric, nodes, networks, profiles,
                     declared_networks, frozenset(profile_raws), by_file)


def summary(fleet: Sot) -> dict:
    """What a person checks before a bring-up: counts per network, profile and firmware."""
    per_network, per_profile, per_firmware = {}, {}, {}
    for machine in fleet.machines:
        per_network[machine.network] = per_network.get(machine.network, 0) + 1
        per_profile[machine.profile] = per_profile.get(machine.profile, 0) + 1
        per_firmware[machine.firmware] = per_firmware.get(machine.firmware, 0) + 1
    return {
        "machines": len(fleet.machines),
        "dhcp_nodes": [node.name for node in fleet.dhcp_nodes],
        "anycast": {"ipv4": fleet.fabric.anycast_ipv4, "ipv6": fleet.fabric.anycast_ipv6},
        "asn": fleet.fabric.asn,
        "networks": {network.name: {"ipv4": network.ipv4.prefix if network.ipv4 else None,
                                    "ipv6": network.ipv6.prefix if network.ipv6 else None,
                                    "machines": per_network.get(network.name, 0)}
                     for network in fleet.networks},
        "profiles": dict(sorted(per_profile.items())),
        "firmware": dict(sorted(per_firmware.items())),
        "sources": list(fleet.sources),
    }
