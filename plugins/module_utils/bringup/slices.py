# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One bring-up report from the reports of a run made of slices (AWX job slicing, ansible-runner).

Each slice of playbooks/bringup.yml reports its own machines and what it saw of every DHCP node (every
slice observes every node). The merged report is the one the run would have written as one playbook: the
machines of every slice, ordered and counted as one report (report.summarise), the run from the first
slice's start to the last one's end, the stages any slice ran, the nodes' outcomes (a node that failed in
one slice failed), each forged callback once. Pure: report dicts in (as read from the slices' JSON),
report dict out; the same slices in any order give the same report.
"""

from __future__ import annotations

import json

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import report as bringup_report

# The run's facts every slice must share: slices of different runs (or a check run with a real one) do not merge.
SHARED_RUN = ("check_mode", "sot")


class MergeError(Exception):
    pass


def _first(values):
    present = sorted(value for value in values if value is not None)
    return present[0] if present else None


def _last(values):
    present = sorted(value for value in values if value is not None)
    return present[-1] if present else None


def _merge_run(slices):
    runs = [(label, report["run"]) for label, report in slices]
    for key in SHARED_RUN:
        values = {json.dumps(run.get(key)) for _label, run in runs}
        if len(values) > 1:
            raise MergeError("the slices are not of one run: their run.%s differ (%s)" % (
                key, ", ".join("%s: %s" % (label, json.dumps(run.get(key))) for label, run in runs)))
    first = runs[0][1]
    limits = sorted({run.get("limit") for _label, run in runs if run.get("limit")})
    waits = [run.get("wait") or {} for _label, run in runs]
    stages = {stage for _label, run in runs for stage in run.get("stages") or []}
    # ISO 8601 UTC texts of one format: their order is the times' order.
    return {
        "started": _first(run.get("started") for _label, run in runs),
        "finished": _last(run.get("finished") for _label, run in runs),
        "check_mode": first.get("check_mode"), "sot": first.get("sot"),
        # A limit given to each slice (ansible-runner's limit per slice): the run covered their union.
        "limit": ":".join(limits) if limits else None,
        "stages": [stage for stage in bringup_report.STAGES if stage in stages],
        "wait": {"ran": any(wait.get("ran") for wait in waits),
                 "timeout": _last(wait.get("timeout") for wait in waits),
                 "started": _first(wait.get("started") for wait in waits),
                 "finished": _last(wait.get("finished") for wait in waits)},
    }


def _merge_nodes(slices):
    """A node is one entry: failed if any slice saw it fail (that slice's stage and reason), the most
    events any slice read from it (each slice reads from its own first power command on), every source
    any slice could not read."""
    merged = {}
    for _label, report in slices:
        for node in report["nodes"]:
            entry = merged.setdefault(node["name"], {"name": node["name"], "ok": True, "stage": None, "reason": None,
                                                     "events": 0, "unreadable": set()})
            if not node["ok"] and entry["ok"]:
                entry.update(ok=False, stage=node["stage"], reason=node["reason"])
            entry["events"] = max(entry["events"], node["events"])
            entry["unreadable"].update(node["unreadable"])
    return [dict(entry, unreadable=sorted(entry["unreadable"])) for _name, entry in sorted(merged.items())]


def merge(slices):
    """slices: [(label, report dict)], label naming the slice in errors (its file). Returns the merged report.

    Raises MergeError naming the slice and the field when the slices are not reports of one run, or when
    a machine is in two slices (AWX gives each host to one slice: two reports of one machine are two runs).
    """
    if not slices:
        raise MergeError("no slice reports to merge")
    for label, report in slices:
        if not isinstance(report, dict) or report.get("schema") != bringup_report.SCHEMA:
            raise MergeError("%s: not a bring-up report (schema %s expected, found %s)" % (
                label, bringup_report.SCHEMA, json.dumps(report.get("schema") if isinstance(report, dict) else None)))
        for key in ("run", "summary", "nodes", "machines", "forged_callbacks"):
            if key not in report:
                raise MergeError("%s: the report has no %s" % (label, key))
    # Keys this module does not know (a newer report's): carried over when every slice has the same value.
    known = {"schema", "run", "summary", "nodes", "machines", "forged_callbacks"}
    extra = {}
    for key in sorted({key for _label, report in slices for key in report} - known):
        values = {json.dumps(report.get(key), sort_keys=True) for _label, report in slices}
        if len(values) > 1:
            raise MergeError("the slices' %s differ and cannot be merged (%s)" % (key, ", ".join(label for label, _report in slices)))
        extra[key] = slices[0][1][key]
    owner, rows = {}, []
    for label, report in slices:
        for row in report["machines"]:
            if row["name"] in owner:
                raise MergeError("machine %s is in two slice reports: %s and %s" % (row["name"], owner[row["name"]], label))
            owner[row["name"]] = label
            rows.append(dict(row))
    forged = {json.dumps(entry, sort_keys=True): entry for _label, report in slices for entry in report["forged_callbacks"]}
    merged = dict(extra, schema=bringup_report.SCHEMA, run=_merge_run(slices), nodes=_merge_nodes(slices),
                  forged_callbacks=[forged[key] for key in sorted(forged, key=lambda key: (forged[key].get("time") or "", key))],
                  machines=rows)
    merged["summary"] = bringup_report.summarise(rows)
    return merged
