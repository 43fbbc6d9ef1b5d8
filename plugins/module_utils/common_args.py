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
