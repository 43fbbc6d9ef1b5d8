#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: boot_events
short_description: What machines fetched from a DHCP/PXE node since a given time (leases, boot loaders, iPXE scripts)
version_added: 0.1.0
description:
  - Runs on a DHCP node and reads, from O(since) on, the nginx access log of the PXE assets, the
    TFTP requests of in.tftpd (from the journal or syslog files) and Kea's memfile lease files.
  - Returns one event per machine and kind (first DHCP lease, first boot loader fetch, first fetch
    of the shared entry script, of the machine's own iPXE script C(ipxe/<mac>.ipxe) and of its
    installer answer files C(installer/<name>/...)), so the bring-up can tell that a machine fetched
    its own script from evidence, not assume it.
  - Read-only; a missing or unreadable source is reported in RV(sources), not a failure, because a
    node that served nothing yet may not have a log yet.
  - The parsing lives in C(plugins/module_utils/bringup/events.py).
options:
  since:
    description: Epoch seconds; older log lines and leases are ignored.
    type: float
    required: true
  http_logs:
    description:
      - nginx access logs to read, in the C(netboot_fleet) format of the C(netboot.fleet.pxe_server) role
        (C($msec) first, millisecond times) or nginx's default C(combined) format (whole seconds).
      - Files that do not exist are skipped (and listed in RV(sources)).
    type: list
    elements: path
    default: [/var/log/nginx/netboot-pxe.log, /var/log/nginx/access.log]
  tftp_journal:
    description:
      - Read in.tftpd's requests from the systemd journal (C(journalctl -t in.tftpd)).
      - in.tftpd logs a request only when started with C(--verbose).
    type: bool
    default: true
  tftp_logs:
    description: Syslog files holding in.tftpd's messages (RFC 3339 or BSD time stamps), for hosts without a journal.
    type: list
    elements: path
    default: []
  kea_journal:
    description:
      - Read the leases Kea granted from its own log in the systemd journal (C(DHCP4_LEASE_ALLOC) and C(DHCP6_LEASE_ALLOC)
        of the C(kea-dhcp4-server) and C(kea-dhcp6-server) units, at Kea's default C(INFO) severity).
      - For leases kept in a database (shared leases), which leave no lease file on the node.
    type: bool
    default: false
  lease_files4:
    description: Kea DHCPv4 memfile lease files; the lease-file cleanup's C(.2) companion is read too.
    type: list
    elements: path
    default: [/var/lib/kea/kea-leases4.csv]
  lease_files6:
    description: Kea DHCPv6 memfile lease files; the lease-file cleanup's C(.2) companion is read too.
    type: list
    elements: path
    default: [/var/lib/kea/kea-leases6.csv]
  cursor_dir:
    description:
      - Where the module keeps, between calls, a cursor per file (its device, inode and offset) and the events
        kept so far, so that the next call reads only what was appended since, finishing first a file rotated to
        C(<file>.1) (or C(<file>.2) for lease files). One 0600 file per O(since) and set of sources; files older
        than two days are removed.
      - Without it every call reads everything from O(since) on again (a large log by bisection).
      - Created (mode 0700) if missing. In check mode the cursors are read, not written.
    type: path
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Only reads (the cursors of O(cursor_dir) are not written).
  diff_mode:
    support: none
  platform:
    platforms: posix
author:
  - netboot.fleet developers (@netboot-fleet)
seealso:
  - module: netboot.fleet.bringup_report
"""

EXAMPLES = r"""
- name: What every machine fetched from this node in the last ten minutes
  netboot.fleet.boot_events:
    since: "{{ now().timestamp() - 600 }}"
  register: observed

- name: A node without a journal, logging in.tftpd to a syslog file
  netboot.fleet.boot_events:
    since: "{{ bringup_started }}"
    tftp_journal: false
    tftp_logs: [/var/log/daemon.log]
"""

RETURN = r"""
events:
  description:
    - The first event of each (kind, key, success) since O(since), sorted by time.
    - C(kind) is V(lease4) (key MAC), V(lease6) (key DUID, C(mac) the lease's hwaddr), V(loader) (key client
      address), V(entry) (key client address), V(script) (key MAC) or V(answer) (key machine name).
    - C(status) is the HTTP status, null for leases and TFTP.
  returned: always
  type: list
  elements: dict
  sample:
    - {time: 1795705290.0, kind: lease4, key: "52:54:00:12:00:01", client: 198.51.100.10, detail: 198.51.100.10, status: null}
    - {time: 1795705293.317, kind: script, key: "52:54:00:12:00:01", client: 198.51.100.10,
       detail: "ipxe/52:54:00:12:00:01.ipxe", status: 200}
scripts_fetched:
  description: MACs whose own iPXE script this node served (HTTP 2xx/3xx), sorted.
  returned: always
  type: list
  elements: str
  sample: ["52:54:00:12:00:01"]
sources:
  description:
    - What was read, with the number of events found in it and the bytes read by this call, or why it could not
      be read.
  returned: always
  type: list
  elements: dict
  sample:
    - {source: http, path: /var/log/nginx/netboot-pxe.log, events: 412, read_bytes: 40213}
    - {source: tftp, path: journal, events: 3}
    - {source: lease4, path: /var/lib/kea/kea-leases4.csv, error: "No such file or directory"}
"""

import fcntl
import hashlib
import json
import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import events as boot_events
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import tail

# Logs larger than this are entered by bisection on their time stamps instead of read from their start.
_BISECT_ABOVE = 4 * 1024 * 1024
# Lines are written when a request completes, so they are only nearly in time order: step back this far.
_BISECT_SLACK = 256 * 1024
# Cursor files of runs that ended long ago are removed.
_CURSOR_MAX_AGE = 2 * 86400
_ROTATED = (".1",)        # logrotate's first generation
_LEASES_ROTATED = (".2",)  # kea-lfc moves the current lease file here before cleaning it up


def http_start(since):
    """Where a first read of an nginx log begins: near `since` in a large log (bisection), else its start."""
    def start(handle, size):
        low, high = 0, size
        if size <= _BISECT_ABOVE:
            return 0
        while high - low > _BISECT_SLACK:
            middle = (low + high) // 2
            handle.seek(middle)
            handle.readline()  # to the start of the next whole line
            parsed = boot_events.parse_nginx_line(handle.readline().decode("utf-8", "replace"))
            if parsed is not None and parsed[0] < since:
                low = middle
            else:
                high = middle
        low = max(0, low - _BISECT_SLACK)
        if low:
            handle.seek(low)
            low += len(handle.readline())
        return low
    return start


def read_journal(module, since, cursor, selection=("-t", "in.tftpd")):
    """The selected journal records after the cursor's (or from `since` on); the cursor moves to the last."""
    journalctl = module.get_bin_path("journalctl")
    if journalctl is None:
        raise OSError("journalctl is not installed")
    where = ["--after-cursor", cursor["journal"]] if cursor.get("journal") else ["--since", "@%d" % int(since)]
    rc, out, err = module.run_command([journalctl, "--no-pager", "-o", "json"] + list(selection) + where)
    if rc != 0:
        raise OSError(err.strip() or "journalctl exited with %d" % rc)
    lines = out.splitlines()
    try:
        cursor["journal"] = json.loads(lines[-1])["__CURSOR"] if lines else cursor.get("journal")
    except (ValueError, KeyError, TypeError):  # not journal JSON: read again from `since` next time
        cursor.pop("journal", None)
    return [record for record in map(boot_events.parse_journal_line, lines) if record]


class Cursors:
    """The cursors and kept events of one (since, sources), in a 0600 JSON file of cursor_dir under a lock."""

    def __init__(self, directory, params):
        self.directory = directory
        identity = json.dumps([params[name] for name in sorted(params) if name != "cursor_dir"], sort_keys=True)
        self.path = os.path.join(directory, "boot-events-%s.json" % hashlib.sha256(identity.encode()).hexdigest()[:24])
        self.lock = None

    def __enter__(self):
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        self.lock = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.lock, fcntl.LOCK_EX)  # two runs with the same since share the file, in turn
        try:
            with open(self.path, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):  # none yet, or unreadable: everything is read again, nothing is lost
            return {"sources": {}, "events": []}

    def save(self, state):
        handle, temp = tempfile.mkstemp(dir=self.directory, prefix=".boot-events-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(state, out)
        os.replace(temp, self.path)
        now = time.time()
        for name in os.listdir(self.directory):
            old = os.path.join(self.directory, name)
            if name.startswith("boot-events-") and not old.startswith(self.path) and now - os.path.getmtime(old) > _CURSOR_MAX_AGE:
                os.unlink(old)

    def __exit__(self, *exc):
        os.close(self.lock)


class Observer:
    """Reads each source from its cursor and folds its new events into the kept ones (events.first_events)."""

    def __init__(self, since, state):
        self.since = since
        self.cursors = state["sources"]
        self.kept = state["events"]
        self.sources = []

    def read(self, source, path, batches):
        """batches: an iterator of event lists (one per chunk read); errors are reported, not raised."""
        found = 0
        cursor = self.cursors.setdefault("%s:%s" % (source, path), {})
        before = cursor.get("offset", 0)
        try:
            for events in batches(cursor):
                found += len(events)
                self.kept = boot_events.first_events(self.kept + events)
        except OSError as exc:
            self.sources.append({"source": source, "path": path, "error": exc.strerror or str(exc)})
            return
        self.sources.append({"source": source, "path": path, "events": found,
                             "read_bytes": max(0, cursor.get("offset", 0) - before)})

    def http(self, path):
        def batches(cursor):
            for lines in tail.new_lines(path, cursor, _ROTATED, http_start(self.since)):
                yield boot_events.http_events(lines, self.since)
        self.read("http", path, batches)

    def tftp_file(self, path):
        year = time.localtime(self.since).tm_year

        def batches(cursor):
            for lines in tail.new_lines(path, cursor, _ROTATED):
                yield boot_events.tftp_events(
                    filter(None, (boot_events.parse_syslog_line(line, year) for line in lines)), self.since)
        self.read("tftp", path, batches)

    def leases(self, family, path, whole=False):
        def batches(cursor):
            for lines in tail.new_lines(path, cursor, () if whole else _LEASES_ROTATED):
                if cursor.get("header") and lines and lines[0] != cursor["header"]:
                    lines = [cursor["header"]] + lines  # a later chunk: the columns are the first line's
                yield boot_events.lease_events("\n".join(lines), family, self.since)
        self.read("lease%d" % family, path, batches)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            since=dict(type="float", required=True),
            http_logs=dict(type="list", elements="path",
                           default=["/var/log/nginx/netboot-pxe.log", "/var/log/nginx/access.log"]),
            tftp_journal=dict(type="bool", default=True),
            tftp_logs=dict(type="list", elements="path", default=[]),
            kea_journal=dict(type="bool", default=False),
            lease_files4=dict(type="list", elements="path", default=["/var/lib/kea/kea-leases4.csv"]),
            lease_files6=dict(type="list", elements="path", default=["/var/lib/kea/kea-leases6.csv"]),
            cursor_dir=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["cursor_dir"]:
        cursors = Cursors(params["cursor_dir"], params)
        try:
            with cursors as state:
                observer = observe(module, params, state)
                if not module.check_mode:
                    cursors.save({"sources": observer.cursors, "events": observer.kept})
        except OSError as exc:
            module.fail_json(msg="cursor_dir %s: %s" % (params["cursor_dir"], exc.strerror or exc))
    else:
        observer = observe(module, params, {"sources": {}, "events": []})
    module.exit_json(changed=False, events=observer.kept, scripts_fetched=boot_events.scripts_fetched(observer.kept),
                     sources=observer.sources)


def observe(module, params, state):
    """One poll of every source from its cursor; the Observer holds the moved cursors and the kept events."""
    since = params["since"]
    observer = Observer(since, state)
    for path in params["http_logs"]:
        if os.path.exists(path):
            observer.http(path)
        else:
            observer.sources.append({"source": "http", "path": path, "error": "does not exist"})
    if params["tftp_journal"]:
        observer.read("tftp", "journal", lambda cursor: iter([boot_events.tftp_events(read_journal(module, since, cursor), since)]))
    if params["kea_journal"]:
        observer.read("lease", "journal", lambda cursor: iter([boot_events.kea_log_events(read_journal(
            module, since, cursor, ("-u", "kea-dhcp4-server", "-u", "kea-dhcp6-server")), since)]))
    for path in params["tftp_logs"]:
        observer.tftp_file(path)
    for family, paths in ((4, params["lease_files4"]), (6, params["lease_files6"])):
        for path in paths:
            # kea-lfc moves what it has not cleaned up yet to <file>.2: at the first read, leases of the last
            # hour may be there; later, the current file's cursor finishes it when it was moved there.
            if "lease%d:%s" % (family, path) not in observer.cursors and os.path.exists(path + ".2"):
                observer.leases(family, path + ".2", whole=True)
                del observer.cursors["lease%d:%s.2" % (family, path)]
            observer.leases(family, path)
    return observer


if __name__ == "__main__":
    main()
