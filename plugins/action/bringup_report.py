# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bringup_report: build the bring-up report on the controller and write it as JSON and HTML, with its
events as JSON lines and its metrics in the node_exporter textfile format."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone

from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.netboot.fleet.plugins.module_utils.bmc import console
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import consoles
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import report as bringup_report
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import store
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import telemetry
from ansible_collections.netboot.fleet.plugins.module_utils.safe_dir import ensure_dir
from ansible_collections.netboot.fleet.plugins.plugin_utils import machine_state
from ansible_collections.netboot.fleet.plugins.plugin_utils.sot_action import SotAction


def _write(path, text):
    """Atomically: a reader (or a browser reloading) never sees half a report."""
    handle, temp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".bringup-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def _link(target, link):
    """Point `link` at `target` (a name in the same directory), replacing it atomically."""
    temp = os.path.join(os.path.dirname(link), ".%s.new" % os.path.basename(link))
    if os.path.lexists(temp):
        os.unlink(temp)
    os.symlink(target, temp)
    os.replace(temp, link)


METRICS_FILE = "netboot_bringup.prom"


class ActionModule(SotAction):
    _requires_connection = False
    TRANSFERS_FILES = False

    ACTION_ARGS = dict(
        machines=dict(type="list", elements="str", required=True),
        run=dict(type="dict", required=True),
        power=dict(type="dict", default={}),
        observations=dict(type="list", elements="dict", default=[]),
        nodes=dict(type="dict", default={}),
        wait=dict(type="dict", default={}),
        lifecycle=dict(type="dict", default={}),
        **machine_state.STATE_DIR_ARG,
        dest=dict(type="path", default="/var/tmp/netboot-fleet/reports"),
        latest=dict(type="bool", default=True),
        metrics_dir=dict(type="path"),
        consoles=dict(type="dict", default={}),
        summary_limit=dict(type="int", default=40),
        html_limit=dict(type="int", default=2000),
    )

    def answer(self, fleet, args, task_vars):
        wanted = set(args["machines"])
        records = [machine.as_dict() for machine in fleet.machines if machine.name in wanted]
        unknown = sorted(wanted - {record["name"] for record in records})
        if unknown:
            raise AnsibleActionFail("machines not in the source of truth %s: %s" % (args["sot"], ", ".join(unknown)))
        run, wait = dict(args["run"]), dict(args["wait"])
        # Before ansible-core 2.19 a templated value arrives as a string: "1765100000.5", "False", "".
        for record in (run, wait):
            for key in ("started", "finished"):
                record[key] = None if record.get(key) in (None, "") else float(record[key])
        run["check_mode"] = boolean(run.get("check_mode", False), strict=False)
        wait["ran"] = boolean(wait.get("ran", False), strict=False)
        lifecycle = dict(args["lifecycle"])
        if lifecycle.get("run") not in (None, ""):
            lifecycle["run"] = str(lifecycle["run"])  # as bringup_progress got it (a str option)
            try:
                states = machine_state.machine_store(args, task_vars, self._templar, self.sot_path(args, task_vars)).read()
            except store.StoreError as exc:
                raise AnsibleActionFail(str(exc)) from None
            lifecycle["records"] = {name: states[name] for name in wanted if name in states}
        report = bringup_report.build(records, run, power=args["power"], observations=args["observations"],
                                      nodes=args["nodes"], wait=wait, lifecycle=lifecycle)
        consoles.attach(report, {name: console.read_lines(path) for name, path in args["consoles"].items() if path})
        started = run.get("started") or datetime.now(timezone.utc).timestamp()
        stem = "bringup-%s%s" % (datetime.fromtimestamp(float(started), timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
                                 "-check" if report["run"]["check_mode"] else "")
        dest = args["dest"]
        paths = {"json": os.path.join(dest, stem + ".json"), "html": os.path.join(dest, stem + ".html"),
                 "events.jsonl": os.path.join(dest, stem + ".events.jsonl")}
        # One metrics file, replaced by each real run: the textfile collector reads every *.prom of its directory.
        metrics = None if report["run"]["check_mode"] else os.path.join(args["metrics_dir"] or dest, METRICS_FILE)
        try:
            # Under /var/tmp by default: refused when another user made it (or a link in its place) first.
            ensure_dir(dest, 0o755)
            _write(paths["json"], bringup_report.to_json(report))
            _write(paths["html"], bringup_report.to_html(report, limit=args["html_limit"]))
            _write(paths["events.jsonl"], telemetry.events_jsonl(report))
            if metrics:
                os.makedirs(os.path.dirname(metrics), exist_ok=True)
                _write(metrics, telemetry.metrics_text(report))
            # A check run's report does not replace the last real one as "latest".
            if args["latest"] and not report["run"]["check_mode"]:
                for kind, path in paths.items():
                    _link(os.path.basename(path), os.path.join(dest, "latest.%s" % kind))
        except OSError as exc:
            raise AnsibleActionFail("cannot write the bring-up report to %s: %s" % (dest, exc)) from None
        return dict(
            changed=True, json=paths["json"], html=paths["html"], events=paths["events.jsonl"], metrics=metrics,
            summary=report["summary"],
            failed_machines=[row["name"] for row in report["machines"] if row["status"] == "failed"],
            installed_machines=[row["name"] for row in report["machines"] if row["status"] in ("booted", "left_alone")],
            lines=bringup_report.summary_lines(report, paths["html"], limit=args["summary_limit"]))
