# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: sot
author: netboot.fleet developers (@netboot-fleet)
short_description: Machines and DHCP nodes from the netboot.fleet source of truth
description:
  - Reads the netboot.fleet source of truth (one YAML/JSON file or a directory of them), validates
    it with the same loader the renderers use, and adds every machine and DHCP node as a host.
  - Groups C(dhcp_nodes) and C(machines); C(machines) holds one child group per network (named
    like the network, so C(--limit rack12) targets that network's machines). Machines are also in
    one group per rack (C(rack_<rack>)) and one per profile (C(profile_<profile>)).
  - Each host gets C(ansible_host) (IPv4 first, else IPv6) and one dict variable (C(netboot) by
    default) holding its validated SoT record; optional fields that are not set are left out.
    Group C(all) gets C(netboot_sot_source), the absolute path of the source, so roles can render
    from the SoT instead of from hostvars.
  - With ansible-core 2.19 or later, the strings in C(ansible_host) and the record carry the SoT file they
    were read from as their origin, so messages about a value name that file rather than this configuration.
  - An invalid source of truth fails the inventory with the full validation report. Set
    C(any_unparsed_is_failed = true) in C(ansible.cfg) so that Ansible stops instead of warning.
  - Per-host Jinja (C(compose), C(groups), C(keyed_groups)) only runs when configured.
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: Marks this file as a configuration of this plugin.
    required: true
    type: str
    choices: [netboot.fleet.sot]
  source:
    description:
      - Path of the SoT file or directory. Relative paths are relative to this configuration file.
    required: true
    type: str
  hostvar:
    description: Name of the host variable that holds each host's SoT record.
    type: str
    default: netboot
"""

EXAMPLES = r"""
# inventory/fleet.sot.yml
plugin: netboot.fleet.sot
source: sot/
---
# Groups built from a label, and the parsed SoT cached between runs
plugin: netboot.fleet.sot
source: /srv/sot/fleet.json
keyed_groups:
  - key: netboot.labels.role | default('none')
    prefix: role
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/netboot-fleet
"""

import os

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

try:
    # Internal to ansible-core 2.19+, as used by its own ini and script inventory plugins. Ansible copies every
    # string a plugin sets and tags the copy with the configuration file as Origin, unless the string already has
    # an Origin: then it keeps the object. So tagging here names the SoT file, and hosts share one object per value.
    from ansible._internal._datatag._tags import Origin
except ImportError:  # older ansible-core: plain strings, as Ansible expects there
    Origin = None

from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot_model
from ansible_collections.netboot.fleet.plugins.module_utils.sot import route
from ansible_collections.netboot.fleet.plugins.module_utils.sot.model import PROFILE_GROUP_PREFIX, RACK_GROUP_PREFIX
from ansible_collections.netboot.fleet.plugins.module_utils.gc_pause import cyclic_gc_paused

# The shape of a cached host (2: it names its SoT file): an entry written in another shape is rebuilt, not misread.
_CACHE_FORMAT = 2


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "netboot.fleet.sot"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith((".sot.yml", ".sot.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        source = os.path.join(os.path.dirname(os.path.abspath(path)), self.get_option("source"))
        source = os.path.normpath(source)

        # The hosts added stay alive and in no cycle: a sixth of the parse time at 20,000 hosts was the
        # cyclic collector walking them (see cyclic_gc_paused).
        with cyclic_gc_paused():
            self._parse(path, source, cache)

    def _parse(self, path, source, cache):
        cache_key = self.get_cache_key(path)
        stamp = _stamp(source)
        cached = None
        if cache and self.get_option("cache"):
            try:
                cached = self._cache[cache_key]
            except KeyError:
                cached = None
        if cached and cached.get("format") == _CACHE_FORMAT and cached.get("stamp") == stamp:
            hosts = cached["hosts"]
        else:
            hosts = _hosts(_load(source))
            if self.get_option("cache"):
                hosts = list(hosts)
                self._cache[cache_key] = {"format": _CACHE_FORMAT, "stamp": stamp, "hosts": hosts}
        self._populate(hosts, source)

    def _populate(self, hosts, source):
        inventory = self.inventory
        hostvar = self.get_option("hostvar")
        inventory.set_variable("all", "netboot_sot_source", source)
        constructed = bool(self.get_option("compose") or self.get_option("groups") or self.get_option("keyed_groups"))
        strict = self.get_option("strict")
        # In a fixed order, not a set's: --graph lists groups in the order they were added.
        for group in ("dhcp_nodes", "machines"):
            inventory.add_group(group)
        known_groups = {"dhcp_nodes", "machines"}
        networks = []
        # Bound once: every attribute of the inventory goes through Ansible's proxy object.
        add_host, add_child, set_variable = inventory.add_host, inventory.add_child, inventory.set_variable
        tagged = _tagger()
        for name, address, group, extra_groups, record, source_file in hosts:
            for new_group in (group, *extra_groups):
                if new_group not in known_groups:
                    inventory.add_group(new_group)
                    known_groups.add(new_group)
                    if new_group == group:
                        networks.append(new_group)
            add_host(name, group=group)
            for extra_group in extra_groups:
                add_child(extra_group, name)
            address, record = tagged(address, source_file), tagged(record, source_file)
            set_variable(name, "ansible_host", address)
            set_variable(name, hostvar, record)
            if constructed:
                variables = {"ansible_host": address, hostvar: record, "inventory_hostname": name}
                self._set_composite_vars(self.get_option("compose"), variables, name, strict=strict)
                self._add_host_to_composed_groups(self.get_option("groups"), variables, name, strict=strict)
                self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, name, strict=strict)
        # Network groups nest in "machines", so each machine needs one group operation fewer. Nested only
        # now: while a group has a parent, every host added to it walks the group's ancestors twice.
        for network in networks:
            add_child("machines", network)


def _load(source):
    """The validated SoT; an invalid one fails the inventory with the loader's report, before any host is added.
    The run's one load: the action plugins of the run get this SoT from sot.route without loading again."""
    try:
        return route.load(source)
    except sot_model.SotError as exc:
        raise AnsibleParserError(str(exc)) from None


def _tagger():
    """tagged(value, path): value with each string replaced by a copy tagged with Origin(path=path).

    One tagged copy per distinct string and file, shared by every host (a rack, a profile, a firmware
    name...; a machine's address in ansible_host and in its record): Ansible keeps these objects instead
    of tagging a copy of each string of each host. Containers are copied, never changed (the cache holds them).
    """
    if Origin is None:
        return lambda value, path: value
    by_path = {}

    def tagged(value, path):
        try:
            origin, strings = by_path[path]
        except KeyError:
            origin, strings = by_path[path] = Origin(path=path), {}
        return _tag_strings(value, origin, strings)

    return tagged


def _tag_strings(value, origin, strings):
    kind = type(value)
    if kind is str:
        shared = strings.get(value)
        if shared is None:
            shared = strings[value] = origin.tag(value)
        return shared
    if kind is dict:
        return {key: _tag_strings(item, origin, strings) for key, item in value.items()}
    if kind is list:
        return [_tag_strings(item, origin, strings) for item in value]
    return value


def _hosts(fleet):
    """(name, address, group, extra groups, record, source file) for every host; group is "dhcp_nodes" or the network.

    A generator: each record dict is made just before Ansible copies it into the inventory, so
    100,000 records are never held twice.
    """
    for node in fleet.dhcp_nodes:
        yield node.name, node.address, "dhcp_nodes", [], node.as_dict(), node.source
    for machine in fleet.machines:
        extra_groups = [PROFILE_GROUP_PREFIX + machine.profile]
        if machine.rack:
            extra_groups.append(RACK_GROUP_PREFIX + machine.rack)
        yield machine.name, machine.address, machine.network, extra_groups, machine.as_dict(), machine.source


def _stamp(source):
    """What the cache is valid for: every source file's path, size and modification time."""
    stamp = []
    for path in sot_model.source_files(source):
        try:
            info = os.stat(path)
        except OSError:
            return None
        stamp.append([path, info.st_size, info.st_mtime_ns])
    return stamp
