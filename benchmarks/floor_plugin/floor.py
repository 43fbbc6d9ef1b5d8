# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cheapest inventory Ansible can build: add_host + one set_variable per host.

benchmarks/inventory_scale.py measures netboot.fleet.sot against this floor. It reads the
generated SoT JSON without any validation and sets each machine's raw record, which holds the
same fields (the same values to tag) as the record the plugin sets.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: floor
short_description: Benchmark floor, one add_host and one set_variable per host
description: Reads a netboot.fleet SoT JSON file without validating it.
options:
  plugin:
    description: Marks this file as a configuration of this plugin.
    required: true
    choices: [floor]
  source:
    description: The SoT JSON file.
    required: true
"""

import gc
import json

from ansible.plugins.inventory import BaseInventoryPlugin


class InventoryModule(BaseInventoryPlugin):
    NAME = "floor"

    def verify_file(self, path):
        return path.endswith(".floor.yml")

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        # The plugin keeps the cyclic garbage collector off while it loads and adds hosts; so does the
        # floor, or it would pay for collections the plugin skips (5 of 35 CPU seconds at 100,000 hosts).
        collecting = gc.isenabled()
        gc.disable()
        try:
            with open(self.get_option("source"), encoding="utf-8") as handle:
                machines = json.load(handle)["machines"]
            for record in machines:
                inventory.add_host(record["name"])
                inventory.set_variable(record["name"], "netboot", record)
        finally:
            if collecting:
                gc.enable()
