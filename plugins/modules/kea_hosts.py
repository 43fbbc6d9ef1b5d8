#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: kea_hosts
short_description: Sync Kea host reservations from the source of truth into a shared PostgreSQL host database
version_added: 0.1.0
description:
  - Renders the host reservations from the source of truth B(on the controller) (action plugin) - exactly the
    reservations the json mode of M(netboot.fleet.kea_config) puts in each subnet - and makes Kea's own host
    tables (C(hosts), C(ipv6_reservations), C(dhcp4_options), C(dhcp6_options)) hold exactly those.
  - Only the difference is written (insert, update, delete), in one transaction that commits all or nothing.
    Kea nodes configured with the hosts-db mode (C(hosts_backend=postgresql)) read the tables per request, so
    a committed change is served at once, without a reload or restart.
  - Checks Kea's C(schema_version) first and refuses schema versions it does not know. Supported - 13 (Kea 2.2,
    Debian 12).
  - "Fast path: the controller keeps, in O(cache_dir), the SoT as the last successful sync of this database
    saw it and the tables' fingerprint that sync left (the change counter the C(netboot.fleet.kea_hostsdb) role
    installs, else row counts and row versions). When only machines changed since (a SoT file is read again
    only when its size, times or inode changed), only their subnets are rendered, shipped, read and written.
    If the tables no longer have that fingerprint (someone else wrote them), the module falls back to a sync
    of every subnet in the same task."
  - With O(state_file), a sync of every subnet compares its input with the previous run's and looks up only
    the reservations that differ, as long as the tables are exactly as that run left them; otherwise, or with
    O(full=true), every row is read and compared.
  - The source of truth owns the host rows of the synced O(families) and the subnet-less global rows (which the
    rendered configurations never use); rows there that do not come from it are deleted.
author:
  - netboot.fleet developers (@netboot)
extends_documentation_fragment:
  - netboot.fleet.sot
  - netboot.fleet.attributes.node
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Reads and compares, then rolls back; reports what would change.
  diff_mode:
    support: full
    details: A summary (hosts inserted, updated, deleted with a bounded sample), not a row dump.
requirements:
  - psycopg (3) on the host the module runs on (Debian C(python3-psycopg)).
options:
  families:
    description: Which reservations to sync, DHCPv4 and/or DHCPv6. Rows of a family not listed are left alone.
    type: list
    elements: str
    choices: [dhcp4, dhcp6]
    default: [dhcp4, dhcp6]
  src:
    description:
      - Internal, set by the action plugin - the rendered reservations on the managed node. Do not set it yourself.
    type: path
  only_subnets_since:
    description:
      - Internal, set by the action plugin - O(src) holds only some subnets, to be synced if the tables still
        have this fingerprint. Do not set it yourself.
    type: str
  cache_dir:
    description:
      - Directory on the controller for the fast path's cache (see the description); one file per SoT, database
        and families, readable by its owner only. Consumed by the action plugin.
    type: path
    default: ~/.cache/netboot.fleet
  db_name:
    description: Database name.
    type: str
    default: kea
  db_host:
    description:
      - Host name or address of the PostgreSQL server (TCP), or a directory holding its Unix socket
        (for example V(/run/postgresql)). Unset, libpq's default (C(PGHOST), else the local socket) applies.
    type: str
  db_port:
    description: TCP port (also names the Unix socket file).
    type: int
    default: 5432
  db_user:
    description: The sync user; it needs SELECT, INSERT, UPDATE, DELETE on the host tables and USAGE on their sequences.
    type: str
    default: kea_sync
  db_password:
    description: Password of O(db_user), from a vault. Never logged; passed to libpq in-process, never on a command line.
    type: str
  db_sslmode:
    description: libpq C(sslmode) for TCP connections; V(verify-full) checks the server certificate and name.
    type: str
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
  db_sslrootcert:
    description: CA certificate file to verify the server with.
    type: path
  db_sslcert:
    description: Client certificate file (certificate authentication).
    type: path
  db_sslkey:
    description: Key of O(db_sslcert).
    type: path
  db_connect_timeout:
    description: Seconds allowed to connect.
    type: int
    default: 10
  lock_timeout:
    description: Seconds to wait for another sync holding the host table before failing.
    type: float
    default: 10
  state_file:
    description:
      - File (on the managed node) where the module keeps its last input and the tables' fingerprint, for
        incremental syncs. Written only after a commit, mode 0600. Unset, every run compares every row.
    type: path
  full:
    description: Compare every row even when the fast path (O(cache_dir)) or O(state_file) would allow a shorter sync.
    type: bool
    default: false
