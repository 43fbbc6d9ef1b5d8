# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bring-up report: per-machine timeline from power command to booted from disk.

Pure: SoT machine records, the power stage's per-machine outcomes, the boot events each DHCP
node observed (module_utils/bringup/events.py) and the run's facts in -> report dict -> JSON
text, one self-contained HTML page (no external assets, no script) and a terminal summary.
Deterministic: the same inputs give byte-identical outputs (golden-file tests).

A machine's events are correlated across nodes (any anycast node may have served any step):
  lease   first lease4 of its MAC, or lease6 of its DUID or hwaddr
  loader  first boot-loader fetch (TFTP or HTTP) from any of its addresses (SoT or leased)
  script  first successful fetch of ipxe/<mac>.ipxe   <- the evidence "fetched its own script"
  answer  first successful fetch of installer/<name>/...
With the machines' provisioning states of the run (bringup/lifecycle.py, `lifecycle`), every state the machine
went through (kernel, installing, installed, booted from disk), its attempts and its final state; installed
machines the run left alone; forged callbacks.
"""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import consoles
from ansible_collections.netboot.fleet.plugins.module_utils.bringup.timeline import Index, machine_events

SCHEMA = "netboot.fleet/bringup-report/1"
# Timeline steps, in boot order: (key, label).
STEPS = (
    ("power", "power command sent"),
    ("lease", "DHCP lease seen"),
    ("loader", "boot loader fetched"),
    ("script", "iPXE script fetched"),
    ("kernel", "installer kernel fetched"),
    ("answer", "installer answer file fetched"),
    ("installing", "installer at work (fetches after its answer file)"),
    ("installed", "install-done callback"),
    ("booted", "booted from disk (first-boot callback)"),
)
STEP_HEADERS = {"power": "Power", "lease": "Lease", "loader": "Loader", "script": "Script", "kernel": "Kernel",
                "answer": "Answer file", "installing": "Installing", "installed": "Installed", "booted": "Booted"}
# Lifecycle states shown as report steps (the others have their own names here).
LIFECYCLE_STEPS = {"power": "power", "dhcp": "lease", "loader": "loader", "script": "script", "kernel": "kernel",
                   "answer": "answer", "installing": "installing", "installed": "installed", "booted": "booted"}
STAGES = ("validate", "deploy", "apply", "boot_device", "power", "wait")
# Statuses, in the order the report lists them (failed machines on top).
STATUSES = ("failed", "unobserved", "planned", "not_started", "installed", "ok", "left_alone", "booted")
STATUS_TEXT = {
    "installed": "installed, not booted from disk yet",
    "left_alone": "installed earlier, left alone",
    "booted": "booted from disk",
    "failed": "failed",
    "unobserved": "powered, not observed",
    "planned": "planned (check mode)",
    "not_started": "not started",
    "ok": "script fetched",
}


def iso(stamp):
    """Epoch seconds as ISO 8601 UTC with milliseconds; None stays None."""
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _step(pair, origin, detail):
    event, node = pair
    return {"time": iso(event["time"]), "offset": None if origin is None else round(event["time"] - origin, 3),
            "node": node, "detail": detail}


def _detail(step, event):
    if step == "lease":
        return "%s (%s)" % (event["detail"], "DHCPv4" if event["kind"] == "lease4" else "DHCPv6")
    if step == "loader":
        return "%s over %s" % (event["detail"], "TFTP" if event["status"] is None else "HTTP")
    return event["detail"]


def _wait_reason(found, origin, timeout):
    """Why a machine did not fetch its script: the last thing it was seen doing."""
    within = "within %s s" % timeout if timeout else "during the wait"

    def at(pair):
        return "" if origin is None else " at %+.1f s" % (pair[0]["time"] - origin)

    refused = found.get("_script_refused")
    if refused:
        return "asked for its iPXE script %s%s and got HTTP %s (are the PXE assets applied on %s?)" % (
            refused[0]["detail"], at(refused), refused[0]["status"], refused[1])
    entry = found.get("_entry")
    if entry:
        return "fetched ipxe/boot.ipxe%s but not its own script %s" % (at(entry), within)
    if "loader" in found:
        return "fetched %s%s, then nothing more %s" % (_detail("loader", found["loader"][0]), at(found["loader"]), within)
    if "lease" in found:
        return "got a DHCP lease (%s)%s, then fetched nothing %s" % (found["lease"][0]["detail"], at(found["lease"]), within)
    return "no DHCP lease and no fetch seen %s" % within


def _check_plan(power):
    """What the power stage would do, from its check-mode results."""
    if power.get("action"):
        return "would set the next boot to network and send power '%s' (now %s)" % (
            power["action"], power.get("previous_state") or "unknown")
    return "would set the next boot to network; power already %s, nothing to send" % (power.get("previous_state") or "unknown")


def normalise_observation(result):
    """One node's observation from a boot_events task result (looped over nodes: `item` is the node)."""
    error = None
    if result.get("unreachable") or result.get("failed"):
        error = "%s%s" % ("unreachable: " if result.get("unreachable") else "", result.get("msg") or "failed")
    return {"node": result.get("node") or result.get("item"), "events": result.get("events") or [],
            "sources": result.get("sources") or [], "error": error}


