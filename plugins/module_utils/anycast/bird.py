# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render an anycast DHCP node's BIRD2 configuration and health-check configuration from the SoT.

Pure: a validated Sot (plugins/module_utils/sot/), the node's name and Settings in, text or
a dict out. No I/O, no Ansible; two renders of the same input are identical.

Where each part comes from (one hop):
  router id, static anycast routes ... render_bird() -> _static()
  BFD timers ......................... _bfd()
  one eBGP session per SoT peer ...... _session(), name from session_name()
  what is exported ................... _export_filter(): only the anycast prefixes, and only while
                                       the health check's include defines NETBOOT_ANYCAST_ANNOUNCE true
  health-check probes ................ render_healthcheck() -> _probe4() / _probe6()
  Kea listening interfaces ........... kea_interfaces()

Targets BIRD 2.0 (Debian 12's bird2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields

from ansible_collections.netboot.fleet.plugins.module_utils import settings as settings_spec
from ansible_collections.netboot.fleet.plugins.module_utils.anycast.dhcp_probe import PROBE_MAC
from ansible_collections.netboot.fleet.plugins.module_utils.problems import ProblemsError
from ansible_collections.netboot.fleet.plugins.module_utils.sot.checks import parse_ip

ANNOUNCE_CONSTANT = "NETBOOT_ANYCAST_ANNOUNCE"
_NAME_RE = re.compile(r"[^A-Za-z0-9_]")
_TOKEN_RE = re.compile(r"[A-Za-z0-9._-]+\Z")
_DEVICE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")


class BgpRenderError(ProblemsError, ValueError):
    """The SoT or the settings cannot give this node a BGP configuration. .problems lists all."""

    HEADER = "%d problem(s) rendering the anycast BGP configuration:"


@dataclass(frozen=True)
class Settings:
    """Node settings that do not come from the SoT (role variables, documented in
    roles/anycast_bgp/meta/argument_specs.yml)."""
    anycast_device: str = "anycast0"
    announce_file: str = "/var/lib/netboot-anycast/announce.conf"
    drain_file: str = "/var/lib/netboot-anycast/drained"
    status_file: str = "/run/netboot-anycast/status.json"
    bird_socket: str = "/run/bird/bird.ctl"
    bird_log: str = "syslog"
    # Session timers: BFD detects a dead peer; these bound recovery when BFD cannot.
    hold_time: int = 9
    keepalive_time: int = 3
    connect_retry_time: int = 5
    # BIRD's default error wait (60-300 s) parks a session after a BFD-down; recover in 1-10 s.
    error_wait_min: int = 1
    error_wait_max: int = 10
    bfd: bool = True
    bfd_interval_ms: int = 100
    bfd_multiplier: int = 5
    # Health check: a round every interval; withdraw after `fall` failed rounds, announce after `rise`.
    check_interval: float = 0.3
    check_timeout: float = 0.25
    check_rise: int = 3
    check_fall: int = 2
    probe_mac: str = PROBE_MAC
    control_socket4: str = "/run/kea/kea4-ctrl-socket"
    control_socket6: str = "/run/kea/kea6-ctrl-socket"
    families: tuple = field(default=("dhcp4", "dhcp6"), metadata={"choices": ["dhcp4", "dhcp6"]})

    @classmethod
    def from_dict(cls, raw: dict | None) -> "Settings":
        """Settings from role options, typed by the argument spec of this class."""
        return settings_spec.from_options(cls, raw, BgpRenderError)

    def problems(self) -> list:
        found = settings_spec.negative_integers(self)
        # BIRD strings and file names: one line, no quote (the values are written inside "...").
        found.extend("settings.%s: %r must be one line without '\"'" % (item.name, getattr(self, item.name))
                     for item in fields(self) if isinstance(getattr(self, item.name), str)
                     and (not getattr(self, item.name) or "\n" in getattr(self, item.name) or '"' in getattr(self, item.name)))
        if self.check_interval <= 0 or self.check_timeout <= 0:
            found.append("settings.check_interval/check_timeout: both must be above 0")
        if not _DEVICE_RE.match(self.anycast_device):
            found.append("settings.anycast_device: %r is not an interface name (1-15 of A-Z a-z 0-9 _ . -)"
                         % self.anycast_device)
        if self.keepalive_time * 3 > self.hold_time and self.hold_time:
            found.append("settings.keepalive_time: %d must be at most a third of hold_time %d"
                         % (self.keepalive_time, self.hold_time))
        if self.error_wait_min > self.error_wait_max:
            found.append("settings.error_wait_min: %d is above error_wait_max %d"
                         % (self.error_wait_min, self.error_wait_max))
        if self.check_timeout >= self.check_interval * 2:
            found.append("settings.check_timeout: %s should stay below two check intervals (%s)"
                         % (self.check_timeout, self.check_interval * 2))
        if self.check_rise < 1 or self.check_fall < 1:
            found.append("settings.check_rise/check_fall: both must be at least 1")
        if not self.families:
            found.append("settings.families: name at least one of dhcp4, dhcp6")
        return found


# --------------------------------------------------------------------------
# Lookups shared by the renderers and the role
# --------------------------------------------------------------------------

def find_node(sot, name: str):
    """The SoT's dhcp_nodes record called name; BgpRenderError naming the known ones otherwise."""
    for node in sot.dhcp_nodes:
        if node.name == name:
            return node
    known = ", ".join(node.name for node in sot.dhcp_nodes) or "none defined"
    raise BgpRenderError(["dhcp_nodes: no node named %r (known: %s); the inventory host name must match a "
                          "dhcp_nodes record" % (name, known)])


def session_name(peer) -> str:
    """BIRD protocol name of the session to peer: its SoT name (or address), and the family."""
    base = _NAME_RE.sub("_", peer.name or "peer_" + peer.address)
    if not base[0].isalpha():
        base = "peer_" + base
    return "%s_v%d" % (base, 6 if ":" in peer.address else 4)


def kea_interfaces(sot, settings: Settings | None = None) -> dict:
    """What Kea must listen on at an anycast node (the kea_dhcp role's kea_dhcp_interfaces4/6).

    "*": relayed traffic enters on an uplink and Kea answers through that interface's socket.
    "lo", "lo/::1": the health probe arrives over loopback and is answered there.
    "<anycast device>/<anycast IPv6>": Kea binds only link-local addresses for "*"; relayed
    DHCPv6 to the anycast address needs this unicast socket.
    """
    settings = settings or Settings()
    interfaces6 = ["*", "lo/::1"]
    if sot.fabric.anycast_ipv6:
        interfaces6.append("%s/%s" % (settings.anycast_device, sot.fabric.anycast_ipv6))
    return {"interfaces4": ["*", "lo"], "interfaces6": interfaces6}


# --------------------------------------------------------------------------
# BIRD
# --------------------------------------------------------------------------

def render_bird(sot, node_name: str, settings: Settings | None = None) -> str:
    """bird.conf for the node: static anycast routes, BFD, one eBGP session per peer."""
    settings = settings or Settings()
    node = find_node(sot, node_name)
    fabric = sot.fabric
    anycast = {4: fabric.anycast_ipv4, 6: fabric.anycast_ipv6}
    problems = []
    if not node.peers:
        problems.append("%s: dhcp_nodes %s.peers: no BGP peer, the anycast address would never be announced"
                        % (node.source, node.name))
    for index, peer in enumerate(node.peers):
        family = 6 if ":" in peer.address else 4
        if not anycast[family]:
            problems.append("%s: dhcp_nodes %s.peers[%d].address: %s is an IPv%d peer but fabric.anycast.ipv%d "
                            "is not set" % (node.source, node.name, index, peer.address, family, family))
        if family == 6 and not node.address6:
            problems.append("%s: dhcp_nodes %s.address6: required for the IPv6 peer %s (the session's local "
                            "address)" % (node.source, node.name, peer.address))
    names = [session_name(peer) for peer in node.peers]
    for name in sorted(set(names)):
        if names.count(name) > 1:
            problems.append("%s: dhcp_nodes %s.peers: two peers share the session name %s; give them distinct names"
                            % (node.source, node.name, name))
    problems.extend(_unwritable(node, fabric))
    if problems:
        raise BgpRenderError(problems)

    families = sorted({6 if ":" in peer.address else 4 for peer in node.peers})
    lines = [
        "# BIRD configuration of anycast DHCP node %s, rendered by netboot.fleet" % node.name,
        "# (plugins/module_utils/anycast/bird.py) from the source of truth. Do not edit: changes are overwritten.",
        'log %s all;' % ('"%s"' % settings.bird_log if settings.bird_log.startswith("/") else settings.bird_log),
        "router id %s;" % node.address,
        "",
        "# Defines %s (true/false); written by the health check (dhcp_probe.py watch)." % ANNOUNCE_CONSTANT,
        'include "%s";' % settings.announce_file,
        "",
        "protocol device {",
        "  scan time 10;",
        "}",
    ]
    for family in families:
        lines.extend([""] + _static(family, anycast[family], settings))
    if settings.bfd:
        lines.extend([""] + _bfd(settings))
    for peer in node.peers:
        lines.extend([""] + _session(node, peer, anycast, settings))
    return "\n".join(lines) + "\n"


def _unwritable(node, fabric) -> list:
    """The values bird.conf gets bare (a name in a comment, addresses, ASNs) that BIRD could not read as one
    token: the loader refuses them first; checked again here, where they are written."""
    where = "%s: dhcp_nodes %s" % (node.source, ascii(node.name))
    problems = []
    if type(node.name) is not str or not _TOKEN_RE.match(node.name):
        problems.append("%s.name: cannot be written into bird.conf (letters, digits, '.', '_', '-')" % where)
    addresses = [("address", node.address), ("address6", node.address6),
                 ("fabric.anycast.ipv4", fabric.anycast_ipv4), ("fabric.anycast.ipv6", fabric.anycast_ipv6)]
    addresses += [("peers[%d].address" % index, peer.address) for index, peer in enumerate(node.peers)]
    for field, address in addresses:
        if address is not None and (type(address) is not str or parse_ip(address) is None):
            problems.append("%s.%s: %s is not an IP address" % (where, field, ascii(address)[:80]))
    asns = [("asn", node.asn)] + [("peers[%d].asn" % index, peer.asn) for index, peer in enumerate(node.peers)]
    for field, asn in asns:
        if type(asn) is not int or not 1 <= asn <= 4294967294:
            problems.append("%s.%s: %s is not an ASN" % (where, field, ascii(asn)[:80]))
    return problems


def _static(family: int, address: str, settings: Settings) -> list:
    # Routed via the anycast device: if the device disappears, BIRD has nothing to export.
    length = 32 if family == 4 else 128
    return [
        "protocol static anycast%d {" % family,
        "  ipv%d;" % family,
        '  route %s/%d via "%s";' % (address, length, settings.anycast_device),
        "}",
    ]


def _bfd(settings: Settings) -> list:
    return [
        "protocol bfd {",
        '  interface "*" {',
        "    min rx interval %d ms;" % settings.bfd_interval_ms,
        "    min tx interval %d ms;" % settings.bfd_interval_ms,
        "    multiplier %d;" % settings.bfd_multiplier,
        "  };",
        "}",
    ]


def bird_string(text: str) -> str:
    """text as a BIRD string literal. BIRD strings have no escapes: a quote or a line break would end the string
    and let the rest be read as configuration, so such text is refused (the loader refuses it first)."""
    if '"' in text or "\\" in text or any(ord(char) < 0x20 or ord(char) == 0x7f for char in text):
        raise BgpRenderError(["%r cannot be written inside a BIRD string (quote, backslash or control character)"
                              % text])
    return '"%s"' % text


def _export_filter(address: str, family: int) -> str:
    return "if %s && net ~ [ %s/%d ] then accept; reject;" % (ANNOUNCE_CONSTANT, address, 32 if family == 4 else 128)


def _session(node, peer, anycast: dict, settings: Settings) -> list:
    family = 6 if ":" in peer.address else 4
    local = node.address6 if family == 6 else node.address
    lines = [
        "protocol bgp %s {" % session_name(peer),
        '  description %s;' % bird_string("%s %s AS%d" % (peer.name or "peer", peer.address, peer.asn)),
        "  local %s as %d;" % (local, node.asn),
        "  neighbor %s as %d;" % (peer.address, peer.asn),
        "  hold time %d;" % settings.hold_time,
        "  keepalive time %d;" % settings.keepalive_time,
        "  connect retry time %d;" % settings.connect_retry_time,
        "  error wait time %d, %d;" % (settings.error_wait_min, settings.error_wait_max),
    ]
    if settings.bfd:
        lines.append("  bfd on;")
    lines.extend([
        "  ipv%d {" % family,
        "    import none;",
        "    export filter { %s };" % _export_filter(anycast[family], family),
        "  };",
        "}",
    ])
    return lines


# --------------------------------------------------------------------------
# Health check (read by dhcp_probe.py watch)
# --------------------------------------------------------------------------

def render_healthcheck(sot, node_name: str, settings: Settings | None = None) -> dict:
    """The health-check config of the node: what to probe, rise/fall, and the files it drives."""
    settings = settings or Settings()
    find_node(sot, node_name)
    checks = []
    if "dhcp4" in settings.families:
        checks.append({"kind": "status-get", "name": "dhcp4", "socket": settings.control_socket4})
        checks.append(_probe4(sot, settings))
    if "dhcp6" in settings.families:
        checks.append({"kind": "status-get", "name": "dhcp6", "socket": settings.control_socket6})
        checks.append(_probe6(sot, settings))
    return {
        "node": node_name,
        "interval": settings.check_interval,
        "timeout": settings.check_timeout,
        "rise": settings.check_rise,
        "fall": settings.check_fall,
        "announce_file": settings.announce_file,
        "drain_file": settings.drain_file,
        "status_file": settings.status_file,
        "birdc": ["birdc", "-s", settings.bird_socket],
        "checks": checks,
    }


def _probe_target(sot, family: str):
    """(network, machine or None) the probe asks about: the first network (by name) with a pool of
    this family, answered from the pool; else the first machine with an address of the family,
    answered from its reservation. None when the family is served nowhere."""
    for network in sot.networks:
        subnet = getattr(network, family)
        if subnet is not None and subnet.pool:
            return network, None
    for machine in sot.machines:
        if getattr(machine, family) is not None and getattr(sot.network(machine.network), family) is not None:
            return sot.network(machine.network), machine
    return None


def _probe4(sot, settings: Settings) -> dict:
    target = _probe_target(sot, "ipv4")
    if target is None:
        raise BgpRenderError(["networks: no IPv4 pool or reservation to probe; serve dhcp4 somewhere or drop it "
                              "from settings.families"])
    network, machine = target
    check = {"kind": "dhcp4", "server": "127.0.0.1", "select_address": network.ipv4.gateway,
             "mac": machine.mac if machine else settings.probe_mac, "network": network.name}
    if machine:
        check["expect"] = machine.ipv4
    return check


def _probe6(sot, settings: Settings) -> dict:
    target = _probe_target(sot, "ipv6")
    if target is None:
        raise BgpRenderError(["networks: no IPv6 pool or reservation to probe; serve dhcp6 somewhere or drop it "
                              "from settings.families"])
    network, machine = target
    check = {"kind": "dhcp6", "server": "::1", "link_address": network.ipv6.gateway,
             "mac": machine.mac if machine else settings.probe_mac, "network": network.name}
    if machine:
        check["expect"] = machine.ipv6
        if machine.duid:
            check["duid"] = machine.duid
    return check


def render_node(fleet, node_name: str, settings: Settings) -> dict:
    """Everything the anycast_bgp role writes for one node."""
    return {
        "bird": render_bird(fleet, node_name, settings),
        "healthcheck": render_healthcheck(fleet, node_name, settings),
        "kea_interfaces": kea_interfaces(fleet, settings),
        "anycast": {"ipv4": fleet.fabric.anycast_ipv4, "ipv6": fleet.fabric.anycast_ipv6},
    }
