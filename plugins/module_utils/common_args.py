# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs shared by several modules and their action plugins, each documented once in doc_fragments/."""

from __future__ import annotations

# doc_fragments/sot.py. The action plugins fill it from the inventory variable SOT_HOSTVAR when it is not given.
SOT_ARGS = {"sot": {"type": "path"}}
SOT_HOSTVAR = "netboot_sot_source"
# Where the controller keeps its caches unless told otherwise (kea_hosts' cache_dir, the SoT route's load cache).
DEFAULT_CACHE_DIR = "~/.cache/netboot.fleet"
# doc_fragments/netbox.py: how to reach NetBox and which objects become SoT records (module_utils/netbox/).
NETBOX_ARGS = {
    "url": {"type": "str", "required": True},
    "validate_certs": {"type": "bool", "default": True},
    "timeout": {"type": "int", "default": 60},
    "retries": {"type": "int", "default": 3},
    "page_size": {"type": "int", "default": 1000},
    "device_statuses": {"type": "list", "elements": "str", "default": ["active", "planned", "staged"]},
    "device_roles": {"type": "list", "elements": "str", "default": []},
    "device_tags": {"type": "list", "elements": "str", "default": []},
    "prefix_role": {"type": "str", "default": "provisioning"},
    "provisioning_tag": {"type": "str", "default": "netboot-provisioning"},
}
