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

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

try:
    import yaml
    _YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None

try:
    from netaddr import EUI, IPAddress, IPNetwork, IPRange, AddrFormatError, mac_unix_expanded
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


# --------------------------------------------------------------------------
# Typed records
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Bmc:
    address: str
    protocol: str
    port: int | None = None

    def as_dict(self) -> dict:
        return {"address": self.address, "protocol": self.protocol, "port": self.port}


@dataclass(frozen=True)
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
        """The record as plain data (the `netboot` host variable)."""
        return {
            "name": self.name, "mac": self.mac, "ipv4": self.ipv4, "ipv6": self.ipv6,
            "duid": self.duid, "network": self.network, "profile": self.profile,
            "firmware": self.firmware, "rack": self.rack, "labels": dict(self.labels),
            "bmc": self.bmc.as_dict(),
        }


@dataclass(frozen=True)
class Subnet:
    """One address family of a network. gateway is the relay (giaddr / link-address)."""
    prefix: str
    gateway: str
    pool: str | None = None

    def as_dict(self) -> dict:
        return {"prefix": self.prefix, "gateway": self.gateway, "pool": self.pool}


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Peer:
    address: str
    asn: int
    name: str | None = None

    def as_dict(self) -> dict:
        return {"address": self.address, "asn": self.asn, "name": self.name}


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Sot:
    fabric: Fabric
    dhcp_nodes: tuple
    networks: tuple
    profiles: tuple
    machines: tuple
    sources: tuple = ()

    def network(self, name: str) -> Network:
        return self._index("networks")[name]

    def profile(self, name: str) -> Profile:
        return self._index("profiles")[name]

    def _index(self, kind: str) -> dict:
        # Cached on first use; frozen dataclass, so bypass __setattr__.
        cache = self.__dict__.setdefault("_indexes", {})
        if kind not in cache:
            cache[kind] = {record.name: record for record in getattr(self, kind)}
        return cache[kind]


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
    """The SoT is invalid. .problems lists every problem found."""

    def __init__(self, problems):
        self.problems = list(problems)
        lines = ["%d problem(s) in the source of truth:" % len(self.problems)]
        lines.extend("  - %s" % problem for problem in self.problems)
        super().__init__("\n".join(lines))


# --------------------------------------------------------------------------
# Structure: what each record may hold
# --------------------------------------------------------------------------
# field -> (accepted python types, required). Unknown fields are errors: a typo such as
# "gatway" must not silently drop the gateway.

_STR = (str,)
_INT = (int,)
_LIST = (list,)
_DICT = (dict,)

FIELDS = {
    "top": {"fabric": (_DICT, False), "dhcp_nodes": (_LIST, False), "networks": (_LIST, False),
            "profiles": (_DICT, False), "machines": (_LIST, False)},
    "fabric": {"anycast": (_DICT, True), "asn": (_INT, True), "pxe": (_DICT, False)},
    "fabric.anycast": {"ipv4": (_STR, False), "ipv6": (_STR, False)},
    "fabric.pxe": {"ipv4": (_STR, False), "ipv6": (_STR, False), "http_port": (_INT, False)},
    "dhcp_node": {"name": (_STR, True), "address": (_STR, True), "address6": (_STR, False),
                  "asn": (_INT, False), "peers": (_LIST, False)},
    "peer": {"address": (_STR, True), "asn": (_INT, True), "name": (_STR, False)},
    "network": {"name": (_STR, True), "ipv4": (_DICT, False), "ipv6": (_DICT, False),
                "dns_servers": (_LIST, False), "domain": (_STR, False)},
    "subnet": {"prefix": (_STR, True), "gateway": (_STR, True), "pool": (_STR, False)},
    "profile": {"installer": (_STR, True), "kernel": (_STR, True), "initrd": (_STR, True),
                "cmdline": (_STR, False), "disk": (_STR, False), "packages": (_LIST, False),
                "template": (_STR, False)},
    "machine": {"name": (_STR, True), "mac": (_STR, True), "ipv4": (_STR, False), "ipv6": (_STR, False),
                "duid": (_STR, False), "network": (_STR, True), "profile": (_STR, True),
                "firmware": (_STR, True), "bmc": (_DICT, True), "rack": (_STR, False),
                "labels": (_DICT, False)},
    "bmc": {"address": (_STR, True), "protocol": (_STR, True), "port": (_INT, False)},
}

