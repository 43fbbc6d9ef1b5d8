# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of netboot.fleet.kea_hosts: render the reservations here, ship one file, sync there.

The SoT lives on the controller; the module runs wherever the database is reachable (often the
database host itself, over its Unix socket). The reservations are the ones the json mode puts in
each subnet (kea.render with the same SoT), so both modes serve the same answers.

Fast path: sot_cache keeps the SoT as the last successful sync of this database saw it, with the
fingerprint of the host tables that sync left. When only machines changed since, only their subnets
are rendered and shipped, and the module reads and writes only those, provided the tables still
have that fingerprint; otherwise (or without a cache) every subnet is rendered and shipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.netboot.fleet.plugins.module_utils import sot

from ansible_collections.netboot.fleet.plugins.module_utils.kea import config as kea

from ansible_collections.netboot.fleet.plugins.module_utils.sot import cache as sot_cache

FAMILIES = ("dhcp4", "dhcp6")
ACTION_ONLY = ("sot", "cache_dir")
DEFAULT_CACHE_DIR = "~/.cache/netboot.fleet"


class ActionModule(ActionBase):

    TRANSFERS_FILES = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        families = args.get("families") or list(FAMILIES)
        if not isinstance(families, list) or not families or any(family not in FAMILIES for family in families):
            raise AnsibleActionFail("families must be a non-empty list of %s, got %r" % (", ".join(FAMILIES), families))
        if not args.get("sot"):
            raise AnsibleActionFail("sot is required: the source of truth (file or directory) on the controller")
        for internal in ("src", "only_subnets_since"):
            if internal in args:
                raise AnsibleActionFail("%s is set by the action plugin itself" % internal)

        timing = {}
        start = time.monotonic()
        path = self._loader.path_dwim(args["sot"])
        cache_file = self._cache_file(args, families, path, task_vars)
        try:
            loaded = sot_cache.load(path, cache_file)
        except sot.SotError as exc:
            raise AnsibleActionFail(str(exc))  # nothing is written: the error names file, record and field
        timing["load_sot"] = time.monotonic() - start

        outcome, fallback = None, None
        fingerprint = loaded.extra.get("fingerprint") if loaded.changed is not None else None
        if boolean(args.get("full", False), strict=False):
            fallback = "full=true: every row is compared"
        elif fingerprint is None:
            fallback = "no cache of a successful sync of this database from this controller, or more than machines " \
                       "changed in the SoT since"
        else:
            start = time.monotonic()
            networks = {machine.network for machine in (*loaded.before.values(), *loaded.after.values())}
            records = [loaded.network(name) for name in sorted(networks)]
            machines = loaded.machines_in(networks)
            reservations = {family: kea.reservations(records, machines, family) for family in families}
            timing["render"] = time.monotonic() - start
            outcome = self._sync(reservations, args, families, task_vars, timing, only_subnets_since=fingerprint)
            if outcome.get("failed") and outcome.get("stale"):
                fallback, outcome = outcome["msg"], None
        if outcome is None:
            start = time.monotonic()
            try:
                reservations = {family: kea.reservations(loaded.sot.networks, loaded.sot.machines, family)
                                for family in families}
            except kea.KeaRenderError as exc:
                raise AnsibleActionFail(str(exc))
            timing["render"] = time.monotonic() - start
            outcome = self._sync(reservations, args, families, task_vars, timing)
            outcome["fallback"] = fallback

        if not outcome.get("failed") and not self._task.check_mode:
            start = time.monotonic()
            loaded.save(cache_file, {"fingerprint": outcome["fingerprint"]})
            timing["save_cache"] = time.monotonic() - start
        if isinstance(outcome.get("timing"), dict):
            outcome["timing"].update((step, round(seconds, 3)) for step, seconds in timing.items())
        result.update(outcome)
        return result

    def _sync(self, reservations, args, families, task_vars, timing, only_subnets_since=None):
        start = time.monotonic()
        text = json.dumps(reservations, sort_keys=True, separators=(",", ":"))
        tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
        remote_src = self._connection._shell.join_path(tmpdir, "kea-hosts.json")
        self._transfer_data(remote_src, text)
        self._fixup_perms2((tmpdir, remote_src))
        timing["transfer"] = time.monotonic() - start

        module_args = {key: value for key, value in args.items() if key not in ACTION_ONLY}
        module_args.update(src=remote_src, families=families)
        if only_subnets_since is not None:
            module_args["only_subnets_since"] = only_subnets_since
        try:
            return self._execute_module(module_name="netboot.fleet.kea_hosts", module_args=module_args,
                                        task_vars=task_vars)
        finally:
            self._remove_tmp_path(tmpdir)

    def _cache_file(self, args, families, path, task_vars):
        """One cache per SoT, database (as the host the module runs on reaches it) and families."""
        database = [task_vars.get("inventory_hostname"), self._task.delegate_to, args.get("db_host"),
                    args.get("db_port", 5432), args.get("db_name", "kea")]
        key = json.dumps([os.path.abspath(path), database, sorted(families)], default=str)
        directory = os.path.expanduser(args.get("cache_dir") or DEFAULT_CACHE_DIR)
        return os.path.join(directory, "kea_hosts-%s.cache" % hashlib.sha256(key.encode()).hexdigest()[:32])