def build(machines, run, power=None, observations=None, nodes=None, wait=None, lifecycle=None):
    """The report dict.

    machines      SoT machine records in scope (dicts as Machine.as_dict() gives them)
    run           {"started", "finished" (epoch), "check_mode", "sot", "limit", "stages" ran}
    power         {name: {"ok", "stage" (boot_device|power), "msg", "sent" (epoch), "action", "previous_state"}}
    observations  boot_events results, one per DHCP node: {"node" or "item" (the node), "events", "sources",
                  "failed", "unreachable", "msg"}
    nodes         {name: {"ok", "stage", "msg"}} DHCP node outcomes of the deploy and apply stages
    wait          {"ran", "timeout", "started", "finished"} of the wait stage
    lifecycle     {"run", "records" {name: lifecycle record}, "left_alone" [names], "forged" [callbacks]}
    """
    lifecycle = lifecycle or {}
    power = power or {}
    observations = sorted((normalise_observation(result) for result in observations or []), key=lambda entry: entry["node"])
    wait = wait or {"ran": False}
    index = Index(observations)
    rows = []
    for machine in sorted(machines, key=lambda record: record["name"]):
        outcome = power.get(machine["name"])
        found = machine_events(machine, index)
        steps = {}
        powered = bool(outcome and outcome.get("ok") and outcome.get("sent") is not None and not run.get("check_mode"))
        # Offsets count from the power command; without one (power stage not run), from the machine's first event.
        if powered:
            origin, offsets_from = outcome["sent"], "power"
            steps["power"] = {"time": iso(outcome["sent"]), "offset": 0.0, "node": None,
                              "detail": "%s (was %s)" % (outcome.get("action") or "none needed",
                                                         outcome.get("previous_state") or "unknown")}
        else:
            seen = [found[step][0]["time"] for step, _label in STEPS if step in found]
            origin, offsets_from = (min(seen), "first_event") if seen else (None, None)
        for step, _label in STEPS[1:]:
            if step in found:
                steps[step] = _step(found[step], origin, _detail(step, found[step][0]))
        status, stage, reason = "ok", None, None
        if outcome and not outcome.get("ok"):
            status, stage, reason = "failed", outcome.get("stage") or "power", outcome.get("msg") or "failed"
        elif run.get("check_mode"):
            status, reason = "planned", _check_plan(outcome) if outcome else "power stage not run"
        elif "script" in steps:
            status = "ok"
        elif wait.get("ran"):
            status, stage, reason = "failed", "wait", _wait_reason(found, origin if powered else None, wait.get("timeout"))
        elif outcome:
            status, reason = "unobserved", "the wait stage did not run"
        else:
            status, reason = "not_started", "the power and wait stages did not run"
        row = {
            "name": machine["name"], "mac": machine["mac"], "ipv4": machine.get("ipv4"), "ipv6": machine.get("ipv6"),
            "network": machine["network"], "rack": machine.get("rack"), "profile": machine["profile"],
            "firmware": machine["firmware"], "status": status, "stage": stage, "reason": reason,
            "steps": steps, "offsets_from": offsets_from,
            "seconds_to_script": steps["script"]["offset"] if "script" in steps and powered else None,
        }
        _lifecycle_row(row, lifecycle, run, wait)
        rows.append(row)
    return {
        "schema": SCHEMA,
        "run": {
            "started": iso(run.get("started")), "finished": iso(run.get("finished")),
            "check_mode": bool(run.get("check_mode")), "sot": run.get("sot"), "limit": run.get("limit"),
            "stages": [stage for stage in STAGES if stage in (run.get("stages") or [])],
            "wait": {"ran": bool(wait.get("ran")), "timeout": wait.get("timeout"),
                     "started": iso(wait.get("started")), "finished": iso(wait.get("finished"))},
        },
        "summary": summarise(rows),
        "forged_callbacks": [dict(entry, time=iso(float(entry["time"]))) for entry in lifecycle.get("forged") or []],
        "nodes": _nodes(nodes or {}, observations),
        "machines": rows,
    }


