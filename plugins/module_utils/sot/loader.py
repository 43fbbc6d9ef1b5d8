# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loading a SoT: read every file, build and check every record, then the relations between them.

load() raises SotError listing *all* problems, each naming file, record and field; nothing downstream ever
sees an invalid SoT.
"""

# pylint: disable=unidiomatic-typecheck
from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from ansible_collections.netboot.fleet.plugins.module_utils.gc_pause import cyclic_gc_paused
from ansible_collections.netboot.fleet.plugins.module_utils.problems import Problem
from ansible_collections.netboot.fleet.plugins.module_utils.sot.checks import Checker, SotError, Span, Where, label
from ansible_collections.netboot.fleet.plugins.module_utils.sot.crosscheck import (
    cross_checks, fabric_outside_networks, may_clash, name_key, overlaps)
from ansible_collections.netboot.fleet.plugins.module_utils.sot.files import read_sources
from ansible_collections.netboot.fleet.plugins.module_utils.sot.machines_fast import fast_machine_builder
from ansible_collections.netboot.fleet.plugins.module_utils.sot.model import Fabric, Network, Sot
from ansible_collections.netboot.fleet.plugins.module_utils.sot.records import build_dhcp_node, build_fabric, build_machine, build_network, build_profile


def _machines(machine_lists, declared_networks, networks, profile_names, problems):
    """[Machine] of the valid machines, reporting the others, and the (machine, Where) pairs cross_checks needs.

    Each record goes through the fast path (fast_machine_builder) first; a record it does not accept as-is - any
    problem, or a spelling it leaves to build_machine such as an upper-case MAC - goes through build_machine, which
    builds the record or the exact report.
    """
    fast = fast_machine_builder(networks, profile_names)
    machines = []
    rejected = set()  # (file number, index) of the machines that are not in `machines`
    for number, (source, raws) in enumerate(machine_lists):
        for index, raw in enumerate(raws):
            machine = fast(raw, source)
            if machine is None:
                machine = build_machine(raw, Where(source, "machines", index, raw), declared_networks,
                                        profile_names, problems)
                if machine is None:
                    rejected.add((number, index))
                    continue
            machines.append(machine)
    wheres = [Where(source, "machines", index, raw) for number, (source, raws) in enumerate(machine_lists)
              for index, raw in enumerate(raws) if (number, index) not in rejected]
    return machines, list(zip(machines, wheres))


@dataclass(slots=True)
class ParsedNetwork:
    """A valid network with its prefixes, kept only while loading."""
    record: Network
    net4: Any
    net6: Any
    where: Where
    span4: Span = None
    span6: Span = None

    def __post_init__(self):
        self.span4 = Span.of(self.net4, self.record.ipv4)
        self.span6 = Span.of(self.net6, self.record.ipv6)


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------

def load(path: str) -> Sot:
    """Load and validate the SoT at path (file or directory). Raises SotError listing every problem."""
    with cyclic_gc_paused():
        return validate(path, read_sources(path)).sot()


@dataclass(slots=True)
class Validated:
    """A validated SoT with what validating it established (parsed networks, names declared), so that
    sot.cache can validate a changed file's machines again without the other files.
    machines: {file: [Machine]} in file order (None in the copy sot.cache keeps: it holds them as columns)."""
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
        return may_clash(self.fabric, self.nodes, column, self.networks.values())


def validate(path: str, contents: list) -> Validated:
    """contents: read_sources(path). Raises SotError listing every problem."""
    problems = []
    fabric_where = None
    raws = {"dhcp_nodes": [], "networks": []}
    machine_lists = []  # (source, raw machines): no per-record Where unless a machine has a problem
    profile_raws = {}
    profile_keys = {}  # name_key(name) -> name
    for source, _info, data, reading in contents:
        problems.extend(reading)
        if data is None:
            continue
        data = Checker(problems, Where(source, "file", None, None)).fields(data, "top")
        for kind, records in raws.items():
            if type(data.get(kind)) is list:
                records.extend((raw, Where(source, kind, index, raw)) for index, raw in enumerate(data[kind]))
        if type(data.get("machines")) is list:
            machine_lists.append((source, data["machines"]))
        if type(data.get("profiles")) is dict:
            for name, raw in data["profiles"].items():
                where = Where(source, "profiles.%s" % label(name), None, raw)
                first = profile_keys.get(name_key(name))
                if first is not None:
                    first_source = profile_raws[first][1].source
                    defined = (["in %s" % first_source] if first_source != source else []) + (
                        ["as %s" % first] if first != name else [])
                    problems.append(Problem(source, str(where), "", "is also defined " + " ".join(defined)))
                else:
                    profile_raws[name] = (raw, where)
                    profile_keys[name_key(name)] = name
        if type(data.get("fabric")) is dict:
            if fabric_where is not None:
                problems.append(Problem(source, "fabric", "", "is also defined in %s" % fabric_where.source))
            else:
                fabric_where = Where(source, "fabric", None, data["fabric"])

    fabric = None
    # When a file could not be used, the fabric may well be in it: say nothing more about it.
    if fabric_where is not None:
        fabric = build_fabric(fabric_where.raw, fabric_where, problems)
    elif not problems:
        problems.append(Problem(path, "fabric", "", "is required (anycast addresses and asn)"))

    nodes = [(node, where) for raw, where in raws["dhcp_nodes"]
             for node in [build_dhcp_node(raw, where, fabric.asn if fabric else None, problems)] if node is not None]

    networks, network_keys = {}, {}
    for raw, where in raws["networks"]:
        record, net4, net6 = build_network(raw, where, problems)
        if record is None:
            continue
        if name_key(record.name) in network_keys:
            problems.append(Problem(where.source, str(where), "name", "network %s is also defined as %s"
                                    % (record.name, network_keys[name_key(record.name)].where)))
        else:
            networks[record.name] = network_keys[name_key(record.name)] = ParsedNetwork(record, net4, net6, where)
    for version in (4, 6):
        overlaps(networks.values(), version, problems)
    fabric_outside_networks(fabric, fabric_where, networks.values(), problems)

    profiles = [profile for name, (raw, where) in profile_raws.items()
                for profile in [build_profile(name, raw, where, problems)] if profile is not None]

    # A machine naming a network or profile that failed its own validation gets no second,
    # misleading "unknown" error: names are looked up among everything declared.
    declared_networks = {raw["name"]: None for raw, _where in raws["networks"]
                         if type(raw) is dict and type(raw.get("name")) is str}
    declared_networks.update(networks)
    machines, machines_with_where = _machines(machine_lists, declared_networks, networks, profile_raws, problems)

    cross_checks(fabric, nodes, machines_with_where, list(networks.values()), problems)
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
