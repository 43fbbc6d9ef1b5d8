# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render ISC Kea DHCPv4/DHCPv6 configuration from the source of truth.

Pure: a validated Sot (plugins/module_utils/sot/) and server Settings in, a
``{"Dhcp4": ...}`` / ``{"Dhcp6": ...}`` dict out. No I/O, no Ansible. Lists are
sorted and dumps() sorts keys, so two renders of the same SoT are byte-identical.

Where each part of the config comes from (one hop):
  subnets ............ _subnet4() / _subnet6(), id from subnet_id()
  reservations ....... _reservation4() / _reservation6()
  PXE client classes . _client_classes4() / _client_classes6()
  server settings .... _server4() / _server6() from Settings
  boot URLs .......... http_url(), ipxe_script_url()
  hosts-db mode ...... _use_hosts_database(), _hosts_database() (Settings.hosts_backend)

Two modes, same SoT: "json" puts the reservations inline in each subnet; "postgresql" leaves
them out and points Kea at a shared PostgreSQL host database ("hosts-databases") that
plugins/module_utils/kea/hostsdb.py fills from the very reservations the json mode renders.

Targets Kea 2.2 (Debian 12) and stays valid for later releases.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields

from ansible_collections.netboot.fleet.plugins.module_utils.gc_pause import cyclic_gc_paused
from ansible_collections.netboot.fleet.plugins.module_utils.kea.families import FAMILIES
from ansible_collections.netboot.fleet.plugins.module_utils import settings as settings_spec
from ansible_collections.netboot.fleet.plugins.module_utils.problems import ProblemsError
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import layout
from ansible_collections.netboot.fleet.plugins.module_utils.pxe.escape import LINE_BREAK_RE

try:
    from netaddr import IPAddress, IPNetwork
    HAS_NETADDR = True
except ImportError:  # pragma: no cover - reported by callers with an install hint
    HAS_NETADDR = False


# Marks a config as ours. Kea keeps user-context through config-get/config-write, so the
# kea_dhcp role can tell its own (possibly Kea-written) config from the package's sample.
MANAGED_MARKER = {"netboot-fleet": {"managed": True}}

# Client class tests. iPXE sends option 77 "iPXE" (DHCPv4) / user class "iPXE" (DHCPv6,
# each entry prefixed by a 2-byte length); firmware sends its architecture in option 93/61.
IPXE4 = "substring(option[77].hex,0,4) == 'iPXE'"
IPXE6 = "substring(option[15].hex,2,4) == 'iPXE'"
NOT_IPXE = "not member('ipxe')"
ARCH_BIOS = 0x0000
ARCH_UEFI_X64 = (0x0007, 0x0009)
ARCH_UEFI_HTTP_X64 = 0x0010

# Kea stores subnet ids as uint32, the PostgreSQL host database as a signed INT: ids used by
# the hosts-db mode must fit 1..2^31-1.
SUBNET_ID_MAX = 0x7FFFFFFF

HOSTS_BACKENDS = ("json", "postgresql")
# Kea's on-fail choices for a lost host database. stop-retry-exit (Kea's default, ours too):
# stop answering, retry, then exit - a node without its reservations must not hand out pool
# addresses to machines that have reservations; the anycast health check withdraws it.
HOSTS_DB_ON_FAIL = ("stop-retry-exit", "serve-retry-exit", "serve-retry-continue")


class KeaRenderError(ProblemsError, ValueError):
    """The SoT cannot be rendered (e.g. two prefixes map to one subnet id). .problems lists all."""

    HEADER = "%d problem(s) rendering the Kea configuration:"