def summarise(rows):
    """Order the machine rows in place (failed first, by stage; within each status the slowest first) and
    count them: the report's summary. The merge of slice reports (bringup/slices.py) orders and counts
    its rows with it too."""
    rows.sort(key=lambda row: (STATUSES.index(row["status"]),
                               STAGES.index(row["stage"]) if row["stage"] in STAGES else len(STAGES),
                               -_last_offset(row), row["name"]))
    counts = {status: 0 for status in STATUSES}
    for row in rows:
        counts[row["status"]] += 1
    durations = sorted(row["seconds_to_script"] for row in rows if row["seconds_to_script"] is not None)
    booted = sorted(row["seconds_to_booted"] for row in rows if row.get("seconds_to_booted") is not None)
    return {
        "machines": len(rows), "counts": counts,
        "seconds_to_script": {"median": _median(durations), "max": durations[-1] if durations else None},
        "installed": counts["booted"] + counts["left_alone"] + counts["installed"],
        "seconds_to_booted": {"median": _median(booted), "max": booted[-1] if booted else None},
    }


def _lifecycle_row(row, lifecycle, run, wait):
    """Overlay the machine's provisioning state of this run: every state reached, attempts, final state."""
    name = row["name"]
    if name in (lifecycle.get("left_alone") or []):
        row.update(status="left_alone", stage=None, reason="installed before this run: no power command, boots its disk",
                   attempts=0)
        return
    record = (lifecycle.get("records") or {}).get(name)
    if not record or record.get("run") != lifecycle.get("run"):
        return
    entries = [entry for entry in record.get("history") or [] if entry["attempt"] >= 1 and entry["time"] >= float(
        run.get("started") or 0) - 1]
    first_power = min((entry["time"] for entry in entries if entry["state"] == "power"), default=None)
    origin = first_power
    latest = [entry for entry in entries if entry["attempt"] == record["attempt"] and entry["state"] in LIFECYCLE_STEPS]
    for entry in latest:
        step = LIFECYCLE_STEPS[entry["state"]]
        if step not in row["steps"] or step in ("power", "kernel", "installing", "installed", "booted"):
            row["steps"][step] = {"time": iso(entry["time"]), "offset": None if origin is None else round(entry["time"] - origin, 3),
                                  "node": None, "detail": entry.get("detail") or ""}
    row["attempts"] = record["attempt"]
    row["state"] = record["state"]
    row["history"] = [{"time": iso(entry["time"]), "state": entry["state"], "attempt": entry["attempt"],
                       "detail": entry.get("detail")} for entry in entries]
    state = record["state"]
    if state == "booted":
        row.update(status="booted", stage=None, reason=None)
        if origin is not None:
            row["seconds_to_booted"] = round(record["since"] - origin, 3)
    elif state == "failed":
        row.update(status="failed", stage=record.get("stage"), reason=record.get("reason"))
    elif state == "installed":
        row.update(status="installed" if not wait.get("ran") else "failed", stage="booted",
                   reason="installed; no first-boot callback before the wait stage ended")
    elif wait.get("ran"):
        row.update(status="failed", stage=state, reason="still at %s when the wait stage ended (attempt %d)"
                   % (state, record["attempt"]))


