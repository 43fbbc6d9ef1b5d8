# -*- coding: utf-8 -*-
"""What one wait-stage round and the final report cost at fleet scale (no network, no Ansible).

Synthesises the logs a DHCP node holds after N machines booted (4 nginx lines each in the pxe_server
role's netboot_fleet format, one TFTP line, two Kea lease rows), then times, in one run:

  observe    boot_events: http_events + tftp_events + lease_events + first_events (one wait round on one node)
  baseline   reading the same lines and splitting each on spaces (the floor of any log parser)
  report     bringup_report.build + to_json + to_html for N machines
  baseline   json.dumps of the report's input events (the floor of writing what was observed)
  polls      the wait stage's --polls reads of a node while its nginx log grows to N machines' lines:
             boot_events with cursors (cursor_dir: each poll reads what was appended) against the
             same polls without (each reads the whole log from `since`, as before cursors)

and prints CPU seconds and the ratios. Usage: python benchmarks/bringup_observe.py [--machines 100000] [--polls 60]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
sys.path.insert(0, os.path.join(REPO, "collections"))

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import events as boot_events  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import report as bringup_report  # noqa: E402
from ansible_collections.netboot.fleet.plugins.modules import boot_events as boot_events_module  # noqa: E402

START = 1795705200.0
LEASE_HEADER = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context"


def fleet(count):
    """Machine records as the report action hands them over, and their boots' log lines."""
    machines, http, tftp, leases = [], [], [], [LEASE_HEADER]
    for index in range(count):
        mac = "52:54:%02x:%02x:%02x:%02x" % ((index >> 24) & 255, (index >> 16) & 255, (index >> 8) & 255, index & 255)
        address = "10.%d.%d.%d" % ((index >> 16) & 255, (index >> 8) & 255, index & 255)
        name = "m%06d" % index
        machines.append({"name": name, "mac": mac, "ipv4": address, "network": "rack%d" % (index // 40),
                         "rack": "r%d" % (index // 40), "profile": "debian12", "firmware": "uefi"})
        at = START + 10 + (index % 600) * 0.5
        leases.append("%s,%s,,3600,%d,1,0,0,%s,0," % (address, mac, at + 3600, name))
        leases.append("%s,%s,,3600,%d,1,0,0,%s,0," % (address, mac, at + 3606, name))
        tftp.append((at + 2.1, "RRQ from %s filename snponly.efi" % address))
        http.append('%.3f %s "GET /ipxe/boot.ipxe HTTP/1.1" 200 612 "iPXE/1.21.1"' % (at + 7.2, address))
        http.append('%.3f %s "GET /ipxe/%s.ipxe HTTP/1.1" 200 301 "iPXE/1.21.1"' % (at + 7.3, address, mac))
        http.append('%.3f %s "GET /debian12/linux HTTP/1.1" 200 8123456 "iPXE/1.21.1"' % (at + 7.9, address))
        http.append('%.3f %s "GET /debian12/initrd.gz HTTP/1.1" 200 31234567 "iPXE/1.21.1"' % (at + 9.4, address))
    return machines, http, tftp, "\n".join(leases) + "\n"


def timed(function):
    """CPU seconds of this process (the machine is shared: wall time would measure the neighbours)."""
    started = time.process_time()
    result = function()
    return time.process_time() - started, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=100000)
    parser.add_argument("--polls", type=int, default=60)
    options = parser.parse_args()
    count = options.machines
    machines, http, tftp, leases = fleet(count)

    def observe():
        events = boot_events.http_events(http, START)
        events += boot_events.tftp_events(tftp, START)
        events += boot_events.lease_events(leases, 4, START)
        return boot_events.first_events(events)

    floor_seconds, _split = timed(lambda: [line.split(" ") for line in http] + [message.split(" ") for _at, message in tftp]
                                  + [row.split(",") for row in leases.splitlines()])
    observe_seconds, events = timed(observe)
    result = {"item": "dhcp-a1", "events": events, "scripts_fetched": boot_events.scripts_fetched(events)}
    power = {machine["name"]: {"ok": True, "sent": START + 10 + (index % 600) * 0.5, "action": "on", "previous_state": "off"}
             for index, machine in enumerate(machines)}
    run = {"started": START, "finished": START + 400, "check_mode": False, "sot": "/srv/sot", "stages": ["power", "wait"]}
    wait = {"ran": True, "timeout": 600, "started": START + 11, "finished": START + 400}
    dump_seconds, _text = timed(lambda: json.dumps(events))

    def write_report():
        report = bringup_report.build(machines, run, power=power, observations=[result], wait=wait)
        return bringup_report.to_json(report), bringup_report.to_html(report)

    report_seconds, outputs = timed(write_report)
    ok = json.loads(outputs[0])["summary"]["counts"]["ok"]

    print("%d machines, %d log lines, %d events kept, %d machines ok in the report" % (
        count, len(http) + len(tftp) + count * 2, len(events), ok))
    print("observe (one round, one node) %.2f CPU s   split-only baseline %.2f s   ratio %.1fx" % (
        observe_seconds, floor_seconds, observe_seconds / floor_seconds))
    print("report (build + JSON + HTML)  %.2f s   json.dumps(events) baseline %.2f s   ratio %.1fx   (JSON %.1f MB, HTML %.1f MB)" % (
        report_seconds, dump_seconds, report_seconds / dump_seconds, len(outputs[0]) / 1e6, len(outputs[1]) / 1e6))
    with_cursor, without, same = polls(http, options.polls)
    print("%d polls while the log grows: with cursors %.2f CPU s, whole log each poll %.2f s; ratio %.1fx less; "
          "same events: %s" % (options.polls, with_cursor, without, without / with_cursor, same))


def polls(http, count):
    """CPU seconds of `count` polls of a growing nginx log with cursors and without; whether both saw the same."""
    params = {"since": START, "http_logs": [], "tftp_journal": False, "tftp_logs": [], "lease_files4": [], "lease_files6": []}
    step = (len(http) + count - 1) // count
    with tempfile.TemporaryDirectory() as directory:
        log = os.path.join(directory, "netboot-pxe.log")
        params["http_logs"] = [log]
        open(log, "w").close()
        state, seconds = {"sources": {}, "events": []}, {"cursor": 0.0, "whole": 0.0}
        for first in range(0, len(http), step):
            with open(log, "a", encoding="utf-8") as handle:
                handle.write("\n".join(http[first:first + step]) + "\n")
            spent, observer = timed(lambda: boot_events_module.observe(None, params, state))
            state = {"sources": observer.cursors, "events": observer.kept}
            seconds["cursor"] += spent
            spent, whole = timed(lambda: boot_events_module.observe(None, params, {"sources": {}, "events": []}))
            seconds["whole"] += spent
    return seconds["cursor"], seconds["whole"], whole.kept == observer.kept


if __name__ == "__main__":
    main()
