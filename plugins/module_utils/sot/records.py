# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Building each record from its raw mapping (the reference validators): each returns the record, or None
after reporting its problems.
"""

# pylint: disable=unidiomatic-typecheck
from __future__ import annotations

try:
    from netaddr import EUI, IPAddress, IPRange, AddrFormatError, mac_unix_expanded
except ImportError:  # pragma: no cover - reported by files.read_sources
    pass

from ansible_collections.netboot.fleet.plugins.module_utils.sot.checks import (
    ASSET_RE, BMC_SPECIAL_ALLOWED, CANONICAL_MAC_RE, DISK_RE, DOTTED_RE, DUID_RE, FREE_TEXT_MAX, LABEL_KEY_RE, MIRROR_RE,
    PACKAGE_RE, PROXY_RE,
    ZERO_MAC, Checker, describe, inside, not_a_host_of, parse_ip, reserved_hosts, shown, text_of)
from ansible_collections.netboot.fleet.plugins.module_utils.pxe.escape import BOOT_ARGS_UNSAFE_RE, LINE_BREAK_RE
from ansible_collections.netboot.fleet.plugins.module_utils.sot.model import (
    BMC_PROTOCOLS, FIRMWARES, GENERATED_GROUP_PREFIXES, INSTALLERS, Bmc, DhcpNode, Fabric, Machine, Network, Peer,
    Profile, Subnet)


def build_fabric(raw, where, problems):
    check = Checker(problems, where)
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
    return Fabric(anycast_ipv4=text_of(any4), anycast_ipv6=text_of(any6), asn=raw["asn"],
                  pxe_ipv4=text_of(pxe4 or any4), pxe_ipv6=text_of(pxe6 or any6),
                  http_port=pxe.get("http_port") or 80)


def build_dhcp_node(raw, where, fabric_asn, problems):
    check = Checker(problems, where)
    raw = check.fields(raw, "dhcp_node")
    if not check.ok:
        return None
    check.hostname(raw["name"], "name")
    address = check.ip(raw["address"], "address", 4)
    address6 = check.ip(raw.get("address6"), "address6", 6)
    check.asn(raw.get("asn"), "asn")
    own_asn = raw.get("asn") or fabric_asn
    peers = []
    for index, peer_raw in enumerate(raw.get("peers") or []):
        prefix = "peers[%d]." % index
        peer_raw = check.fields(peer_raw, "peer", prefix)
        if not check.ok:
            continue
        peer = check.ip(peer_raw["address"], prefix + "address")
        check.asn(peer_raw["asn"], prefix + "asn")
        check.hostname(peer_raw.get("name"), prefix + "name")
        if peer_raw["asn"] == own_asn:
            check.fail(prefix + "asn", "%s is the node's own ASN: its sessions are eBGP" % shown(own_asn))
        if peer is None:
            continue
        if peer.text in (peer_known.address for peer_known in peers):
            check.fail(prefix + "address", "peer %s is listed twice" % peer.text)
        if peer in (address, address6):
            check.fail(prefix + "address", "peer %s is the node's own address" % peer.text)
        peers.append(Peer(peer.text, peer_raw["asn"], peer_raw.get("name")))
    if not check.ok:
        return None
    return DhcpNode(name=raw["name"], address=address.text, address6=text_of(address6),
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
    if not inside(gateway, prefix):
        check.fail(fieldname + ".gateway", "%s is outside the network's prefix %s" % (gateway.text, prefix))
    elif not_a_host_of(gateway.value, version, prefix):
        what = not_a_host_of(gateway.value, version, prefix)
        check.fail(fieldname + ".gateway", "%s is %s of %s" % (gateway.text, what, prefix))
    pool = raw.get("pool")
    if pool is not None:
        bounds = [parse_ip(part.strip()) for part in pool.split("-")]
        if len(bounds) != 2 or None in bounds or bounds[0].version != version or bounds[1].version != version \
                or bounds[0].value > bounds[1].value:
            check.fail(fieldname + ".pool", "%s is not a range 'first-last' of IPv%d addresses" % (shown(pool), version))
        else:
            pool_range = IPRange(bounds[0].text, bounds[1].text)
            if pool_range not in prefix:
                check.fail(fieldname + ".pool", "%s is outside the network's prefix %s" % (pool, prefix))
            elif pool_range.first <= gateway.value <= pool_range.last:
                check.fail(fieldname + ".pool", "%s contains the gateway %s" % (pool, gateway.text))
            else:
                for value in reserved_hosts(version, prefix):
                    if pool_range.first <= value <= pool_range.last:
                        check.fail(fieldname + ".pool", "%s contains %s %s" % (
                            pool, not_a_host_of(value, version, prefix), IPAddress(value, version)))
            pool = "%s-%s" % (bounds[0].text, bounds[1].text)
    return Subnet(str(prefix.cidr), gateway.text, pool), prefix


def build_network(raw, where, problems):
    """(Network, IPv4 prefix, IPv6 prefix), or (None, None, None)."""
    check = Checker(problems, where)
    raw = check.fields(raw, "network")
    if not check.ok:
        return None, None, None
    check.group_name(raw["name"], "name")
    if raw["name"].startswith(GENERATED_GROUP_PREFIXES):
        check.fail("name", "%s would merge with a group the inventory makes (names starting with %s are its "
                           "rack and profile groups)" % (shown(raw["name"]), ", ".join(GENERATED_GROUP_PREFIXES)))
    if raw.get("ipv4") is None and raw.get("ipv6") is None:
        check.fail("ipv4", "a network needs an ipv4 or an ipv6 section (or both)")
    ipv4, net4 = _subnet(raw["ipv4"], check, "ipv4", 4) if raw.get("ipv4") is not None else (None, None)
    ipv6, net6 = _subnet(raw["ipv6"], check, "ipv6", 6) if raw.get("ipv6") is not None else (None, None)
    dns = []
    for index, server in enumerate(raw.get("dns_servers") or []):
        fieldname = "dns_servers[%d]" % index
        if type(server) is not str:
            check.fail(fieldname, "must be a string, got %s" % describe(server))
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


def build_profile(name, raw, where, problems):
    check = Checker(problems, where)
    check.group_name(name, "")
    raw = check.fields(raw, "profile")
    if not check.ok:
        return None
    check.choice(raw["installer"], "installer", INSTALLERS)
    packages = raw.get("packages") or []
    for index, package in enumerate(packages):
        if type(package) is not str or not PACKAGE_RE.match(package):
            check.fail("packages[%d]" % index, "%s is not a package name" % shown(package))
    for key in ("kernel", "initrd", "template", "cmdline", "disk"):
        value = raw.get(key)
        if type(value) is str and len(value) > FREE_TEXT_MAX:
            check.fail(key, "%s is longer than %d characters" % (shown(value), FREE_TEXT_MAX))
    if not check.ok:
        return None
    # The template is read on the controller, relative to its SoT file: an absolute path or a URL would let
    # a SoT edit copy any controller file into an answer file.
    for key in ("kernel", "initrd", "template"):
        value = raw.get(key)
        if type(value) is str and (not ASSET_RE.match(value) or ".." in value.split("/")
                                   or key == "template" and "://" in value):
            check.fail(key, "%s is not a usable %s (a relative path without '..'%s; letters, digits and ._:/@+%%=,~?[]()- "
                            "only)"
                       % (shown(value), "path" if key == "template" else "path or URL",
                          "" if key == "template" else ", or an http(s):// URL"))
    # Written into boot scripts: a line break would add lines of its own, && and || chain iPXE commands.
    cmdline = raw.get("cmdline")
    if type(cmdline) is str and BOOT_ARGS_UNSAFE_RE.search(cmdline):
        check.fail("cmdline", "%s holds a line break or another control character, '&&', '||' or '${'" % shown(cmdline))
    for key, pattern, what in (("mirror", MIRROR_RE, "an http(s):// URL of a package mirror"),
                               ("proxy", PROXY_RE, "an http:// URL of a proxy (host[:port])")):
        if type(raw.get(key)) is str and not pattern.match(raw[key]):
            check.fail(key, "%s is not %s" % (shown(raw[key]), what))
    disk = raw.get("disk")
    if type(disk) is str and not DISK_RE.match(disk):
        check.fail("disk", "%s is not a device path (/dev/ then letters, digits, '/', '_', '.', ':', '+', '-')"
                   % shown(disk))
    if not check.ok:
        return None
    return Profile(name=name, installer=raw["installer"], kernel=raw["kernel"], initrd=raw["initrd"],
                   cmdline=raw.get("cmdline") or "", disk=raw.get("disk") or "/dev/sda",
                   packages=tuple(packages), template=raw.get("template"), mirror=raw.get("mirror"),
                   proxy=raw.get("proxy"), source=where.source)


def _mac(value, check):
    """Lower-case colon form. netaddr parses every other notation (dashes, dots, upper case)."""
    mac = value.lower()
    if not CANONICAL_MAC_RE.match(mac):
        try:
            mac = str(EUI(value, version=48, dialect=mac_unix_expanded))
        except (AddrFormatError, ValueError, TypeError):
            check.fail("mac", "%s is not a valid MAC address" % shown(value))
            return None
    if int(mac[:2], 16) & 1:
        check.fail("mac", "%s is a multicast address, not a NIC's" % mac)
    elif mac == ZERO_MAC:
        check.fail("mac", "%s is not a NIC's address (all zero)" % mac)
    return mac


def build_machine(raw, where, networks, profile_names, problems):
    """networks: name -> ParsedNetwork, or None for a declared network that failed validation."""
    check = Checker(problems, where)
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
        if not DUID_RE.match(duid):
            check.fail("duid", "%s is not a DUID (hex octets separated by ':')" % shown(raw["duid"]))
    check.choice(raw["firmware"], "firmware", FIRMWARES)
    if raw["firmware"] == "bios" and raw.get("ipv4") is None and raw.get("ipv6") is not None:
        check.fail("firmware", "legacy BIOS PXE boots over IPv4 only, and the machine has no ipv4 address")
    check.group_name(raw.get("rack"), "rack")
    for key, value in (raw.get("labels") or {}).items():
        if type(key) is not str or not LABEL_KEY_RE.match(key):
            check.fail("labels", "label name %s must be a word (letters, digits, '_', '-', '.')" % shown(key))
        elif not isinstance(value, (str, int, float, bool)):
            check.fail("labels." + key, "must be a string, number or boolean, got %s" % describe(value))
        elif type(value) is str and len(value) > FREE_TEXT_MAX:
            check.fail("labels." + key, "%s is longer than %d characters" % (shown(value), FREE_TEXT_MAX))
        elif type(value) is str and LINE_BREAK_RE.search(value):
            check.fail("labels." + key, "%s holds a line break or another control character" % shown(value))

    if raw["network"] not in networks:
        check.fail("network", "unknown network %s (known: %s)" % (shown(raw["network"]), known(networks)))
    elif networks[raw["network"]] is not None:
        for address in (ipv4, ipv6):
            if address is not None:
                check_in_network(check, address, networks[raw["network"]])
    if raw["profile"] not in profile_names:
        check.fail("profile", "unknown profile %s (known: %s)" % (shown(raw["profile"]), known(profile_names)))

    bmc_address = bmc_raw.get("address")
    if type(bmc_address) is str:
        if ":" in bmc_address or DOTTED_RE.match(bmc_address):
            # Canonical text, so that one BMC written in two IPv6 notations is one address.
            bmc_address = text_of(check.ip(bmc_address, "bmc.address", allowed=BMC_SPECIAL_ALLOWED))
        else:
            check.hostname(bmc_address, "bmc.address")
    check.choice(bmc_raw.get("protocol"), "bmc.protocol", BMC_PROTOCOLS)
    check.port(bmc_raw.get("port"), "bmc.port")
    if not check.ok:
        return None
    return Machine(name=raw["name"], mac=mac, network=raw["network"], profile=raw["profile"],
                   firmware=raw["firmware"],
                   bmc=Bmc(bmc_address.lower(), bmc_raw["protocol"], bmc_raw.get("port")),
                   ipv4=text_of(ipv4), ipv6=text_of(ipv6), duid=duid, rack=raw.get("rack"),
                   labels=dict(raw.get("labels") or {}), source=where.source)


def check_in_network(check, address, network):
    version = address.version
    fieldname = "ipv%d" % version
    span = network.span4 if version == 4 else network.span6
    name = network.record.name
    if span is None:
        check.fail(fieldname, "network %r has no IPv%d prefix" % (name, version))
    elif not inside(address, span):
        check.fail(fieldname, "%s is outside network %r (%s)" % (address.text, name, span.cidr))
    elif not_a_host_of(address.value, version, span):
        check.fail(fieldname, "%s is %s of %s" % (address.text, not_a_host_of(address.value, version, span), span.cidr))
    elif address.text == span.gateway:
        check.fail(fieldname, "%s is the gateway of network %r" % (address.text, name))
    elif span.pool is not None and span.pool[0] <= address.value <= span.pool[1]:
        check.fail(fieldname, "%s is inside the dynamic pool of network %r: the pool may lease it to another machine"
                   % (address.text, name))


def known(names) -> str:
    names = sorted(name for name in names if isinstance(name, str))
    return ", ".join(names[:10]) + (", ..." if len(names) > 10 else "") if names else "none defined"