def _median(values):
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else round((values[middle - 1] + values[middle]) / 2, 3)


def _nodes(nodes, observations):
    """One entry per DHCP node: stage outcome, what its observer read and could not read."""
    observed = {observation["node"]: observation for observation in observations}
    entries = []
    for name in sorted(set(nodes) | set(observed)):
        outcome = nodes.get(name) or {}
        observation = observed.get(name) or {}
        entries.append({
            "name": name, "ok": outcome.get("ok", True) and not observation.get("error"),
            "stage": outcome.get("stage"), "reason": outcome.get("msg") or observation.get("error"),
            "events": len(observation.get("events") or []),
            "unreadable": sorted("%s %s: %s" % (source["source"], source["path"], source["error"])
                                 for source in observation.get("sources") or [] if source.get("error")),
        })
    return entries


# --------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------

def to_json(report):
    """Sorted JSON, one top-level key and one machine per line: readable, greppable, and written by the
    C encoder (an indented dump goes through the much slower pure-Python one)."""
    encode = json.JSONEncoder(sort_keys=True).encode
    parts = []
    # Overview first, the long machine list last.
    for key, value in sorted(report.items(), key=lambda item: (item[0] == "machines", item[0] != "schema", item[0])):
        if key == "machines" and value:
            text = "[\n%s\n  ]" % ",\n".join("    " + encode(row) for row in value)
        else:
            text = encode(value)
        parts.append("  %s: %s" % (encode(key), text))
    return "{\n%s\n}\n" % ",\n".join(parts)


def _offset(step):
    return "" if step is None or step.get("offset") is None else "%+.1f s" % step["offset"]


def summary_lines(report, report_path=None, limit=40):
    """A compact terminal summary: one headline, then failed and other machines (at most `limit`)."""
    counts = report["summary"]["counts"]
    total = report["summary"]["machines"]
    head = "bring-up%s: %d machine%s, %d installed (%d booted from disk, %d left alone), %d failed" % (
        " (CHECK MODE, nothing changed)" if report["run"]["check_mode"] else "", total, "" if total == 1 else "s",
        report["summary"]["installed"], counts["booted"], counts["left_alone"], counts["failed"])
    others = ", ".join("%d %s" % (counts[status], STATUS_TEXT[status])
                       for status in ("ok", "installed", "unobserved", "planned", "not_started") if counts[status])
    if others:
        head += ", " + others
    median = report["summary"]["seconds_to_script"]["median"]
    if median is not None:
        head += "; power to script median %.1f s, max %.1f s" % (median, report["summary"]["seconds_to_script"]["max"])
    booted = report["summary"]["seconds_to_booted"]
    if booted["median"] is not None:
        head += "; power to booted from disk median %.1f s, max %.1f s" % (booted["median"], booted["max"])
    lines = [head]
    for forged in report["forged_callbacks"][:limit]:
        lines.append("  forged %s callback for %s from %s at %s (seen by %s): ignored" % (
            forged["phase"], forged["machine"], forged["client"], forged["time"], forged["node"]))
    for node in report["nodes"]:
        problems = _node_problems(node)
        if problems:
            lines.append("  node %s: %s" % (node["name"], "; ".join(problems)))
    width = max([len(row["name"]) for row in report["machines"]] + [4])
    for row in report["machines"][:limit]:
        steps = row["steps"]
        if row["status"] == "booted":
            text = "booted from disk %s (script %s, answer %s, installed %s), attempt %d" % (
                _offset(steps.get("booted")) or "seen", _offset(steps.get("script")) or "-", _offset(steps.get("answer")) or "-",
                _offset(steps.get("installed")) or "-", row.get("attempts") or 1)
        elif row["status"] == "left_alone":
            text = row["reason"]
        elif row["status"] == "ok":
            text = "script %s (lease %s, loader %s)" % (
                _offset(steps.get("script")) or "seen", _offset(steps.get("lease")) or "-", _offset(steps.get("loader")) or "-")
        else:
            text = ("[%s] " % row["stage"] if row["stage"] else "") + (row["reason"] or "") + (
                " (attempts %d)" % row["attempts"] if row.get("attempts") else "")
        lines.append("  %-7s %-*s %s" % ("FAILED" if row["status"] == "failed" else row["status"], width, row["name"], text))
    if len(report["machines"]) > limit:
        lines.append("  ... and %d more machines (see the report)" % (len(report["machines"]) - limit))
    if report_path:
        lines.append("report: %s" % report_path)
    return lines