_TYPE_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "a mapping"}


class _Checker:
    """Collects problems for one record so that one bad field does not hide the next."""

    def __init__(self, problems, source, record):
        self.problems = problems
        self.source = source
        self.record = record
        self.ok = True

    def fail(self, fieldname, message):
        self.ok = False
        self.problems.append(Problem(self.source, self.record, fieldname, message))

    def fields(self, raw, kind, prefix=""):
        """Check raw against FIELDS[kind]; return it (or {} when it is not a mapping)."""
        if not isinstance(raw, dict):
            self.fail(prefix.rstrip("."), "must be a mapping, got %s" % _describe(raw))
            return {}
        spec = FIELDS[kind]
        for key, value in raw.items():
            if key not in spec:
                self.fail(prefix + str(key), "unknown field (allowed: %s)" % ", ".join(sorted(spec)))
                continue
            types, required = spec[key]
            if value is None and not required:
                continue
            # bool is an int in Python; an ASN or port of `true` is a mistake.
            if not isinstance(value, types) or (isinstance(value, bool) and types is _INT):
                self.fail(prefix + key, "must be %s, got %s" % (_TYPE_NAMES[types[0]], _describe(value)))
        for key, (_types, required) in spec.items():
            if required and raw.get(key) is None:
                self.fail(prefix + key, "is required")
        return raw

    def ip(self, value, fieldname, version=None):
        """An IPAddress of the given version (None: either), or None after reporting why not."""
        if value is None:
            return None
        try:
            address = IPAddress(value)
        except (AddrFormatError, ValueError, TypeError):
            self.fail(fieldname, "%r is not a valid IP%s address" % (value, "v%d" % version if version else ""))
            return None
        if version is not None and address.version != version:
            self.fail(fieldname, "%r is an IPv%d address, expected IPv%d" % (value, address.version, version))
            return None
        return address

    def prefix(self, value, fieldname, version):
        if "/" not in value:
            self.fail(fieldname, "%r is not a prefix (expected address/length)" % value)
            return None
        try:
            network = IPNetwork(value)
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
        if isinstance(value, int) and not 1 <= value <= 4294967294:
            self.fail(fieldname, "%r is not a valid ASN (1-4294967294)" % value)

    def port(self, value, fieldname):
        if isinstance(value, int) and not 1 <= value <= 65535:
            self.fail(fieldname, "%r is not a valid port (1-65535)" % value)

    def hostname(self, value, fieldname):
        if isinstance(value, str) and not _HOSTNAME_RE.match(value):
            self.fail(fieldname, "%r is not a valid hostname (letters, digits, '-', '.'; labels of 1-63)" % value)
            return False
        return True

    def group_name(self, value, fieldname):
        if not isinstance(value, str):
            return False
        if not _GROUP_NAME_RE.match(value):
            self.fail(fieldname, "%r must start with a letter or '_' and hold only letters, digits and '_' "
                                 "(it becomes an inventory group and a file name)" % value)
            return False
        if value in RESERVED_GROUPS:
            self.fail(fieldname, "%r is reserved for the inventory's own groups" % value)
            return False
        return True

    def choice(self, value, fieldname, allowed):
        if isinstance(value, str) and value not in allowed:
            self.fail(fieldname, "%r is not one of %s" % (value, ", ".join(allowed)))
            return False
        return True


def _describe(value) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean (%r)" % value
    return "%s %r" % (type(value).__name__, value)


# --------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------

def source_files(path: str) -> list:
    """The files a SoT path stands for: the file itself, or the data files below a directory."""
    if os.path.isdir(path):
        found = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found.extend(os.path.join(root, name) for name in sorted(files)
                         if name.endswith(SOURCE_SUFFIXES) and not name.startswith("."))
        return found
    return [path]


