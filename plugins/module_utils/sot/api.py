# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The source of truth (SoT): its public names, from the package's modules. Pure Python (PyYAML + netaddr).

    from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot

Every consumer goes through load() (the controller through sot.route, which loads once per run), so parsing
and validation live in one place:

  files.py          which files a SoT path stands for, each parsed
  checks.py         FIELDS (what each record may hold), single-value checks, SotError
  records.py        building each record from its raw mapping (the reference validators)
  machines_fast.py  the machine validator's fast path, equal to records.build_machine (tested)
  crosscheck.py     uniqueness and overlaps across records
  loader.py         load(), validate(), Validated, summary()
  model.py          the typed records renderers read
  cache.py          incremental reloads for jobs that run again on the same SoT
  route.py          the controller's one load per run
"""

from ansible_collections.netboot.fleet.plugins.module_utils.problems import Problem
from ansible_collections.netboot.fleet.plugins.module_utils.sot.checks import FIELDS, SotError, parse_ip
from ansible_collections.netboot.fleet.plugins.module_utils.sot.files import (
    HAS_NETADDR, HAS_YAML, SOURCE_SUFFIXES, read_source, read_sources, source_files)
from ansible_collections.netboot.fleet.plugins.module_utils.sot.loader import (
    Validated, load, summary, validate)
from ansible_collections.netboot.fleet.plugins.module_utils.sot.model import (
    BMC_PROTOCOLS, FIRMWARES, INSTALLERS, RESERVED_GROUPS, Bmc, DhcpNode, Fabric, Machine, Network, Peer,
    Profile, Sot, Subnet)

__all__ = [
    "BMC_PROTOCOLS", "FIELDS", "FIRMWARES", "HAS_NETADDR", "HAS_YAML", "INSTALLERS", "RESERVED_GROUPS", "SOURCE_SUFFIXES",
    "Bmc", "DhcpNode", "Fabric", "Machine", "Network", "Peer", "Problem", "Profile", "Sot", "SotError", "Subnet",
    "Validated", "load", "parse_ip", "read_source", "read_sources", "source_files", "summary",
    "validate",
]