@dataclass(frozen=True)
class Settings:
    """Server settings that do not come from the SoT (role variables). Defaults fit Debian's
    packaged Kea: paths are the ones its AppArmor profiles allow."""
    interfaces4: tuple = ("*",)
    interfaces6: tuple = ("*",)
    # udp: relayed unicast to the anycast address is read from a normal socket (raw sockets
    # leave it unread); the only sensible choice behind rack relays.
    dhcp_socket_type: str = field(default="udp", metadata={"choices": ["udp", "raw"]})
    control_socket4: str = "/run/kea/kea4-ctrl-socket"
    control_socket6: str = "/run/kea/kea6-ctrl-socket"
    lease_file4: str = "/var/lib/kea/kea-leases4.csv"
    lease_file6: str = "/var/lib/kea/kea-leases6.csv"
    data_directory: str = "/var/lib/kea"
    lfc_interval: int = 3600
    valid_lifetime: int = 3600
    renew_timer: int = 900
    rebind_timer: int = 1800
    preferred_lifetime: int = 3000
    multi_threading: bool = True
    thread_pool_size: int = 0
    packet_queue_size: int = 64
    log_output: str = "stdout"
    log_severity: str = "INFO"
    boot_file_bios: str = layout.BOOT_FILE_BIOS
    boot_file_uefi: str = layout.BOOT_FILE_UEFI
    http_boot_file: str = layout.HTTP_BOOT_FILE
    ipxe_entry_script: str = layout.ENTRY_SCRIPT
    server_duid: str | None = None
    # Where reservations live: "json" (inline, applied with config-set) or "postgresql" (a shared
    # host database Kea reads per request; synced by the kea_hosts module, no reload).
    hosts_backend: str = field(default="json", metadata={"choices": list(HOSTS_BACKENDS)})
    hosts_db_name: str = "kea"
    # A directory is a Unix socket (libpq); anything else a host name or address for TCP.
    hosts_db_host: str = "/run/postgresql"
    hosts_db_port: int = 5432
    hosts_db_user: str = "kea"
    hosts_db_password: str | None = field(default=None, repr=False, metadata={"no_log": True})
    hosts_db_connect_timeout: int = 5
    hosts_db_on_fail: str = field(default="stop-retry-exit", metadata={"choices": list(HOSTS_DB_ON_FAIL)})
    # Ride out a short outage (a primary failover) without serving, then exit: 10 x 1 s.
    hosts_db_max_reconnect_tries: int = 10
    hosts_db_reconnect_wait_time: int = 1000

    @classmethod
    def from_dict(cls, raw: dict | None) -> "Settings":
        """Settings from module or role options, typed by the argument spec of this class."""
        return settings_spec.from_options(cls, raw, KeaRenderError)

    def problems(self) -> list:
        found = settings_spec.negative_integers(self)
        found.extend("settings.%s: must not be empty" % item.name for item in fields(self)
                     if getattr(self, item.name) == "")
        if self.server_duid is not None:
            try:
                kea_server_id(self.server_duid)
            except ValueError as exc:
                found.append("settings.server_duid: %s" % exc)
        return found


# --------------------------------------------------------------------------
# Identifiers and URLs shared with other renderers
# --------------------------------------------------------------------------

def subnet_id(prefix: str) -> int:
    """The Kea subnet id of a prefix: a function of its network address only, so it is stable
    across renders, independent of record order, and host-database rows stay valid.

    IPv4: the network address / 2. Non-overlapping prefixes up to /31 have distinct even
    network addresses, so IPv4 ids never collide, and fit the signed 32-bit column.
    IPv6: 31 bits of SHA-256 of the network address; render() reports any collision.
    Returns 0 when the prefix has no usable id (only 0.0.0.0/31-sized corner cases).
    """
    network = IPNetwork(prefix)
    if network.version == 4:
        return int(network.network) >> 1
    digest = hashlib.sha256(network.network.packed).digest()
    return int.from_bytes(digest[:4], "big") % SUBNET_ID_MAX + 1


def http_url(address: str, port: int, path: str) -> str:
    """http://<address>[:port]/<path>, IPv6 literals in brackets, port only when not 80."""
    host = "[%s]" % address if ":" in address else address
    return "http://%s%s/%s" % (host, "" if port == 80 else ":%d" % port, path.lstrip("/"))


def ipxe_script_url(address: str, port: int, mac: str) -> str:
    """The per-machine iPXE script URL: http://<pxe addr>[:port]/<layout.script_path(mac)>. boot.ipxe chains
    there with ${net0/mac}, which iPXE expands to the same form."""
    return http_url(address, port, layout.script_path(mac))


