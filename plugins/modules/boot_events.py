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
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Only reads.
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
  description: What was read, with the number of events found in it, or why it could not be read.
  returned: always
  type: list
  elements: dict
  sample:
    - {source: http, path: /var/log/nginx/netboot-pxe.log, events: 412}
    - {source: tftp, path: journal, events: 3}
    - {source: lease4, path: /var/lib/kea/kea-leases4.csv, error: "No such file or directory"}
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import events as boot_events

# Logs larger than this are entered by bisection on their time stamps instead of read whole.
_BISECT_ABOVE = 4 * 1024 * 1024
# Lines are written when a request completes, so they are only nearly in time order: step back this far.
_BISECT_SLACK = 256 * 1024


def read_http_log(path, since):
    """Lines of an nginx log from about `since` on: a large log is bisected, not read from its start."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        low, high = 0, size
        if size > _BISECT_ABOVE:
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
        handle.seek(low)
        if low:
            handle.readline()
        return handle.read().decode("utf-8", "replace").splitlines()


def read_journal(module, since, selection=("-t", "in.tftpd")):
    journalctl = module.get_bin_path("journalctl")
    if journalctl is None:
        raise OSError("journalctl is not installed")
    rc, out, err = module.run_command([journalctl, "--no-pager", "-o", "json"] + list(selection) +
                                      ["--since", "@%d" % int(since)])
    if rc != 0:
        raise OSError(err.strip() or "journalctl exited with %d" % rc)
    return [record for record in map(boot_events.parse_journal_line, out.splitlines()) if record]


def read_text(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


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
        ),
        supports_check_mode=True,
    )
    params = module.params
    since = params["since"]
    events, sources = [], []

    def read(source, path, reader):
        try:
            found = reader()
        except OSError as exc:
            sources.append({"source": source, "path": path, "error": exc.strerror or str(exc)})
            return
        sources.append({"source": source, "path": path, "events": len(found)})
        events.extend(found)

    for path in params["http_logs"]:
        if os.path.exists(path):
            read("http", path, lambda path=path: boot_events.http_events(read_http_log(path, since), since))
        else:
            sources.append({"source": "http", "path": path, "error": "does not exist"})
    if params["tftp_journal"]:
        read("tftp", "journal", lambda: boot_events.tftp_events(read_journal(module, since), since))
    if params["kea_journal"]:
        read("lease", "journal", lambda: boot_events.kea_log_events(read_journal(
            module, since, ("-u", "kea-dhcp4-server", "-u", "kea-dhcp6-server")), since))
    year = time.localtime(since).tm_year
    for path in params["tftp_logs"]:
        read("tftp", path, lambda path=path: boot_events.tftp_events(
            filter(None, (boot_events.parse_syslog_line(line, year) for line in read_text(path).splitlines())), since))
    for family, paths in ((4, params["lease_files4"]), (6, params["lease_files6"])):
        for path in paths:
            # kea-lfc moves what it has not yet cleaned up to <file>.2: leases of the last hour may be there.
            for part in (path + ".2", path):
                if part != path and not os.path.exists(part):
                    continue
                read("lease%d" % family, part, lambda part=part, family=family: boot_events.lease_events(
                    read_text(part), family, since))

    first = boot_events.first_events(events)
    module.exit_json(changed=False, events=first, scripts_fetched=boot_events.scripts_fetched(first), sources=sources)


if __name__ == "__main__":
    main()