def _read(path: str, problems: list):
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
            if yaml is None:  # pragma: no cover
                raise ImportError("PyYAML is required to read %s" % path)
            data = yaml.load(text, Loader=_YAML_LOADER)  # nosec B506 - a SafeLoader
    except ValueError as exc:
        problems.append(Problem(path, "file", "", "is not valid JSON: %s" % exc))
        return None
    except yaml.YAMLError as exc:
        problems.append(Problem(path, "file", "", "is not valid YAML: %s" % str(exc).replace("\n", " ")))
        return None
    if data is None:
        problems.append(Problem(path, "file", "", "is empty"))
        return None
    return data


# --------------------------------------------------------------------------
# Building records
# --------------------------------------------------------------------------

def _label(kind, index, raw):
    name = raw.get("name") if isinstance(raw, dict) else None
    return "%s[%d]" % (kind, index) + (" (%s)" % name if isinstance(name, str) else "")


def _fabric(raw, source, problems):
    check = _Checker(problems, source, "fabric")
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
    return Fabric(
        anycast_ipv4=_s(any4), anycast_ipv6=_s(any6), asn=raw["asn"],
        pxe_ipv4=_s(pxe4 or any4), pxe_ipv6=_s(pxe6 or any6), http_port=pxe.get("http_port") or 80)


def _s(address):
    return None if address is None else str(address)


def _dhcp_node(raw, source, label, fabric_asn, problems):
    check = _Checker(problems, source, label)
    raw = check.fields(raw, "dhcp_node")
    if not check.ok:
        return None
    check.hostname(raw["name"], "name")
    address = check.ip(raw["address"], "address", 4)
    address6 = check.ip(raw.get("address6"), "address6", 6)
    check.asn(raw.get("asn"), "asn")
    peers = []
    seen = set()
    for index, peer_raw in enumerate(raw.get("peers") or []):
        where = "peers[%d]." % index
        peer_raw = check.fields(peer_raw, "peer", where)
        if not check.ok:
            continue
        peer = check.ip(peer_raw["address"], where + "address")
        check.asn(peer_raw["asn"], where + "asn")
        if peer is not None:
            if str(peer) in seen:
                check.fail(where + "address", "peer %s is listed twice" % peer)
            if str(peer) in (str(address), str(address6)):
                check.fail(where + "address", "peer %s is the node's own address" % peer)
            seen.add(str(peer))
            peers.append(Peer(str(peer), peer_raw["asn"], peer_raw.get("name")))
    if not check.ok:
        return None
    return DhcpNode(name=raw["name"], address=str(address), address6=_s(address6),
                    asn=raw.get("asn") or fabric_asn, peers=tuple(peers), source=source)


def _subnet(raw, check, fieldname, version):
    raw = check.fields(raw, "subnet", fieldname + ".")
    if not check.ok:
        return None, None
    prefix = check.prefix(raw["prefix"], fieldname + ".prefix", version)
    gateway = check.ip(raw["gateway"], fieldname + ".gateway", version)
    if prefix is None or gateway is None:
        return None, None
    if gateway not in prefix:
        check.fail(fieldname + ".gateway", "%s is outside the network's prefix %s" % (gateway, prefix))
    elif version == 4 and prefix.prefixlen < 31 and gateway in (prefix.network, prefix.broadcast):
        check.fail(fieldname + ".gateway", "%s is the network or broadcast address of %s" % (gateway, prefix))
    pool = raw.get("pool")
    if pool is not None:
        try:
            first, last = (IPAddress(part.strip()) for part in pool.split("-"))
            pool_range = IPRange(first, last)
        except (AddrFormatError, ValueError, TypeError):
            check.fail(fieldname + ".pool", "%r is not a range 'first-last' of IPv%d addresses" % (pool, version))
        else:
            if pool_range.version != version or pool_range not in prefix:
                check.fail(fieldname + ".pool", "%s is outside the network's prefix %s" % (pool, prefix))
            elif gateway in pool_range:
                check.fail(fieldname + ".pool", "%s contains the gateway %s" % (pool, gateway))
            pool = "%s-%s" % (first, last)
    return Subnet(str(prefix.cidr), str(gateway), pool), prefix