def kea_server_id(duid: str) -> dict:
    """Kea's "server-id" map for a DUID given as colon-separated hex (types LLT, EN, LL)."""
    try:
        octets = bytes(int(part, 16) for part in duid.split(":"))
    except ValueError:
        raise ValueError("%r is not a DUID (hex octets separated by ':')" % duid)
    duid_type = int.from_bytes(octets[:2], "big") if len(octets) >= 2 else None
    if duid_type == 1 and len(octets) > 8:
        return {"type": "LLT", "htype": int.from_bytes(octets[2:4], "big"),
                "time": int.from_bytes(octets[4:8], "big"), "identifier": octets[8:].hex(), "persist": False}
    if duid_type == 2 and len(octets) > 6:
        return {"type": "EN", "enterprise-id": int.from_bytes(octets[2:6], "big"),
                "identifier": octets[6:].hex(), "persist": False}
    if duid_type == 3 and len(octets) > 4:
        return {"type": "LL", "htype": int.from_bytes(octets[2:4], "big"),
                "identifier": octets[4:].hex(), "persist": False}
    raise ValueError("%r is not a DUID-LLT (00:01), DUID-EN (00:02) or DUID-LL (00:03) with an identifier" % duid)


def default_server_duid(fabric) -> str:
    """A DUID-LL every node derives alike from the anycast address (02 + its last 5 octets),
    so all DHCPv6 nodes present one server identity without extra configuration."""
    if fabric.anycast_ipv6:
        tail = IPAddress(fabric.anycast_ipv6).packed[-5:]
    else:
        tail = b"\x00" + IPAddress(fabric.anycast_ipv4).packed
    return ":".join("%02x" % octet for octet in b"\x00\x03\x00\x01\x02" + tail)


# --------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------

def render(sot, family: str, settings: Settings | None = None) -> dict:
    """{"Dhcp4": ...} for family "dhcp4", {"Dhcp6": ...} for "dhcp6"."""
    if not HAS_NETADDR:
        raise ImportError("netboot.fleet needs the Python library netaddr on the controller (pip install netaddr)")
    if family == "dhcp4":
        return render_dhcp4(sot, settings)
    if family == "dhcp6":
        return render_dhcp6(sot, settings)
    raise ValueError("family must be one of %s, got %r" % (", ".join(FAMILIES), family))


@cyclic_gc_paused()
def render_dhcp4(sot, settings: Settings | None = None) -> dict:
    settings = settings or Settings()
    networks = [network for network in sot.networks if network.ipv4 is not None]
    ids = _subnet_ids(networks, "ipv4")
    by_network = _machines_by_network(sot.machines, "ipv4")
    subnets = [_subnet4(network, ids[network.name], by_network.get(network.name, ())) for network in networks]
    config = _server4(sot.fabric, settings)
    _set_classes(config, _client_classes4(sot.fabric, settings))
    config["subnet4"] = sorted(subnets, key=lambda subnet: subnet["id"])
    if settings.hosts_backend == "postgresql":
        _use_hosts_database(config, "subnet4", settings)
    return {"Dhcp4": config}


@cyclic_gc_paused()
def render_dhcp6(sot, settings: Settings | None = None) -> dict:
    settings = settings or Settings()
    networks = [network for network in sot.networks if network.ipv6 is not None]
    ids = _subnet_ids(networks, "ipv6")
    by_network = _machines_by_network(sot.machines, "ipv6")
    subnets = [_subnet6(network, ids[network.name], by_network.get(network.name, ())) for network in networks]
    config = _server6(sot, settings)
    _set_classes(config, _client_classes6(sot.fabric, settings))
    config["subnet6"] = sorted(subnets, key=lambda subnet: subnet["id"])
    if settings.hosts_backend == "postgresql":
        _use_hosts_database(config, "subnet6", settings)
    return {"Dhcp6": config}


@cyclic_gc_paused()
def dumps(config: dict, pretty: bool = False) -> str:
    """The canonical text of a rendered config: keys sorted; compact unless pretty."""
    if pretty:
        return json.dumps(config, sort_keys=True, indent=1) + "\n"
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


# --------------------------------------------------------------------------
# Subnets and reservations
# --------------------------------------------------------------------------

def _subnet_ids(networks, family) -> dict:
    """network name -> subnet id; raises KeaRenderError naming every collision."""
    ids, owners, problems = {}, {}, []
    for network in networks:
        prefix = getattr(network, family).prefix
        ident = subnet_id(prefix)
        if ident < 1:
            problems.append("networks %s: %s.prefix %s has no usable Kea subnet id (derived id %d); "
                            "use another prefix" % (network.name, family, prefix, ident))
        elif ident in owners:
            other = owners[ident]
            problems.append("networks %s: %s.prefix %s maps to subnet id %d, which network %s (%s) already "
                            "has; renumber one of the two prefixes"
                            % (network.name, family, prefix, ident, other.name, getattr(other, family).prefix))
        else:
            owners[ident] = network
        ids[network.name] = ident
    if problems:
        raise KeaRenderError(problems)
    return ids