notes:
  - Run it once per database, not once per Kea node, for example with C(run_once) on the database host.
  - Kea nodes need only read access (see the C(netboot.fleet.kea_hostsdb) role, which creates both users).
"""

EXAMPLES = r"""
- name: Sync the reservations on the database host, over its Unix socket
  netboot.fleet.kea_hosts:
    sot: "{{ netboot_sot_source }}"
    db_host: /run/postgresql
    db_user: kea_sync
    db_password: "{{ vault_kea_sync_password }}"
    state_file: /var/lib/netboot-fleet/kea_hosts.state.json
  run_once: true
  delegate_to: "{{ groups['kea_hostsdb'][0] }}"

- name: What would change, over TLS
  netboot.fleet.kea_hosts:
    sot: "{{ netboot_sot_source }}"
    db_host: db1.example.net
    db_sslmode: verify-full
    db_sslrootcert: /etc/ssl/certs/db-ca.pem
    db_password: "{{ vault_kea_sync_password }}"
  check_mode: true
  diff: true
"""

RETURN = r"""
counts:
  description: Reservations in the SoT, and rows inserted, updated, deleted, left unchanged.
  returned: success
  type: dict
  sample: {desired: 100080, inserted: 0, updated: 1, deleted: 0, unchanged: 100079}
summary:
  description: The same per change, with up to 20 example hosts each.
  returned: success
  type: dict
  sample:
    inserted: {count: 1, sample: ["web2 (hw-address 52:54:00:12:00:04) 198.51.100.13 in dhcp4 subnet 1662628352"]}
    updated: {count: 0, sample: []}
    deleted: {count: 0, sample: []}
    unchanged: 5
mode:
  description:
    - V(subnets) (fast path - only the subnets of the machines that changed were read and written), V(incremental)
      (every subnet shipped, only what differs from the previous run looked up) or V(full) (every row compared).
    - With V(subnets), RV(counts) covers the synced subnets only.
  returned: success
  type: str
fingerprint:
  description:
    - The host tables' change counter after the sync (what the next fast path checks); without the counter the
      C(netboot.fleet.kea_hostsdb) role installs, their row counts and row versions.
  returned: success
  type: str
  sample: "changes:1042"
fallback:
  description: Why the fast path was not taken, or was given up for a sync of every subnet.
  returned: when the cache could not be used
  type: str
  sample: no cache of a previous sync of this database from this controller
schema_version:
  description: Kea's schema version of the database, as C(major.minor).
  returned: success
  type: str
  sample: "13.0"
timing:
  description:
    - Seconds per step. C(database) is the whole database step (connect, schema check, lock, read, diff, write,
      commit); C(load_sot), C(render), C(transfer) are spent on the controller.
  returned: always
  type: dict
  sample: {load_sot: 4.1, render: 1.2, transfer: 0.1, input: 0.3, connect: 0.01, read: 0.12, diff: 0.0,
           write: 0.13, commit: 0.002, database: 0.27}
"""

import json
import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.netboot.fleet.plugins.module_utils.common_args import DEFAULT_CACHE_DIR, SOT_ARGS
from ansible_collections.netboot.fleet.plugins.module_utils.kea import hostsdb as kea_hostsdb


def _read_state(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (TypeError, OSError, ValueError):
        return None


def _write_state(path, state):
    """Atomically, 0600: it names every machine, and a torn file must never look valid."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=".kea-hosts.", dir=directory)  # created 0600
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(state, out, separators=(",", ":"))
        # os.replace, not atomic_move: a new file must keep mkstemp's 0600, never pass through 0644.
        os.replace(tmp, path)
    except OSError:
        os.unlink(tmp)
        raise