def _network(raw, source, label, problems):
    check = _Checker(problems, source, label)
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
        if not isinstance(server, str):
            check.fail("dns_servers[%d]" % index, "must be a string, got %s" % _describe(server))
            continue
        address = check.ip(server, "dns_servers[%d]" % index)
        if address is not None:
            dns.append(str(address))
    if raw.get("domain") is not None:
        check.hostname(raw["domain"], "domain")
    if not check.ok:
        return None, None, None
    network = Network(name=raw["name"], ipv4=ipv4, ipv6=ipv6, dns_servers=tuple(dns),
                      domain=raw.get("domain"), source=source)
    return network, net4, net6


def _profile(name, raw, source, problems):
    check = _Checker(problems, source, "profiles.%s" % name)
    check.group_name(name, "")
    raw = check.fields(raw, "profile")
    if not check.ok:
        return None
    check.choice(raw["installer"], "installer", INSTALLERS)
    packages = raw.get("packages") or []
    for index, package in enumerate(packages):
        if not isinstance(package, str) or not re.match(r"^[A-Za-z0-9@][A-Za-z0-9_.+:@-]*$", package):
            check.fail("packages[%d]" % index, "%r is not a package name" % (package,))
    for key in ("kernel", "initrd", "template"):
        value = raw.get(key)
        if isinstance(value, str) and (not value.strip() or "\n" in value or ".." in value.split("/")):
            check.fail(key, "%r is not a usable path or URL (empty, multi-line or with '..')" % value)
    if not check.ok:
        return None
    return Profile(name=name, installer=raw["installer"], kernel=raw["kernel"], initrd=raw["initrd"],
                   cmdline=raw.get("cmdline") or "", disk=raw.get("disk") or "/dev/sda",
                   packages=tuple(packages), template=raw.get("template"), source=source)


def _machine(raw, source, label, networks, profiles, problems):
    check = _Checker(problems, source, label)
    raw = check.fields(raw, "machine")
    bmc_raw = check.fields(raw.get("bmc") or {}, "bmc", "bmc.") if raw.get("bmc") is not None else {}
    if not check.ok:
        return None
    check.hostname(raw["name"], "name")
    try:
        mac = str(EUI(raw["mac"], version=48, dialect=mac_unix_expanded))
    except (AddrFormatError, ValueError, TypeError):
        check.fail("mac", "%r is not a valid MAC address" % raw["mac"])
        mac = None
    if mac is not None and int(mac[:2], 16) & 1:
        check.fail("mac", "%s is a multicast address, not a NIC's" % mac)
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
    if raw.get("rack") is not None:
        check.group_name(raw["rack"], "rack")
    for key, value in (raw.get("labels") or {}).items():
        if not isinstance(key, str) or not _LABEL_KEY_RE.match(key):
            check.fail("labels", "label name %r must be a word (letters, digits, '_', '-', '.')" % (key,))
        elif not isinstance(value, (str, int, float, bool)):
            check.fail("labels." + key, "must be a string, number or boolean, got %s" % _describe(value))

    if raw["network"] not in networks:
        check.fail("network", "unknown network %r (known: %s)" % (raw["network"], _known(networks)))
    else:
        # None: the network exists but failed its own validation; skip the address checks.
        network = networks[raw["network"]]
        for version, address in ((4, ipv4), (6, ipv6)):
            if address is not None and network is not None:
                _check_in_network(check, address, version, network)
    if raw["profile"] not in profiles:
        check.fail("profile", "unknown profile %r (known: %s)" % (raw["profile"], _known(profiles)))

    bmc = None
    if raw.get("bmc") is not None:
        if isinstance(bmc_raw.get("address"), str):
            address = bmc_raw["address"]
            if ":" in address or re.match(r"^[0-9.]+$", address):
                check.ip(address, "bmc.address")
            else:
                check.hostname(address, "bmc.address")
        check.choice(bmc_raw.get("protocol"), "bmc.protocol", BMC_PROTOCOLS)
        check.port(bmc_raw.get("port"), "bmc.port")
        if check.ok:
            bmc = Bmc(bmc_raw["address"].lower(), bmc_raw["protocol"], bmc_raw.get("port"))
    if not check.ok:
        return None
    return Machine(name=raw["name"], mac=mac, network=raw["network"], profile=raw["profile"],
                   firmware=raw["firmware"], bmc=bmc, ipv4=_s(ipv4), ipv6=_s(ipv6), duid=duid,
                   rack=raw.get("rack"), labels=dict(raw.get("labels") or {}), source=source)


