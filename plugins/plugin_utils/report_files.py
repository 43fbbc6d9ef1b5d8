# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing a bring-up report's files on the controller: JSON, HTML, events (JSON lines), the textfile metrics
and the latest.* links. Shared by netboot.fleet.bringup_report (one run or one slice) and
netboot.fleet.bringup_report_merge (the slices of a run, merged)."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from ansible.errors import AnsibleActionFail

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import report as bringup_report
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import telemetry
from ansible_collections.netboot.fleet.plugins.module_utils.atomic_file import replace_text
from ansible_collections.netboot.fleet.plugins.module_utils.safe_dir import ensure_dir

METRICS_FILE = "netboot_bringup.prom"
KINDS = ("json", "html", "events.jsonl")
# Options of both actions: where the files go and how much of the report the page and the summary show.
OUTPUT_ARGS = dict(
    dest=dict(type="path", default="/var/tmp/netboot-fleet/reports"),
    name=dict(type="str"),
    latest=dict(type="bool", default=True),
    metrics_dir=dict(type="path"),
    summary_limit=dict(type="int", default=40),
    html_limit=dict(type="int", default=2000),
)


def _link(target, link):
    """Point `link` at `target` (a name in the same directory), replacing it atomically."""
    temp = os.path.join(os.path.dirname(link), ".%s.new" % os.path.basename(link))
    if os.path.lexists(temp):
        os.unlink(temp)
    os.symlink(target, temp)
    os.replace(temp, link)


def default_name(started, check_mode):
    """bringup-<UTC start time>[-check]: `started` in epoch seconds (None: now)."""
    started = datetime.now(timezone.utc).timestamp() if started is None else float(started)
    return "bringup-%s%s" % (datetime.fromtimestamp(started, timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
                             "-check" if check_mode else "")


def paths(args, name):
    """{kind: path} of the report's files `name`.<kind> in args["dest"]."""
    if os.sep in name or name.startswith("."):
        raise AnsibleActionFail("name %r: a file name stem is expected (no directory, no leading dot)" % name)
    return {kind: os.path.join(args["dest"], "%s.%s" % (name, kind)) for kind in KINDS}


def write(report, args, name, write_files=True):
    """Write the report as `name`.* in args["dest"] and return the action's result.

    The metrics file (one per directory: the textfile collector reads every *.prom in it) and the latest.*
    links are the run's: written for a real run's report that is the latest (a slice's leaves them to the merge).
    """
    files = paths(args, name)
    real = not report["run"]["check_mode"]
    metrics = os.path.join(args["metrics_dir"] or args["dest"], METRICS_FILE) if real and args["latest"] else None
    if write_files:
        try:
            # Under /var/tmp by default: refused when another user made it (or a link in its place) first.
            ensure_dir(args["dest"], 0o755)
            replace_text(files["json"], bringup_report.to_json(report))
            replace_text(files["html"], bringup_report.to_html(report, limit=args["html_limit"]))
            replace_text(files["events.jsonl"], telemetry.events_jsonl(report))
            if metrics:
                os.makedirs(os.path.dirname(metrics), exist_ok=True)
                replace_text(metrics, telemetry.metrics_text(report))
            # A check run's report does not replace the last real one as "latest".
            if args["latest"] and real:
                for kind, path in files.items():
                    _link(os.path.basename(path), os.path.join(args["dest"], "latest.%s" % kind))
        except OSError as exc:
            raise AnsibleActionFail("cannot write the bring-up report to %s: %s" % (args["dest"], exc)) from None
    return dict(
        changed=True, json=files["json"], html=files["html"], events=files["events.jsonl"], metrics=metrics,
        summary=report["summary"],
        failed_machines=[row["name"] for row in report["machines"] if row["status"] == "failed"],
        installed_machines=[row["name"] for row in report["machines"] if row["status"] in ("booted", "left_alone")],
        lines=bringup_report.summary_lines(report, files["html"], limit=args["summary_limit"]))
