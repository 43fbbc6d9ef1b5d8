# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: netbox
author: netboot.fleet developers (@netboot-fleet)
short_description: Machines and DHCP nodes from NetBox and a local source of truth
version_added: 1.1.0
description:
  - Reads networks and machines from NetBox in bulk (GraphQL; the mapping of C(docs/netbox.md), the same as the
    module C(netboot.fleet.netbox_export)) and merges them with a local source of truth (O(sot)) that holds the
    fabric, the DHCP nodes and the profiles. Hosts, groups and host variables are those of the C(netboot.fleet.sot)
    inventory plugin.
  - The merged source of truth is written to O(export_dir) (the local files and C(netbox.yml)), and
    C(netboot_sot_source) points there, so the renderers (C(kea_config), C(pxe_assets) ...) read exactly what the
    inventory shows.
  - Everything NetBox holds that does not map or does not validate fails the inventory with every problem at once,
    each with the URL of the NetBox object. Set C(any_unparsed_is_failed = true) in C(ansible.cfg) so that Ansible
    stops instead of warning.
  - With O(cache), what was read from NetBox is kept in Ansible's inventory cache and NetBox is not asked again
    until the cache expires (O(cache_timeout)) or C(--flush-cache).
extends_documentation_fragment:
  - constructed
  - inventory_cache
  - netboot.fleet.netbox
options:
  plugin:
    description: Marks this file as a configuration of this plugin.
    required: true
    type: str
    choices: [netboot.fleet.netbox]
  token:
    description:
      - NetBox API token (v2 C(nbt_...) tokens are sent as Bearer, older ones as Token). Keep it in the environment
        or in ansible-vault, never in this file in clear.
    type: str
    env:
      - name: NETBOX_TOKEN
  sot:
    description:
      - The local source of truth (file or directory) holding the fabric, the DHCP nodes and the profiles, merged
        with what NetBox holds. Relative paths are relative to this configuration file.
    required: true
    type: str
  export_dir:
    description:
      - Where the merged source of truth is written for the renderers. Defaults to a directory per configuration
        file under C(~/.cache/netboot.fleet).
    type: str
  hostvar:
    description: Name of the host variable that holds each host's SoT record.
    type: str
    default: netboot
"""

EXAMPLES = r"""
# inventory/fleet.netbox.yml (token from NETBOX_TOKEN)
plugin: netboot.fleet.netbox
url: https://netbox.example.net
sot: sot/
device_roles: [server]
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/netboot-fleet
cache_timeout: 600
"""

import hashlib
import os

from ansible.errors import AnsibleParserError

from ansible_collections.netboot.fleet.plugins.inventory.sot import InventoryModule as SotInventoryModule
from ansible_collections.netboot.fleet.plugins.inventory.sot import _hosts, _load
from ansible_collections.netboot.fleet.plugins.module_utils.common_args import DEFAULT_CACHE_DIR, NETBOX_ARGS
from ansible_collections.netboot.fleet.plugins.module_utils.gc_pause import cyclic_gc_paused
from ansible_collections.netboot.fleet.plugins.module_utils.netbox import export
from ansible_collections.netboot.fleet.plugins.module_utils.netbox.client import Connection, NetBoxClient, NetBoxError
from ansible_collections.netboot.fleet.plugins.module_utils.netbox.mapping import Selection
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot_model

# The shape of a cache entry: an entry written in another shape is read again from NetBox, not misread.
_CACHE_FORMAT = 1
EXPORT_FILE = "netbox.yml"


class InventoryModule(SotInventoryModule):
    NAME = "netboot.fleet.netbox"

    def verify_file(self, path):
        return path.endswith((".netbox.yml", ".netbox.yaml")) and os.path.isfile(path)

    def parse(self, inventory, loader, path, cache=True):
        # The grandparent's parse (BaseInventoryPlugin): the sot plugin's parse reads its own options.
        super(SotInventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        here = os.path.dirname(os.path.abspath(path))
        local_sot = os.path.normpath(os.path.join(here, self.get_option("sot")))
        export_dir = self.get_option("export_dir")
        if export_dir:
            export_dir = os.path.normpath(os.path.join(here, os.path.expanduser(export_dir)))
        else:
            export_dir = os.path.join(os.path.expanduser(DEFAULT_CACHE_DIR),
                                      "netbox-%s" % hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:16])
        with cyclic_gc_paused():
            text = self._netbox_text(path, local_sot, export_dir, cache)
            _write_merged(local_sot, export_dir, text)
            self._populate(_hosts(_load(export_dir)), export_dir)

    def _netbox_text(self, path, local_sot, export_dir, cache):
        """The NetBox part of the SoT (export.document), from Ansible's inventory cache or from NetBox."""
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache")
        if cache and use_cache:
            try:
                cached = self._cache[cache_key]
            except KeyError:
                cached = None
            if isinstance(cached, dict) and cached.get("format") == _CACHE_FORMAT:
                return cached["text"]
        options = {name: self.get_option(name) for name in list(NETBOX_ARGS) + ["token"]}
        try:
            client = NetBoxClient(Connection.from_options(options, os.environ))
            text, _fleet = export.export(client, Selection.from_options(options), local_sot,
                                         os.path.join(export_dir, EXPORT_FILE))
        except (NetBoxError, sot_model.SotError) as exc:
            raise AnsibleParserError(str(exc)) from None
        if use_cache:
            self._cache[cache_key] = {"format": _CACHE_FORMAT, "text": text}
        return text


def _write_merged(local_sot, export_dir, text):
    """export_dir := the local SoT's data files (same relative paths) + EXPORT_FILE; files that did not change keep
    their stamps (the SoT route then reuses its load), files no longer part of it are removed."""
    if not os.path.exists(local_sot):
        raise AnsibleParserError("sot %s does not exist" % local_sot)
    root = local_sot if os.path.isdir(local_sot) else os.path.dirname(local_sot)
    wanted = {EXPORT_FILE: text}
    for source in sot_model.source_files(local_sot):
        relative = os.path.relpath(source, root)
        if relative == EXPORT_FILE:
            raise AnsibleParserError("sot %s holds a file %s: that name is the NetBox part's" % (local_sot, EXPORT_FILE))
        with open(source, encoding="utf-8") as handle:
            wanted[relative] = handle.read()
    for relative, content in wanted.items():
        os.makedirs(os.path.dirname(os.path.join(export_dir, relative)), exist_ok=True)
        export.write_file(os.path.join(export_dir, relative), content)
    for stale in sot_model.source_files(export_dir):
        if os.path.relpath(stale, export_dir) not in wanted:
            os.unlink(stale)