def reservations(networks, machines, family: str) -> dict:
    """{subnet id (text): [reservation]} of these networks, exactly as render() lists them in each subnet,
    [] for a subnet without any; a network without a prefix of the family is left out. machines: at least
    every machine of these networks. What the host database holds, without rendering whole subnets.
    Raises KeaRenderError as render() does when two of these networks map to one subnet id."""
    key, build = ("ipv4", _reservations4) if family == "dhcp4" else ("ipv6", _reservations6)
    ids = _subnet_ids([network for network in networks if getattr(network, key) is not None], key)
    by_network = _machines_by_network(machines, key)
    return {str(ident): build(by_network.get(name, ())) for name, ident in ids.items()}


def _machines_by_network(machines, family) -> dict:
    grouped = {}
    for machine in machines:
        if getattr(machine, family) is not None:
            grouped.setdefault(machine.network, []).append(machine)
    return grouped


def _pools(subnet):
    return [{"pool": subnet.pool}] if subnet.pool else []


def _option_data(network, fieldname, values) -> str:
    """values as the data of one option. Kea splits option data at commas: a value holding one, or a line
    break, would add option values of its own. The loader refuses such values first; this holds without it."""
    for value in values:
        if type(value) is not str or not value or "," in value or LINE_BREAK_RE.search(value):
            raise KeaRenderError(["%s: networks %s.%s: %s cannot be written into Kea option data (a comma or a "
                                  "line break)" % (network.source, network.name, fieldname, ascii(value)[:80])])
    return ", ".join(values)


def _subnet4(network, ident, machines) -> dict:
    subnet = network.ipv4
    options = [{"name": "routers", "data": subnet.gateway}]
    dns = [server for server in network.dns_servers if ":" not in server]
    if dns:
        options.append({"name": "domain-name-servers", "data": _option_data(network, "dns_servers", dns)})
    if network.domain:
        options.append({"name": "domain-name", "data": _option_data(network, "domain", [network.domain])})
    reservations = _reservations4(machines)
    return {
        "id": ident,
        "subnet": subnet.prefix,
        # Rack switches relay with their own address as giaddr: that selects the subnet.
        "relay": {"ip-addresses": [subnet.gateway]},
        "pools": _pools(subnet),
        "option-data": options,
        "reservations": reservations,
        # The loader keeps reserved addresses out of the pools (sot/records.py check_in_network): Kea may skip
        # the check that a pool address is reserved for someone else.
        "reservations-out-of-pool": True,
        "user-context": {"network": network.name},
    }


def _reservations4(machines) -> list:
    return sorted((_reservation4(machine) for machine in machines), key=lambda r: r["hw-address"])


def _reservation4(machine) -> dict:
    return {"hw-address": machine.mac, "ip-address": machine.ipv4, "hostname": machine.name}


def _subnet6(network, ident, machines) -> dict:
    subnet = network.ipv6
    options = []
    dns = [server for server in network.dns_servers if ":" in server]
    if dns:
        options.append({"name": "dns-servers", "data": _option_data(network, "dns_servers", dns)})
    if network.domain:
        options.append({"name": "domain-search", "data": _option_data(network, "domain", [network.domain])})
    reservations = _reservations6(machines)
    return {
        "id": ident,
        "subnet": subnet.prefix,
        "relay": {"ip-addresses": [subnet.gateway]},
        "pools": _pools(subnet),
        "option-data": options,
        "reservations": reservations,
        "reservations-out-of-pool": True,  # as in _subnet4
        "user-context": {"network": network.name},
    }


def _reservations6(machines) -> list:
    return sorted((_reservation6(machine) for machine in machines), key=lambda r: r.get("duid", r.get("hw-address")))


def _reservation6(machine) -> dict:
    # Kea takes one identifier per reservation: the DUID when the SoT knows it, else the MAC
    # (matched through "mac-sources", see _server6).
    identifier = {"duid": machine.duid} if machine.duid else {"hw-address": machine.mac}
    identifier.update({"ip-addresses": [machine.ipv6], "hostname": machine.name})
    return identifier


