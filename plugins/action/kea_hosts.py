# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of netboot.fleet.kea_hosts: render the reservations here, ship one file, sync there.

The SoT lives on the controller; the module runs wherever the database is reachable (often the
database host itself, over its Unix socket). The reservations are the ones the json mode puts in
each subnet (kea.render with the same SoT), so both modes serve the same answers.

Fast path: sot.cache keeps the SoT as the last successful sync of this database saw it, with the
fingerprint of the host tables that sync left. When only machines changed since, only their subnets
are rendered and shipped, and the module reads and writes only those, provided the tables still
have that fingerprint; otherwise (or without a cache) every subnet is rendered and shipped.
"""

from __future__ import annotations

import hashlib
import json
import os

from ansible.errors import AnsibleActionFail

from ansible_collections.netboot.fleet.plugins.module_utils.common_args import DEFAULT_CACHE_DIR
from ansible_collections.netboot.fleet.plugins.module_utils.kea import config as kea
from ansible_collections.netboot.fleet.plugins.module_utils.kea.families import FAMILIES
from ansible_collections.netboot.fleet.plugins.module_utils.sot import cache as sot_cache
from ansible_collections.netboot.fleet.plugins.plugin_utils.sot_action import Payload, SotAction


class ActionModule(SotAction):
    MODULE = "netboot.fleet.kea_hosts"
    ACTION_ARGS = dict(
        cache_dir=dict(type="path"),
        families=dict(type="list", elements="str", choices=list(FAMILIES), default=list(FAMILIES)),
        full=dict(type="bool", default=False),
    )

    def load(self, args, module_args, task_vars, timing):
        """Through this database's own cache: its reference point is the SoT as the last sync of it saw it."""
        path = self.sot_path(args, task_vars)
        self.cache_file = self._cache_file(args, module_args, path, task_vars)
        with self.timed(timing, "load_sot"):
            return sot_cache.load(path, self.cache_file)

    def act(self, fleet, args, module_args, task_vars, timing):
        loaded = fleet  # sot.cache's Loaded (see load()): the SoT and what changed since this database's last sync
        families = args["families"]
        if not families:
            raise AnsibleActionFail("families must name at least one of %s" % ", ".join(FAMILIES))
        for internal in ("src", "only_subnets_since"):
            if internal in module_args:
                raise AnsibleActionFail("%s is set by the action plugin itself" % internal)
        module_args.update(families=families, full=args["full"])

        outcome, fallback = None, None
        fingerprint = loaded.extra.get("fingerprint") if loaded.changed is not None else None
        if args["full"]:
            fallback = "full=true: every row is compared"
        elif fingerprint is None:
            fallback = "no cache of a successful sync of this database from this controller, or more than machines " \
                       "changed in the SoT since"
        else:
            with self.timed(timing, "render"):
                networks = {machine.network for machine in (*loaded.before.values(), *loaded.after.values())}
                records = [loaded.network(name) for name in sorted(networks)]
                machines = loaded.machines_in(networks)
                reservations = {family: kea.reservations(records, machines, family) for family in families}
            outcome = self._sync(reservations, module_args, task_vars, timing, only_subnets_since=fingerprint)
            if outcome.get("failed") and outcome.get("stale"):
                fallback, outcome = outcome["msg"], None
        if outcome is None:
            with self.timed(timing, "render"):
                reservations = {family: kea.reservations(loaded.sot.networks, loaded.sot.machines, family)
                                for family in families}
            outcome = self._sync(reservations, module_args, task_vars, timing)
            outcome["fallback"] = fallback

        if not outcome.get("failed") and not self._task.check_mode:
            with self.timed(timing, "save_cache"):
                loaded.save(self.cache_file, {"fingerprint": outcome["fingerprint"]})
        return outcome

    def _sync(self, reservations, module_args, task_vars, timing, only_subnets_since=None):
        args = dict(module_args)
        if only_subnets_since is not None:
            args["only_subnets_since"] = only_subnets_since
        text = json.dumps(reservations, sort_keys=True, separators=(",", ":"))
        return self.execute(Payload(files={"src": ("kea-hosts.json", text)}, args=args), task_vars, timing)

    def _cache_file(self, args, module_args, path, task_vars):
        """One cache per SoT, database (as the host the module runs on reaches it) and families."""
        families = args["families"]
        database = [task_vars.get("inventory_hostname"), self._task.delegate_to, module_args.get("db_host"),
                    module_args.get("db_port", 5432), module_args.get("db_name", "kea")]
        key = json.dumps([os.path.abspath(path), database, sorted(families)], default=str)
        directory = os.path.expanduser(args.get("cache_dir") or DEFAULT_CACHE_DIR)
        return os.path.join(directory, "kea_hosts-%s.cache" % hashlib.sha256(key.encode()).hexdigest()[:32])