def _check_in_network(check, address, version, network):
    subnet, prefix = (network.record.ipv4, network.net4) if version == 4 else (network.record.ipv6, network.net6)
    fieldname = "ipv%d" % version
    if prefix is None:
        check.fail(fieldname, "network %r has no IPv%d prefix" % (network.record.name, version))
    elif address not in prefix:
        check.fail(fieldname, "%s is outside network %r (%s)" % (address, network.record.name, prefix.cidr))
    elif version == 4 and prefix.prefixlen < 31 and address in (prefix.network, prefix.broadcast):
        check.fail(fieldname, "%s is the network or broadcast address of %s" % (address, prefix.cidr))
    elif str(address) == subnet.gateway:
        check.fail(fieldname, "%s is the gateway of network %r" % (address, network.record.name))


def _known(mapping) -> str:
    names = sorted(mapping)
    return ", ".join(names[:10]) + (", ..." if len(names) > 10 else "") if names else "none defined"


# --------------------------------------------------------------------------
# Cross-record checks
# --------------------------------------------------------------------------

def _unique(records, key, fieldname, kind, problems, seen=None):
    """Report every record whose key was already used, naming the first user."""
    seen = {} if seen is None else seen
    for record, label in records:
        value = key(record)
        if value is None:
            continue
        if value in seen:
            problems.append(Problem(record.source, label, fieldname,
                                    "%s %s is also used by %s" % (kind, value, seen[value])))
        else:
            seen[value] = label
    return seen


def _overlaps(prefixes, problems, version):
    """prefixes: (IPNetwork, network record, label). Sort by start; compare with the widest so far."""
    ordered = sorted(prefixes, key=lambda item: (item[0].first, -item[0].last))
    widest = None
    for prefix, network, label in ordered:
        if widest is not None and prefix.first <= widest[0].last:
            problems.append(Problem(network.source, label, "ipv%d.prefix" % version,
                                    "%s overlaps %s of %s" % (prefix.cidr, widest[0].cidr, widest[2])))
        if widest is None or prefix.last > widest[0].last:
            widest = (prefix, network, label)


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------