# --------------------------------------------------------------------------
# PXE client classes
# --------------------------------------------------------------------------

def _set_classes(config, classes):
    # Kea 2.2's grammar rejects an empty "client-classes" list: leave the key out instead.
    if classes:
        config["client-classes"] = classes


def _arch_test(option, codes) -> str:
    tests = ["option[%d].hex == 0x%04x" % (option, code) for code in codes]
    return tests[0] if len(tests) == 1 else "(%s)" % " or ".join(tests)


def _client_classes4(fabric, settings) -> list:
    """In evaluation order. Every firmware class excludes iPXE, which also sends option 93."""
    pxe = fabric.pxe_ipv4
    if not pxe:
        return []
    return [
        {   # iPXE (from any firmware): fetch the entry script, which chains to the per-host one.
            "name": "ipxe",
            "test": IPXE4,
            "boot-file-name": http_url(pxe, fabric.http_port, settings.ipxe_entry_script),
            # Option 175 sub-option 176 no-pxedhcp=1: iPXE skips waiting ~3 s for ProxyDHCP.
            "option-data": [{"name": "ipxe-encap-opts", "always-send": True},
                            {"name": "no-pxedhcp", "space": "ipxe", "data": "1", "always-send": True}],
        },
        {   # UEFI HTTP boot: the firmware downloads the URL itself and needs "HTTPClient" echoed.
            "name": "uefi-http",
            "test": "%s and substring(option[60].hex,0,10) == 'HTTPClient' and %s"
                    % (_arch_test(93, [ARCH_UEFI_HTTP_X64]), NOT_IPXE),
            "boot-file-name": http_url(pxe, fabric.http_port, settings.http_boot_file),
            "option-data": [{"name": "vendor-class-identifier", "data": "HTTPClient", "always-send": True}],
        },
        {
            "name": "uefi-x64",
            "test": "%s and %s" % (_arch_test(93, ARCH_UEFI_X64), NOT_IPXE),
            "next-server": pxe,
            "boot-file-name": settings.boot_file_uefi,
        },
        {
            "name": "bios",
            "test": "%s and %s" % (_arch_test(93, [ARCH_BIOS]), NOT_IPXE),
            "next-server": pxe,
            "boot-file-name": settings.boot_file_bios,
        },
    ]


def _client_classes6(fabric, settings) -> list:
    """Option 59 bootfile-url, chosen by the iPXE user class first, then option 61 arch."""
    pxe = fabric.pxe_ipv6
    if not pxe:
        return []
    host = "[%s]" % pxe

    def bootfile(url):
        return [{"name": "bootfile-url", "data": url}]
    return [
        {"name": "ipxe", "test": IPXE6,
         "option-data": bootfile(http_url(pxe, fabric.http_port, settings.ipxe_entry_script))},
        {"name": "uefi-http", "test": "%s and %s" % (_arch_test(61, [ARCH_UEFI_HTTP_X64]), NOT_IPXE),
         "option-data": bootfile(http_url(pxe, fabric.http_port, settings.http_boot_file))},
        {"name": "uefi-x64", "test": "%s and %s" % (_arch_test(61, ARCH_UEFI_X64), NOT_IPXE),
         "option-data": bootfile("tftp://%s/%s" % (host, settings.boot_file_uefi))},
    ]


# --------------------------------------------------------------------------
# Server settings
# --------------------------------------------------------------------------

def _common(settings, daemon, control_socket, lease_file) -> dict:
    config = {
        "control-socket": {"socket-type": "unix", "socket-name": control_socket},
        "lease-database": {"type": "memfile", "persist": True, "name": lease_file,
                           "lfc-interval": settings.lfc_interval},
        "multi-threading": {"enable-multi-threading": settings.multi_threading,
                            "thread-pool-size": settings.thread_pool_size,
                            "packet-queue-size": settings.packet_queue_size},
        "valid-lifetime": settings.valid_lifetime,
        "renew-timer": settings.renew_timer,
        "rebind-timer": settings.rebind_timer,
        # Reservations live in their subnets only: one lookup per packet, no global scan.
        "reservations-global": False,
        "reservations-in-subnet": True,
        "loggers": [{
            "name": daemon,
            "severity": settings.log_severity,
            # One line per event, ISO-8601 time, fixed fields: easy to split or ship as JSON.
            "output_options": [{"output": settings.log_output,
                                "pattern": "%D{%Y-%m-%dT%H:%M:%S.%q} %-5p [%c/%i.%t] %m\n"}],
        }],
        "user-context": MANAGED_MARKER,
    }
    return config


