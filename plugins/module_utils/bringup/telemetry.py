# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bring-up as machine-readable telemetry, from the report dict (bringup/report.py build()):

- events_jsonl: one JSON object per line and per machine step, in time order:
    {"time", "machine", "node", "step", "detail"}  (step: power, lease, loader, script, answer, or
    "failed" with the stage that failed it as "stage")
- metrics_text: the node_exporter textfile-collector format (Prometheus text exposition): machines per
  status, how far machines got (the funnel), failures by stage, machines stalled half-way, seconds from
  the power command to each step as histograms, the run's start and end.

Pure: report dict in, text out. The exposition is written here rather than with prometheus_client so
the controller's runtime dependencies (meta/ee-requirements.txt) stay as they are; the tests read it
back with promtool and prometheus_client's parser.
"""

from __future__ import annotations

import json
from datetime import datetime

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import report as bringup_report

STEP_NAMES = tuple(step for step, _label in bringup_report.STEPS)
# Seconds from the power command to a step: PXE under emulation takes seconds to minutes.
BUCKETS = (5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
PREFIX = "netboot_bringup_"


def _epoch(stamp):
    return None if stamp is None else datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def events(report) -> list:
    """Every machine step of the report, in time order (ties: machine name, then boot order)."""
    rows = []
    for machine in report["machines"]:
        for step in STEP_NAMES:
            found = machine["steps"].get(step)
            if found:
                rows.append({"time": found["time"], "machine": machine["name"], "node": found["node"], "step": step,
                             "detail": found["detail"]})
        if machine["status"] == "failed":
            rows.append({"time": report["run"]["finished"], "machine": machine["name"], "node": None, "step": "failed",
                         "stage": machine["stage"], "detail": machine["reason"]})
    order = STEP_NAMES + ("failed",)
    rows.sort(key=lambda row: (row["time"] or "", row["machine"], order.index(row["step"])))
    return rows


def events_jsonl(report) -> str:
    encode = json.JSONEncoder(sort_keys=True).encode
    return "".join(encode(row) + "\n" for row in events(report))


def _escape(value) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


class _Exposition:
    def __init__(self):
        self.lines = []

    def family(self, name, kind, text, samples):
        """samples: [(suffix, {label: value}, number)]."""
        self.lines.append("# HELP %s%s %s" % (PREFIX, name, text))
        self.lines.append("# TYPE %s%s %s" % (PREFIX, name, kind))
        for suffix, labels, value in samples:
            selector = ",".join('%s="%s"' % (key, _escape(labels[key])) for key in sorted(labels))
            self.lines.append("%s%s%s%s %s" % (PREFIX, name, suffix, "{%s}" % selector if selector else "", _number(value)))

    def text(self):
        return "\n".join(self.lines) + "\n"


def _stalled(machine) -> bool:
    """Failed in the wait after some progress (a lease or a fetch), short of its own script."""
    return machine["status"] == "failed" and machine["stage"] == "wait" and any(
        step in machine["steps"] for step in ("lease", "loader"))


def metrics_text(report) -> str:
    """The run as node_exporter textfile metrics (one file, rewritten by each run)."""
    machines = report["machines"]
    out = _Exposition()
    out.family("machines", "gauge", "Machines of the last bring-up by status",
               [("", {"status": status}, report["summary"]["counts"][status]) for status in bringup_report.STATUSES])
    out.family("machines_reached", "gauge", "Machines of the last bring-up that reached each step (the funnel)",
               [("", {"step": step}, sum(1 for machine in machines if step in machine["steps"])) for step in STEP_NAMES])
    stages = bringup_report.STAGES
    out.family("failures", "gauge", "Machines of the last bring-up that failed, by the stage that failed them",
               [("", {"stage": stage}, sum(1 for machine in machines if machine["status"] == "failed"
                                           and machine["stage"] == stage)) for stage in stages])
    out.family("stalled_machines", "gauge", "Machines that stopped after a lease or a fetch, short of their own script",
               [("", {}, sum(1 for machine in machines if _stalled(machine)))])
    histogram = []
    for step in STEP_NAMES[1:]:
        offsets = [machine["steps"][step]["offset"] for machine in machines
                   if machine.get("offsets_from") == "power" and step in machine["steps"]]
        for bound in BUCKETS:
            histogram.append(("_bucket", {"step": step, "le": repr(bound)}, sum(1 for value in offsets if value <= bound)))
        histogram.append(("_bucket", {"step": step, "le": "+Inf"}, len(offsets)))
        histogram.append(("_sum", {"step": step}, round(sum(offsets), 3)))
        histogram.append(("_count", {"step": step}, len(offsets)))
    out.family("step_seconds", "histogram", "Seconds from the power command to each step of a machine", histogram)
    run = report["run"]
    out.family("run_started_timestamp_seconds", "gauge", "Start of the last bring-up (Unix time)",
               [("", {}, _epoch(run["started"]) or 0.0)])
    out.family("run_finished_timestamp_seconds", "gauge", "End of the last bring-up (Unix time)",
               [("", {}, _epoch(run["finished"]) or 0.0)])
    return out.text()
