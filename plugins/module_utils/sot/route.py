# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's one SoT load per run: every controller-side consumer gets the SoT from load() here.

The inventory plugin loads first, in ansible-playbook's main process; Ansible forks a worker process for every
task, and each worker inherits the loaded SoT. So the action plugins of a run (kea_config, pxe_assets,
anycast_config, sot_info, bringup_report, ...) get it for the price of a stat() per SoT file. A process that
did not inherit it (an inventory cache hit, another inventory source) goes through sot.cache, which reads
again only the files that changed since the last full load on this controller.
"""

from __future__ import annotations

import hashlib
import os

from ansible_collections.netboot.fleet.plugins.module_utils.common_args import DEFAULT_CACHE_DIR
from ansible_collections.netboot.fleet.plugins.module_utils.sot import cache
from ansible_collections.netboot.fleet.plugins.module_utils.sot.model import Sot

# abspath -> (stamps of its files, Sot). Module state on purpose: Ansible's forked workers inherit it.
_LOADED = {}


def load(path: str, cache_dir: str | None = None) -> Sot:
    """The validated SoT at path (file or directory). Raises sot.SotError listing every problem."""
    path = os.path.abspath(path)
    current = cache.stamps(path) if os.path.exists(path) else None
    loaded = _LOADED.get(path)
    if loaded is not None and current is not None and loaded[0] == current:
        return loaded[1]
    cache_file = cache_file_of(path, cache_dir)
    incremental = cache.load(path, cache_file)
    if incremental.changed != frozenset():  # a full load, or files changed: the next run starts from this one
        try:
            incremental.save(cache_file)
        except OSError:
            pass  # a cache only: without it the next run loads everything again
    fleet = incremental.sot
    _LOADED[path] = (current, fleet)
    return fleet


def cache_file_of(path: str, cache_dir: str | None = None) -> str:
    """The route's cache file for the SoT at path (absolute)."""
    return os.path.join(os.path.expanduser(cache_dir or DEFAULT_CACHE_DIR),
                        "sot-%s.cache" % hashlib.sha256(path.encode()).hexdigest()[:32])