def load(path: str) -> Sot:
    """Load and validate the SoT at path (file or directory). Raises SotError."""
    if not HAS_NETADDR:
        raise ImportError("netboot.fleet needs the Python library netaddr (pip install netaddr)")
    problems = []
    files = source_files(path)
    if not files:
        raise SotError([Problem(path, "source", "", "holds no .yml, .yaml or .json file")])
    if not os.path.exists(path):
        raise SotError([Problem(path, "source", "", "does not exist")])

    fabric_raw = None
    fabric_source = None
    node_raws, network_raws, machine_raws = [], [], []
    profile_raws = {}
    for source in files:
        data = _read(source, problems)
        if data is None:
            continue
        data = _Checker(problems, source, "file").fields(data, "top")
        for key in ("dhcp_nodes", "networks", "machines"):
            if not isinstance(data.get(key), list):
                continue
            target = {"dhcp_nodes": node_raws, "networks": network_raws, "machines": machine_raws}[key]
            target.extend((raw, source, _label(key, index, raw)) for index, raw in enumerate(data[key]))
        if isinstance(data.get("profiles"), dict):
            for name, raw in data["profiles"].items():
                if name in profile_raws:
                    problems.append(Problem(source, "profiles.%s" % name, "",
                                            "is also defined in %s" % profile_raws[name][1]))
                else:
                    profile_raws[name] = (raw, source)
        if isinstance(data.get("fabric"), dict):
            if fabric_raw is not None:
                problems.append(Problem(source, "fabric", "", "is also defined in %s" % fabric_source))
            else:
                fabric_raw, fabric_source = data["fabric"], source

    if fabric_raw is None:
        problems.append(Problem(files[0] if len(files) == 1 else path, "fabric", "", "is required (anycast, asn)"))
        fabric = None
    else:
        fabric = _fabric(fabric_raw, fabric_source, problems)
    fabric_asn = fabric.asn if fabric else None

    nodes = [(node, label) for raw, source, label in node_raws
             for node in [_dhcp_node(raw, source, label, fabric_asn, problems)] if node is not None]

    networks = {}
    for raw, source, label in network_raws:
        record, net4, net6 = _network(raw, source, label, problems)
        if record is None:
            continue
        if record.name in networks:
            problems.append(Problem(source, label, "name", "network %s is also defined as %s"
                                    % (record.name, networks[record.name].label)))
        else:
            networks[record.name] = _ParsedNetwork(record, net4, net6, label)
    for version in (4, 6):
        _overlaps([(getattr(n, "net%d" % version), n.record, n.label) for n in networks.values()
                   if getattr(n, "net%d" % version) is not None], problems, version)

    profiles = {}
    for name, (raw, source) in profile_raws.items():
        profile = _profile(name, raw, source, problems)
        if profile is not None:
            profiles[name] = profile
    # A machine naming a network or profile that failed its own validation gets no second,
    # misleading "unknown" error: look names up among everything that was declared.
    declared_networks = {raw.get("name"): None for raw, _source, _label in network_raws if isinstance(raw, dict)}
    declared_networks.update(networks)

    machines = []
    for raw, source, label in machine_raws:
        machine = _machine(raw, source, label, declared_networks, profile_raws, problems)
        if machine is not None:
            machines.append((machine, label))

    _cross_checks(fabric, nodes, machines, networks, problems)
    if problems:
        raise SotError(problems)
    return Sot(
        fabric=fabric,
        dhcp_nodes=tuple(sorted((node for node, _ in nodes), key=lambda n: n.name)),
        networks=tuple(sorted((parsed.record for parsed in networks.values()), key=lambda n: n.name)),
        profiles=tuple(sorted(profiles.values(), key=lambda p: p.name)),
        machines=tuple(sorted((machine for machine, _ in machines), key=lambda m: m.name)),
        sources=tuple(files),
    )


@dataclass(frozen=True)
class _ParsedNetwork:
    """A valid network with its netaddr prefixes, kept only while loading."""
    record: Network
    net4: Any
    net6: Any
    label: str


def _cross_checks(fabric, nodes, machines, networks, problems):
    names = _unique(nodes, lambda n: n.name, "name", "name", problems)
    _unique(machines, lambda m: m.name, "name", "name", problems, seen=names)
    _unique(machines, lambda m: m.mac, "mac", "MAC", problems)
    _unique(machines, lambda m: m.duid, "duid", "DUID", problems)
    _unique(machines, lambda m: (m.bmc.address, m.bmc.port or 0), "bmc.address", "BMC", problems)
    service = {}
    if fabric is not None:
        for address, what in ((fabric.anycast_ipv4, "the anycast IPv4 address"),
                              (fabric.anycast_ipv6, "the anycast IPv6 address")):
            if address:
                service[address] = "fabric (%s)" % what
    for network in networks.values():
        for family in (network.record.ipv4, network.record.ipv6):
            if family is not None:
                service.setdefault(family.gateway, "%s (gateway)" % network.label)
    seen4 = _unique(nodes, lambda n: n.address, "address", "address", problems, seen=dict(service))
    _unique(machines, lambda m: m.ipv4, "ipv4", "address", problems, seen=seen4)
    seen6 = _unique(nodes, lambda n: n.address6, "address6", "address", problems, seen=dict(service))
    _unique(machines, lambda m: m.ipv6, "ipv6", "address", problems, seen=seen6)