_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:20px;margin:0 0 4px}
.filters{display:flex;flex-wrap:wrap;gap:12px;align-items:center;margin:0 0 12px}
.meta{color:#59636e;margin-bottom:16px}
.check{background:#fff8c5;border:1px solid #d4a72c;padding:8px 12px;border-radius:6px;margin-bottom:16px}
.chips span{display:inline-block;padding:4px 10px;border-radius:12px;margin-right:8px;font-weight:600}
.c-ok{background:#dafbe1;color:#116329}.c-failed{background:#ffebe9;color:#a40e26}
.c-unobserved,.c-planned,.c-not_started{background:#eef1f4;color:#424a53}
table{border-collapse:collapse;width:100%;margin-top:16px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #d1d9e0;vertical-align:middle;white-space:nowrap}
th{background:#f6f8fa;font-weight:600}
td.reason{white-space:normal;max-width:380px}
tr.failed td{background:#fff5f5}
tr.failed td:first-child{border-left:4px solid #cf222e}
tr.ok td:first-child{border-left:4px solid #1a7f37}
tr.unobserved td:first-child,tr.planned td:first-child,tr.not_started td:first-child{border-left:4px solid #8c959f}
.num{font-variant-numeric:tabular-nums;color:#424a53}
.track{position:relative;width:360px;height:14px;background:#f6f8fa;border-radius:7px}
.bar{position:absolute;top:5px;height:4px;background:#afb8c1;border-radius:2px}
.dot{position:absolute;top:2px;width:10px;height:10px;margin-left:-5px;border-radius:50%;border:1px solid #fff}
.k-power{background:#57606a}.k-lease{background:#0969da}.k-loader{background:#8250df}
.k-script{background:#1a7f37}.k-answer{background:#bf8700}.k-kernel{background:#6e7781}
.k-installing{background:#9a6700}.k-installed{background:#0550ae}.k-booted{background:#116329}
.c-booted,.c-left_alone{background:#dafbe1;color:#116329}.c-installed{background:#eef1f4;color:#424a53}
tr.booted td:first-child,tr.left_alone td:first-child{border-left:4px solid #1a7f37}
.legend span{margin-right:14px}.legend i{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:4px;vertical-align:-1px}
.nodes{margin-top:8px}.nodes li.bad{color:#a40e26}
.axis{display:flex;justify-content:space-between;width:360px;color:#59636e;font-size:11px}
"""


def _node_problems(node):
    """What went wrong on a DHCP node, as short texts."""
    problems = []
    if not node["ok"]:
        problems.append("%s failed: %s" % (node["stage"], node["reason"]) if node["stage"] else node["reason"] or "failed")
    return problems + ["cannot read " + text for text in node["unreadable"]]


def _last_offset(row):
    """Seconds from the machine's origin to its latest step: how far along (or how slow) it is."""
    return max([step["offset"] for step in row["steps"].values() if step.get("offset") is not None] + [0.0])


def _html_filters(report):
    """Filters over the machine rows (status, rack, network, free text), also set from the URL's #fragment."""
    esc = html.escape
    rows = report["machines"]

    def select(name, label, values):
        options = "".join('<option value="%s">%s</option>' % (esc(value), esc(text)) for value, text in values)
        return '<label>%s <select name="%s"><option value="">all</option>%s</select></label>' % (label, name, options)

    statuses = [(status, STATUS_TEXT[status]) for status in STATUSES if report["summary"]["counts"][status]]
    racks = [(rack, rack) for rack in sorted(set(row["rack"] for row in rows if row["rack"]))]
    networks = [(network, network) for network in sorted(set(row["network"] for row in rows))]
    return ('<form id="filters" class="filters" onsubmit="return false">%s%s%s'
            '<label>search <input name="q" type="search" placeholder="name, MAC, address, profile"></label>'
            '<span class="meta"><span id="shown">%d</span> of %d shown</span></form>\n'
            % (select("status", "status", statuses), select("rack", "rack", racks),
               select("network", "network", networks), len(rows), len(rows)))


# Plain DOM, no library: hides the rows that do not match; #status=failed&rack=r12&q=... presets it.
_FILTER_SCRIPT = """<script>
(function () {
  var form = document.getElementById("filters");
  if (!form) { return; }
  var rows = document.querySelectorAll("#machines tbody tr");
  function apply() {
    var status = form.status.value, rack = form.rack.value, network = form.network.value;
    var text = form.q.value.trim().toLowerCase(), shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var match = (!status || row.dataset.status === status) && (!rack || row.dataset.rack === rack) &&
        (!network || row.dataset.network === network) && (!text || row.dataset.search.indexOf(text) >= 0);
      row.hidden = !match;
      shown += match ? 1 : 0;
    }
    document.getElementById("shown").textContent = shown;
  }
  var preset = new URLSearchParams(location.hash.slice(1));
  ["status", "rack", "network", "q"].forEach(function (name) {
    if (preset.has(name)) { form[name].value = preset.get(name); }
  });
  form.addEventListener("input", apply);
  apply();
})();
</script>
"""


def _html_row(row, scale):
    """One machine: identity, status and reason, one cell per step, and its timeline bar."""
    esc = html.escape
    # The DHCP node that served its script (else its lease): with anycast, which node answered matters.
    served = (row["steps"].get("script") or row["steps"].get("lease") or {}).get("node")
    search = " ".join(value for value in (row["name"], row["mac"], row["ipv4"], row["ipv6"], row["profile"]) if value)
    cells = ['<tr class="%s" data-status="%s" data-rack="%s" data-network="%s" data-search="%s"><td><b>%s</b><br>'
             '<span class="num">%s</span></td><td>%s</td><td class="reason">%s%s</td>'
             '<td>%s</td><td>%s</td><td>%s</td><td>%s</td>' % (
                 row["status"], row["status"], esc(row["rack"] or ""), esc(row["network"]), esc(search.lower()),
                 esc(row["name"]), esc(row["mac"]), esc(STATUS_TEXT[row["status"]]),
                 ("<b>%s</b>: " % esc(row["stage"])) if row["stage"] else "", esc(row["reason"] or ""),
                 esc(row["rack"] or "-"), esc(row["network"]), esc(row["firmware"]), esc(served or "-"))]
    dots = []
    for step, label in STEPS:
        value = row["steps"].get(step)
        if value is None:
            cells.append('<td class="num">-</td>')
            continue
        where = (" from " + value["node"]) if value["node"] else ""
        cells.append('<td class="num" title="%s">%s</td>' % (
            esc("%s %s%s" % (value["time"], value["detail"], where)), esc(_offset(value) or "seen")))
        if value.get("offset") is not None:
            # An event before the power command (a machine that was already booting) sits at 0.
            dots.append((max(0.0, value["offset"]), step, "%s %s%s" % (_offset(value), label, where)))
    span = ""
    if dots:
        first, last = min(dot[0] for dot in dots), max(dot[0] for dot in dots)
        span = '<div class="bar" style="left:%.2f%%;width:%.2f%%"></div>' % (100 * first / scale, 100 * (last - first) / scale)
    cells.append('<td><div class="track">%s%s</div></td></tr>\n' % (span, "".join(
        '<span class="dot k-%s" style="left:%.2f%%" title="%s"></span>' % (step, 100 * offset / scale, esc(title))
        for offset, step, title in dots)))
    return "".join(cells)


def to_html(report, limit=2000):
    """One self-contained page: headline chips, DHCP nodes, legend, and a table with timeline bars.

    At most `limit` machine rows (failed ones come first): a page of 100,000 rows is 100 MB that no
    browser shows well; the JSON holds every machine.
    """
    esc = html.escape
    run = report["run"]
    counts = report["summary"]["counts"]
    total = report["summary"]["machines"]
    scale = max([step["offset"] for row in report["machines"] for step in row["steps"].values()
                 if step.get("offset") is not None] + [1.0])
    out = ['<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
           '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
           '<title>netboot.fleet bring-up %s</title>\n<style>%s</style>\n</head>\n<body>\n'
           % (esc(run["started"] or ""), _CSS)]
    out.append("<h1>Bring-up of %d machine%s</h1>\n" % (total, "" if total == 1 else "s"))
    out.append('<div class="meta">started %s &middot; finished %s &middot; stages: %s%s &middot; source of truth %s</div>\n' % (
        esc(run["started"] or "-"), esc(run["finished"] or "-"), esc(", ".join(run["stages"]) or "none"),
        (" &middot; limit %s" % esc(run["limit"])) if run["limit"] else "", esc(run["sot"] or "-")))
    if run["check_mode"]:
        out.append('<div class="check">Check mode: nothing was changed. The table shows what the run would do.</div>\n')
    out.append('<div class="chips">')
    for status in STATUSES:
        if counts[status] or status in ("ok", "failed"):
            out.append('<span class="c-%s">%d %s</span>' % (status, counts[status], esc(STATUS_TEXT[status])))
    timing = report["summary"]["seconds_to_script"]
    if timing["median"] is not None:
        out.append('<span class="c-not_started">power &rarr; script: median %.1f s, max %.1f s</span>' % (timing["median"], timing["max"]))
    out.append("</div>\n")
    if report["nodes"]:
        out.append('<ul class="nodes">')
        for node in report["nodes"]:
            problems = _node_problems(node)
            out.append('<li class="%s">DHCP node <b>%s</b>: %d events observed%s</li>' % (
                "bad" if problems else "good", esc(node["name"]), node["events"],
                (" &middot; " + esc("; ".join(problems))) if problems else ""))
        out.append("</ul>\n")
    out.append('<p class="legend">%s</p>\n' % "".join('<span><i class="k-%s"></i>%s</span>' % (step, esc(label)) for step, label in STEPS))
    out.append(_html_filters(report))
    out.append("<table id=\"machines\">\n<thead><tr><th>Machine</th><th>Status</th><th>Stage / reason</th><th>Rack</th><th>Network</th><th>Firmware</th>"
               '<th title="DHCP node that served the script (else the lease)">Served by</th>')
    out.append("".join('<th title="%s">%s</th>' % (esc(label), STEP_HEADERS[step]) for step, label in STEPS))
    out.append('<th>Timeline <div class="axis"><span>0 s</span><span>%.0f s</span></div></th></tr></thead>\n<tbody>\n' % scale)
    out.extend(_html_row(row, scale) for row in report["machines"][:limit])
    out.append("</tbody>\n</table>\n")
    if len(report["machines"]) > limit:
        out.append('<p class="meta">%d more machines are not shown here (the JSON report lists every machine).</p>\n'
                   % (len(report["machines"]) - limit))
    out.append(consoles.html(report, limit))
    out.append(_FILTER_SCRIPT)
    out.append("</body>\n</html>\n")
    return "".join(out)