# Kea opens a socket per address once at start: an address still tentative then (IPv6 DAD on a
# node's uplink right after boot) would stay without a socket and every relayed answer would fail.
_SOCKET_RETRIES = {"service-sockets-max-retries": 60, "service-sockets-retry-wait-time": 1000}


def _server4(fabric, settings) -> dict:
    config = _common(settings, "kea-dhcp4", settings.control_socket4, settings.lease_file4)
    config.update({
        "interfaces-config": dict(_SOCKET_RETRIES, interfaces=sorted(settings.interfaces4),
                                  **{"dhcp-socket-type": settings.dhcp_socket_type}),
        "host-reservation-identifiers": ["hw-address"],
        "option-def": [
            {"name": "ipxe-encap-opts", "code": 175, "space": "dhcp4", "type": "empty", "encapsulate": "ipxe"},
            {"name": "no-pxedhcp", "code": 176, "space": "ipxe", "type": "uint8"},
        ],
        "option-data": [],
    })
    if fabric.anycast_ipv4:
        # Every node answers as the anycast address, so a REQUEST may land on any node.
        config["option-data"].append({"name": "dhcp-server-identifier", "data": fabric.anycast_ipv4})
    return config


def _server6(sot, settings) -> dict:
    config = _common(settings, "kea-dhcp6", settings.control_socket6, settings.lease_file6)
    uses_duid = any(machine.duid and machine.ipv6 for machine in sot.machines)
    config.update({
        "interfaces-config": dict(_SOCKET_RETRIES, interfaces=sorted(settings.interfaces6)),
        "preferred-lifetime": settings.preferred_lifetime,
        "data-directory": settings.data_directory,
        # One DUID for every node: clients see one DHCPv6 server behind the anycast address.
        "server-id": kea_server_id(settings.server_duid or default_server_duid(sot.fabric)),
        "host-reservation-identifiers": (["duid"] if uses_duid else []) + ["hw-address"],
        # A relayed client's MAC: the relay's client link-layer option (RFC 6939) first, then
        # a DUID-LL/LLT, then the EUI-64 peer link-local address.
        "mac-sources": ["client-link-addr-option", "duid", "ipv6-link-local"],
    })
    return config


# --------------------------------------------------------------------------
# hosts-db mode
# --------------------------------------------------------------------------

def _use_hosts_database(config, subnet_key, settings):
    """Turn a json-mode config into the hosts-db one: same subnets (same stable ids, which the
    database rows reference), no inline reservations, Kea reading the shared host database."""
    for subnet in config[subnet_key]:
        del subnet["reservations"]
        # Reservations now change without a new config: Kea may skip the "is this pool address
        # reserved for someone else" lookup only where no pool exists to collide with.
        subnet["reservations-out-of-pool"] = not subnet["pools"]
    if subnet_key == "subnet6":
        # A DUID reservation may arrive in the database at any time: match on both identifiers.
        config["host-reservation-identifiers"] = ["duid", "hw-address"]
    # The list form is what config-get returns, so a running config compares equal.
    config["hosts-databases"] = [_hosts_database(settings)]


def _hosts_database(settings) -> dict:
    database = {
        "type": "postgresql",
        "name": settings.hosts_db_name,
        "host": settings.hosts_db_host,
        "user": settings.hosts_db_user,
        # Kea's nodes only read: with readonly Kea needs nothing but SELECT on the host tables.
        "readonly": True,
        "connect-timeout": settings.hosts_db_connect_timeout,
        "on-fail": settings.hosts_db_on_fail,
        "max-reconnect-tries": settings.hosts_db_max_reconnect_tries,
        "reconnect-wait-time": settings.hosts_db_reconnect_wait_time,
    }
    if not settings.hosts_db_host.startswith("/"):
        database["port"] = settings.hosts_db_port
    if settings.hosts_db_password:
        database["password"] = settings.hosts_db_password
    return database