def main():
    module = AnsibleModule(
        argument_spec=dict(
            **SOT_ARGS,
            families=dict(type="list", elements="str", choices=["dhcp4", "dhcp6"], default=["dhcp4", "dhcp6"]),
            src=dict(type="path"),
            db_name=dict(type="str", default="kea"),
            db_host=dict(type="str"),
            db_port=dict(type="int", default=5432),
            db_user=dict(type="str", default="kea_sync"),
            db_password=dict(type="str", no_log=True),
            db_sslmode=dict(type="str", choices=["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]),
            db_sslrootcert=dict(type="path"),
            db_sslcert=dict(type="path"),
            db_sslkey=dict(type="path", no_log=False),
            db_connect_timeout=dict(type="int", default=10),
            lock_timeout=dict(type="float", default=10),
            state_file=dict(type="path"),
            full=dict(type="bool", default=False),
            only_subnets_since=dict(type="str"),
            cache_dir=dict(type="path", default=DEFAULT_CACHE_DIR),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not params["src"]:
        module.fail_json(msg="src is missing: netboot.fleet.kea_hosts renders on the controller through its action "
                             "plugin; run it as a task, not as a bare module")
    if not kea_hostsdb.HAS_PSYCOPG:
        module.fail_json(msg=missing_required_lib("psycopg (Debian: python3-psycopg)"))
    timing = {}
    start = time.monotonic()
    with open(params["src"]) as handle:
        reservations = json.load(handle)
    # A sync of some subnets needs no previous input (and reading 100,000 reservations would cost more than it).
    previous = None if params["full"] or params["only_subnets_since"] or not params["state_file"] \
        else _read_state(params["state_file"])
    timing["input"] = round(time.monotonic() - start, 3)

    connection = kea_hostsdb.connect_params(
        params["db_name"], host=params["db_host"], port=params["db_port"], user=params["db_user"],
        password=params["db_password"], sslmode=params["db_sslmode"], sslrootcert=params["db_sslrootcert"],
        sslcert=params["db_sslcert"], sslkey=params["db_sslkey"], connect_timeout=params["db_connect_timeout"])
    database_start = time.monotonic()
    try:
        with kea_hostsdb.HostsDatabase(connection, lock_timeout=params["lock_timeout"]) as database:
            timing["connect"] = round(time.monotonic() - database_start, 3)
            version = database.schema_version()
            outcome = database.sync(reservations, families=params["families"], check_mode=module.check_mode,
                                    previous=previous, timing=timing, only_subnets_since=params["only_subnets_since"])
    except kea_hostsdb.HostsDbError as exc:
        timing["database"] = round(time.monotonic() - database_start, 3)
        module.fail_json(msg=str(exc), timing=timing, stale=isinstance(exc, kea_hostsdb.StaleSyncError))
    timing["database"] = round(time.monotonic() - database_start, 3)

    changes = outcome["changes"]
    summary = kea_hostsdb.summarize(changes)
    counts = kea_hostsdb.counts(changes, outcome["desired"])
    changed = bool(counts["inserted"] or counts["updated"] or counts["deleted"])
    result = dict(changed=changed, counts=counts, summary=summary, mode=outcome["mode"],
                  schema_version="%d.%d" % version, timing=timing, fingerprint=outcome["state"]["fingerprint"])
    if module._diff:
        result["diff"] = {"prepared": kea_hostsdb.render_text(summary)}
    # A sync of some subnets leaves the state file behind: its fingerprint no longer matches, so the next
    # sync of every subnet compares every row (writing 100,000 reservations here would undo the fast path).
    if params["state_file"] and not module.check_mode and outcome["mode"] != "subnets":
        try:
            _write_state(params["state_file"], outcome["state"])
        except OSError as exc:
            # The database is right; only the next run's shortcut is lost.
            module.warn("could not write %s (%s): the next run compares every row" % (params["state_file"], exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
