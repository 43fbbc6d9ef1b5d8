# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks across records: uniqueness of names, MACs, DUIDs, BMCs and addresses; overlapping networks.

cross_checks gives the report (every load runs it). may_clash says, from whole columns of values (set sizes, in C),
whether cross_checks could find anything: sot.cache accepts a changed file's machines with it, without building
the report (tests/unit/sot/test_sot_cache.py: a cached load accepts exactly what a full load accepts).
"""

from __future__ import annotations

from ansible_collections.netboot.fleet.plugins.module_utils.problems import Problem
from ansible_collections.netboot.fleet.plugins.module_utils.sot.checks import Where, inside, parse_ip
from ansible_collections.netboot.fleet.plugins.module_utils.sot.model import BMC_DEFAULT_PORTS


def _unique(records, key, fieldname, kind, problems, seen=None, shown=None):
    """Report every record whose key was already used, naming the first user. records: (record, where).
    shown(record): the value the report names (default: the key)."""
    seen = {} if seen is None else seen
    for record, where in records:
        value = key(record)
        if value is None:
            continue
        first = seen.setdefault(value, where)
        if first is not where:
            problems.append(Problem(where.source, str(where), fieldname,
                                    "%s %s is also used by %s" % (kind, value if shown is None else shown(record), first)))
    return seen


def name_key(name):
    """Names are one name whatever their case (DNS, and the inventory on a case-insensitive file system)."""
    return name.lower()


def bmc_endpoint(address, port, protocol):
    """A BMC as (address, port): its protocol's default port when the record names none."""
    return address, port or BMC_DEFAULT_PORTS[protocol]


def fabric_outside_networks(fabric, where, networks, problems):
    """The anycast and PXE addresses are the service's: a machine network holding one would put the service on
    the machines' own link, and a machine could be given it. networks: ParsedNetwork."""
    if fabric is None:
        return
    addresses = [("anycast.ipv4", fabric.anycast_ipv4), ("anycast.ipv6", fabric.anycast_ipv6)]
    pxe = (("pxe.ipv4", fabric.pxe_ipv4), ("pxe.ipv6", fabric.pxe_ipv6))
    addresses += [(fieldname, address) for fieldname, address in pxe
                  if address not in (fabric.anycast_ipv4, fabric.anycast_ipv6)]
    for fieldname, text in addresses:
        address = parse_ip(text) if text else None
        for parsed in networks if address is not None else ():
            span = parsed.span4 if address.version == 4 else parsed.span6
            if span is not None and inside(address, span):
                problems.append(Problem(where.source, "fabric", fieldname, "%s is inside network %r (%s): a service "
                                        "address, not a machine network's" % (text, parsed.record.name, span.cidr)))


def overlaps(networks, version, problems):
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


def cross_checks(fabric, nodes, machines, networks, problems):
    """Uniqueness across all records. nodes, machines: (record, where); networks: ParsedNetwork."""
    names = _unique(nodes, lambda n: name_key(n.name), "name", "name", problems, shown=lambda n: n.name)
    _unique(machines, lambda m: name_key(m.name), "name", "name", problems, seen=names, shown=lambda m: m.name)
    _unique(machines, lambda m: m.mac, "mac", "MAC", problems)
    _unique(machines, lambda m: m.duid, "duid", "DUID", problems)
    _unique(machines, lambda m: bmc_endpoint(m.bmc.address, m.bmc.port, m.bmc.protocol), "bmc.address", "BMC",
            problems, shown=lambda m: "%s port %d" % bmc_endpoint(m.bmc.address, m.bmc.port, m.bmc.protocol))
    # Addresses that belong to the service itself: no node or machine may take them.
    service = {}
    if fabric is not None:
        for kind, addresses in (("anycast", (fabric.anycast_ipv4, fabric.anycast_ipv6)),
                                ("pxe", (fabric.pxe_ipv4, fabric.pxe_ipv6))):
            for address in addresses:
                if address:
                    service.setdefault(address, Where("", "fabric.%s" % kind, None, None))
    for parsed in networks:
        for family in (parsed.record.ipv4, parsed.record.ipv6):
            if family is not None:
                service.setdefault(family.gateway, Where("", "%s gateway" % parsed.where, None, None))
    seen = _unique(nodes, lambda n: n.address, "address", "address", problems, seen=dict(service))
    _unique(machines, lambda m: m.ipv4, "ipv4", "address", problems, seen=seen)
    seen6 = _unique(nodes, lambda n: n.address6, "address6", "address", problems, seen=dict(service))
    _unique(machines, lambda m: m.ipv6, "ipv6", "address", problems, seen=seen6)
    # A BMC on a data address: power control and installation traffic would reach the same interface.
    seen.update(seen6)
    if seen.keys().isdisjoint([machine.bmc.address for machine, _where in machines]):
        return
    for machine, where in machines:
        if machine.bmc.address in seen:
            problems.append(Problem(where.source, str(where), "bmc.address", "BMC %s is also the data address of %s"
                                    % (machine.bmc.address, seen[machine.bmc.address])))


def may_clash(fabric, nodes, of_machines, networks):
    """Whether cross_checks could report anything: set sizes, all in C. Only then is it run, for its
    exact report (it needs a Where per machine). nodes: (record, where); of_machines: see
    Validated.may_clash; networks: ParsedNetwork."""
    def repeats(values):
        """values: a list; None (an unset field) is not a value."""
        unset = values.count(None)
        return len(set(values)) - (unset > 0) != len(values) - unset

    if (repeats(list(map(name_key, [node.name for node, _where in nodes] + of_machines("name"))))
            or repeats(of_machines("mac")) or repeats(of_machines("duid"))
            # Endpoints: equal exactly when cross_checks' "address port N" keys are equal.
            or repeats([bmc_endpoint(*bmc) for bmc in of_machines("bmc.address", "bmc.port", "bmc.protocol")])):
        return True
    service = set()
    if fabric is not None:
        service.update((fabric.anycast_ipv4, fabric.anycast_ipv6, fabric.pxe_ipv4, fabric.pxe_ipv6))
    for parsed in networks:
        service.update(family.gateway for family in (parsed.record.ipv4, parsed.record.ipv6) if family is not None)
    service.discard(None)
    data = set(service)
    for node_field, machine_field in (("address", "ipv4"), ("address6", "ipv6")):
        addresses = [getattr(node, node_field) for node, _where in nodes] + of_machines(machine_field)
        if repeats(addresses) or not service.isdisjoint(addresses):
            return True
        data.update(addresses)
    return not data.isdisjoint(of_machines("bmc.address"))
