#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: kea_config
short_description: Apply a Kea DHCPv4/DHCPv6 configuration rendered from the source of truth, without restarting Kea
version_added: 0.1.0
description:
  - Renders the C(Dhcp4) or C(Dhcp6) configuration from the source of truth B(on the controller)
    (action plugin), copies it to the managed node as a file, and applies it there over Kea's
    control channel.
  - Compares it with the running configuration (C(config-get), compared through the rendered
    shape so Kea's filled-in defaults do not count); only when they differ it runs
    C(config-test), C(config-set) and persists the result so a restart starts from the same data.
  - Where Kea has C(config-hash-get) (Kea 2.4 and later; not Debian 12's 2.2), the module records
    Kea's hash beside O(config_path) after an apply, and a later run whose rendered config and
    Kea's hash are both unchanged skips the C(config-get) of the whole configuration.
  - Kea is never restarted. A configuration Kea rejects fails the task with Kea's message
    and leaves the running configuration untouched.
  - Rendering happens on the controller because the SoT lives there and because passing a
    100,000-host configuration (about 20 MB) as module arguments costs far more than copying
    one file (see C(benchmarks/README.md)).
author:
  - netboot.fleet developers (@netboot)
extends_documentation_fragment:
  - netboot.fleet.sot
  - netboot.fleet.attributes.node
  - netboot.fleet.kea_control
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Runs C(config-test) only, and reports what would change.
  diff_mode:
    support: full
    details: A summary (subnets, reservations and client classes added, removed, changed, plus a bounded sample), not
      a text diff.
options:
  family:
    description: Which daemon to configure.
    type: str
    choices: [dhcp4, dhcp6]
    required: true
  settings:
    description:
      - Server settings that are not in the SoT, see C(Settings) in C(plugins/module_utils/kea/config.py)
        (interfaces4, interfaces6, dhcp_socket_type, control_socket4/6, lease_file4/6, data_directory,
        lfc_interval, valid_lifetime, renew_timer, rebind_timer, preferred_lifetime, multi_threading,
        thread_pool_size, packet_queue_size, log_output, log_severity, boot_file_bios, boot_file_uefi,
        http_boot_file, ipxe_entry_script, server_duid). Used with O(sot).
      - The hosts-db mode - C(hosts_backend=postgresql) with C(hosts_db_name), C(hosts_db_host) (a directory for a
        Unix socket), C(hosts_db_port), C(hosts_db_user), C(hosts_db_connect_timeout), C(hosts_db_on_fail),
        C(hosts_db_max_reconnect_tries), C(hosts_db_reconnect_wait_time) - renders the same subnets without
        inline reservations and with C(hosts-databases); M(netboot.fleet.kea_hosts) fills the database.
      - Shared leases - C(lease_backend=postgresql) with C(lease_db_user) - puts the leases of every node in one
        PostgreSQL lease database, on the server, database and reconnect settings of the C(hosts_db_*) keys.
    type: dict
    default: {}
  hosts_db_password:
    description:
      - Password of the host database user (C(hosts_db_user) in O(settings)) when O(settings) selects the
        hosts-db mode (C(hosts_backend=postgresql)). Kept out of O(settings) so that it is never logged.
      - Kea reads it from its configuration file, which the module writes with the existing file's owner and mode.
    type: str
  lease_db_password:
    description:
      - Password of the lease database user (C(lease_db_user) in O(settings)) when O(settings) selects shared
        leases (C(lease_backend=postgresql)). Kept out of O(settings) so that it is never logged.
    type: str
  config:
    description:
      - An already rendered configuration, a map with the single key C(Dhcp4) or C(Dhcp6), to apply instead of
        rendering the SoT; O(sot) must not be given with it.
    type: dict
  src:
    description:
      - Internal, set by the action plugin - the rendered configuration file on the managed node.
        Do not set it yourself.
    type: path
  test:
    description:
      - Run C(config-test) before C(config-set). Kea answers no DHCP while it parses a configuration,
        so V(false) halves the gap at the cost of failing at C(config-set) (which rolls back) instead.
    type: bool
    default: true
  persist:
    description:
      - How the applied configuration survives a restart.
      - V(config-write) asks Kea to write its running configuration to O(config_path) (or the file it started from).
      - V(file) writes the applied configuration to O(config_path) from the module (root), atomically.
      - V(auto) tries V(config-write) and falls back to V(file) when Kea may not write there,
        as with Debian's AppArmor profiles, which keep C(/etc/kea) read-only for Kea.
      - V(none) keeps the change in memory only.
    type: str
    choices: [auto, config-write, file, none]
    default: auto
  config_path:
    description: The configuration file the Kea service starts from, for example C(/etc/kea/kea-dhcp4.conf).
    type: path
  set:
    description:
      - V(true) loads the configuration into the running Kea with C(config-set).
      - V(false) only tests it (C(config-test)) and writes it to O(config_path) (O(persist=file)); the caller restarts
        Kea on it. For a drained node - it serves nobody - a restart is faster than C(config-set) and keeps Kea's
        memory flat (Kea 2.2 grows by about the configuration's size at every C(config-set); see
        C(benchmarks/kea_soak.py)).
    type: bool
    default: true
notes:
  - "Kea answers no DHCP while it parses a new configuration (about 5 s for 100,000 reservations
    on an idle host): on an anycast fleet apply one node at a time with the node drained (C(serial: 1))."
"""

EXAMPLES = r"""
- name: Apply the SoT to the local kea-dhcp4
  netboot.fleet.kea_config:
    family: dhcp4
    sot: "{{ netboot_sot_source }}"
    settings:
      interfaces4: [eth0]
    config_path: /etc/kea/kea-dhcp4.conf

- name: Apply through kea-ctrl-agent, check mode shows what would change
  netboot.fleet.kea_config:
    family: dhcp6
    sot: "{{ netboot_sot_source }}"
    control_url: http://127.0.0.1:8000/
  check_mode: true
  diff: true
"""

RETURN = r"""
compared_by:
  description: How the running configuration was compared, V(config-get) or V(config-hash-get).
  returned: success
  type: str
  sample: config-get
counts:
  description: Size of the applied (desired) configuration.
  returned: always
  type: dict
  sample: {subnets: 2500, reservations: 100000, client_classes: 3}
summary:
  description: What changed, per kind, with counts and up to 20 example entries each.
  returned: always
  type: dict
  sample:
    family: Dhcp4
    subnets: {added: {count: 0, sample: []}, removed: {count: 0, sample: []}, changed: {count: 0, sample: []}}
    reservations: {added: {count: 1, sample: ["web2 (52:54:00:12:00:04) 198.51.100.13 in 198.51.100.0/26"]},
                   removed: {count: 0, sample: []}, changed: {count: 0, sample: []}}
    client_classes: {added: [], removed: [], changed: []}
    settings_changed: []
persisted:
  description: How the configuration was persisted (config-write, file, none), when it changed.
  returned: changed and not check mode
  type: str
restart_required:
  description: With O(set=false) and a change - the file holds the new configuration, the running Kea does not yet.
  returned: changed, not check mode, and O(set=false)
  type: bool
timing:
  description: Seconds spent per step (render and transfer on the controller, then compare, test, set, write).
  returned: always
  type: dict
  sample: {render: 2.1, transfer: 0.3, compare: 5.4, test: 5.9, set: 5.6, write: 0.9}
"""

import hashlib
import json
import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netboot.fleet.plugins.module_utils.common_args import SOT_ARGS
from ansible_collections.netboot.fleet.plugins.module_utils.kea.families import FAMILY_KEYS
from ansible_collections.netboot.fleet.plugins.module_utils.kea import diff as kea_diff
from ansible_collections.netboot.fleet.plugins.module_utils.kea.control import (
    KeaControlClient, KeaControlError, KeaCommandError, KeaUnsupportedCommand)


def _client(module, desired, family):
    params = module.params
    if params["control_url"]:
        return KeaControlClient(url=params["control_url"], timeout=params["control_timeout"],
                                service=family if params["control_via_agent"] else None,
                                username=params["control_username"], password=params["control_password"],
                                ca_file=params["control_ca_file"], validate_certs=params["control_validate_certs"])
    socket_path = params["control_socket"] or desired[FAMILY_KEYS[family]].get("control-socket", {}).get("socket-name")
    if not socket_path:
        module.fail_json(msg="no control_socket given and the configuration has no control-socket")
    return KeaControlClient(socket_path=socket_path, timeout=params["control_timeout"])


def _write_file(module, desired, path):
    """Atomically replace path with desired, keeping the existing file's owner and mode."""
    directory = os.path.dirname(path) or "."
    handle, tmp = tempfile.mkstemp(prefix=".kea-config.", dir=directory)
    with os.fdopen(handle, "w") as out:
        json.dump(desired, out, sort_keys=True, indent=1)
        out.write("\n")
    module.atomic_move(tmp, path)


def _kea_hash(client):
    """Kea's hash of its running config (config-hash-get, Kea >= 2.4), or None where unsupported (2.2)."""
    try:
        return (client.call("config-hash-get") or {}).get("hash")
    except KeaUnsupportedCommand:
        return None


def _state_path(module):
    # Beside the file the service starts from: what was applied last, and Kea's hash of it.
    path = module.params["config_path"]
    return path + ".netboot-state.json" if path else None


def _read_state(module):
    path = _state_path(module)
    try:
        with open(path) as handle:
            return json.load(handle)
    except (TypeError, OSError, ValueError):
        return None


def _write_state(module, client, digest):
    """Record digest with Kea's hash, so the next run can skip the 20 MB config-get."""
    path, kea_hash = _state_path(module), _kea_hash(client)
    if path and kea_hash:
        with open(path, "w") as handle:
            json.dump({"kea_hash": kea_hash, "desired_sha256": digest}, handle)


def _persist(module, client, desired, timing):
    mode, path = module.params["persist"], module.params["config_path"]
    if mode == "none":
        return "none"
    start = time.monotonic()
    try:
        if mode in ("auto", "config-write"):
            try:
                client.call("config-write", {"filename": path} if path else None)
                return "config-write"
            except KeaCommandError as exc:
                if mode == "config-write" or not path:
                    raise
                module.warn("Kea could not write %s (%s); the module wrote it instead" % (path, exc))
        if not path:
            module.fail_json(msg="persist=file needs config_path")
        _write_file(module, desired, path)
        return "file"
    finally:
        timing["write"] = round(time.monotonic() - start, 3)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            family=dict(type="str", required=True, choices=list(FAMILY_KEYS)),
            **SOT_ARGS,
            settings=dict(type="dict", default={}),
            config=dict(type="dict"),
            hosts_db_password=dict(type="str", no_log=True),
            lease_db_password=dict(type="str", no_log=True),
            src=dict(type="path"),
            test=dict(type="bool", default=True),
            set=dict(type="bool", default=True),
            persist=dict(type="str", default="auto", choices=["auto", "config-write", "file", "none"]),
            config_path=dict(type="path"),
            control_socket=dict(type="path"),
            control_url=dict(type="str"),
            control_via_agent=dict(type="bool", default=True),
            control_username=dict(type="str"),
            control_password=dict(type="str", no_log=True),
            control_ca_file=dict(type="path"),
            control_validate_certs=dict(type="bool", default=True),
            control_timeout=dict(type="float", default=120),
        ),
        mutually_exclusive=[("control_socket", "control_url")],
        required_if=[("set", False, ("config_path",))],
        supports_check_mode=True,
    )
    family = module.params["family"]
    if not module.params["src"]:
        module.fail_json(msg="src is missing: netboot.fleet.kea_config renders on the controller through its "
                             "action plugin; run it as a task, not as a bare module")
    with open(module.params["src"], "rb") as handle:
        text = handle.read()
    desired = json.loads(text)
    if not isinstance(desired, dict) or list(desired) != [FAMILY_KEYS[family]]:
        module.fail_json(msg="the configuration must be a map with the single key %s" % FAMILY_KEYS[family])
    digest = hashlib.sha256(text).hexdigest()
    timing = {}
    counts = kea_diff.counts(desired)
    client = _client(module, desired, family)
    try:
        start = time.monotonic()
        state = _read_state(module)
        # Kea >= 2.4: unchanged since our last apply when Kea's hash is the one we recorded then.
        if state and state.get("desired_sha256") == digest and state.get("kea_hash") == _kea_hash(client):
            timing["compare"] = round(time.monotonic() - start, 3)
            module.exit_json(changed=False, counts=counts, summary=kea_diff.summarize(desired, desired),
                             timing=timing, compared_by="config-hash-get")
        running = client.call("config-get")
        up_to_date = kea_diff.same(running, desired)
        summary = kea_diff.summarize(running, desired)
        timing["compare"] = round(time.monotonic() - start, 3)
        result = dict(changed=not up_to_date, counts=counts, summary=summary, timing=timing,
                      compared_by="config-get")
        if module._diff:
            result["diff"] = {"prepared": kea_diff.render_text(summary)}
        if up_to_date:
            if not module.check_mode:
                _write_state(module, client, digest)
            module.exit_json(**result)
        if module.params["test"] or module.check_mode or not module.params["set"]:
            start = time.monotonic()
            client.call("config-test", desired)
            timing["test"] = round(time.monotonic() - start, 3)
        if module.check_mode:
            module.exit_json(**result)
        if not module.params["set"]:
            # Tested, written; the running Kea keeps its old configuration until the caller restarts it.
            start = time.monotonic()
            _write_file(module, desired, module.params["config_path"])
            timing["write"] = round(time.monotonic() - start, 3)
            result.update(persisted="file", restart_required=True)
            module.exit_json(**result)
        start = time.monotonic()
        client.call("config-set", desired)
        timing["set"] = round(time.monotonic() - start, 3)
        result["persisted"] = _persist(module, client, desired, timing)
        _write_state(module, client, digest)
    except KeaControlError as exc:
        module.fail_json(msg=str(exc), kea_command=exc.command, kea_result=exc.result, timing=timing,
                         counts=counts)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
