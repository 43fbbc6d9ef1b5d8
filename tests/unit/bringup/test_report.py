# -*- coding: utf-8 -*-
"""The bring-up report: correlation across nodes, statuses and reasons, JSON/HTML/terminal outputs (golden)."""

import json

import pytest

from bringup_testlib import POWER, RUN, SINCE, WAIT, golden
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import report as bringup_report


def test_golden_json(report):
    golden("report.json", bringup_report.to_json(report))


def test_golden_html(report):
    golden("report.html", bringup_report.to_html(report))


def test_golden_summary(report):
    golden("summary.txt", "\n".join(bringup_report.summary_lines(report, "/var/tmp/netboot-fleet/reports/x.html")) + "\n")


def test_failed_machines_first_with_stage_and_reason(report):
    rows = [(row["name"], row["status"], row["stage"]) for row in report["machines"]]
    assert rows == [("v6-worker1", "failed", "power"), ("web1", "failed", "wait"),
                    ("img-server1", "ok", None), ("img-server2", "ok", None)]
    web1 = report["machines"][1]
    assert "HTTP 404" in web1["reason"] and "ipxe/52:54:00:12:00:03.ipxe" in web1["reason"]
    assert "dhcp-a1" in web1["reason"]


def test_steps_are_correlated_across_nodes(report):
    rows = {row["name"]: row for row in report["machines"]}
    one = rows["img-server1"]["steps"]
    assert one["lease"]["offset"] == 2.0 and one["lease"]["node"] == "dhcp-a1"      # lease4 before lease6
    assert "loader" not in one                                                      # NIC iPXE ROM: no TFTP
    assert one["script"]["offset"] == 3.317 and one["answer"]["offset"] == 35.2
    two = rows["img-server2"]["steps"]
    assert two["loader"] == {"time": "2026-11-26T15:00:18.500Z", "offset": 8.3, "node": "dhcp-a2", "detail": "snponly.efi over TFTP"}
    assert two["script"]["offset"] == 11.8 and two["script"]["node"] == "dhcp-a2"
    assert rows["web1"]["steps"]["loader"]["detail"] == "snponly.efi over HTTP"
    assert report["summary"]["seconds_to_script"] == {"median": 7.559, "max": 11.8}
    assert report["summary"]["counts"] == {"failed": 2, "unobserved": 0, "planned": 0, "not_started": 0, "ok": 2,
                                           "installed": 0, "left_alone": 0, "booted": 0}


def test_the_script_from_another_node_wins_over_a_404(machines, observations):
    late = {"item": "dhcp-a2", "events": [
        {"time": SINCE + 30, "kind": "script", "key": "52:54:00:12:00:03", "client": "198.51.100.12",
         "detail": "ipxe/52:54:00:12:00:03.ipxe", "status": 200}]}
    report = bringup_report.build(machines, RUN, power=POWER, observations=observations + [late], wait=WAIT)
    web1 = [row for row in report["machines"] if row["name"] == "web1"][0]
    assert web1["status"] == "ok" and web1["steps"]["script"]["offset"] == 19.6


@pytest.mark.parametrize("events,reason", [
    ([], "no DHCP lease and no fetch seen within 60 s"),
    ([("lease4", "52:54:00:12:00:03", "198.51.100.12", "198.51.100.12", None)],
     "got a DHCP lease (198.51.100.12) at +4.6 s, then fetched nothing within 60 s"),
    ([("loader", "198.51.100.12", "198.51.100.12", "snponly.efi", None)],
     "fetched snponly.efi over TFTP at +4.6 s, then nothing more within 60 s"),
    ([("entry", "198.51.100.12", "198.51.100.12", "ipxe/boot.ipxe", 200)],
     "fetched ipxe/boot.ipxe at +4.6 s but not its own script within 60 s"),
])
def test_wait_reason_is_the_last_step_seen(machines, events, reason):
    observed = [{"item": "dhcp-a1", "events": [
        {"time": SINCE + 15, "kind": kind, "key": key, "client": client, "detail": detail, "status": status}
        for kind, key, client, detail, status in events]}]
    report = bringup_report.build(machines, RUN, power=POWER, observations=observed, wait=WAIT)
    web1 = [row for row in report["machines"] if row["name"] == "web1"][0]
    assert (web1["status"], web1["stage"], web1["reason"]) == ("failed", "wait", reason)


def test_check_mode_reports_the_plan(machines):
    plan = {"img-server1": {"ok": True, "sent": SINCE + 1, "action": "on", "previous_state": "off"},
            "web1": {"ok": True, "sent": SINCE + 1, "action": None, "previous_state": "on"}}
    scope = [machine for machine in machines if machine["name"] != "v6-worker1"]
    report = bringup_report.build(scope, dict(RUN, check_mode=True), power=plan)
    rows = {row["name"]: row for row in report["machines"]}
    assert rows["img-server1"]["status"] == "planned" and rows["img-server1"]["steps"] == {}
    assert rows["img-server1"]["reason"] == "would set the next boot to network and send power 'on' (now off)"
    assert rows["web1"]["reason"] == "would set the next boot to network; power already on, nothing to send"
    assert rows["img-server2"]["reason"] == "power stage not run"
    golden("report-check.html", bringup_report.to_html(report))
    assert bringup_report.summary_lines(report)[0].startswith("bring-up (CHECK MODE, nothing changed): 3 machines")


def test_without_wait_stage_machines_are_unobserved_or_not_started(machines):
    report = bringup_report.build(machines, dict(RUN, stages=["power"]), power={"web1": POWER["web1"]})
    statuses = {row["name"]: row["status"] for row in report["machines"]}
    assert statuses == {"web1": "unobserved", "img-server1": "not_started", "img-server2": "not_started", "v6-worker1": "not_started"}


def test_unreachable_node_is_reported(machines):
    observed = [{"item": "dhcp-a2", "unreachable": True, "msg": "podman exec failed"},
                {"item": "dhcp-a1", "events": [], "sources": [{"source": "tftp", "path": "journal", "error": "No journal files"}]}]
    report = bringup_report.build(machines, RUN, power=POWER, observations=observed, wait=WAIT,
                                  nodes={"dhcp-a1": {}, "dhcp-a2": {}, "dhcp-a3": {"ok": False, "stage": "deploy", "msg": "apt failed"}})
    assert report["nodes"] == [
        {"name": "dhcp-a1", "ok": True, "stage": None, "reason": None, "events": 0, "unreadable": ["tftp journal: No journal files"]},
        {"name": "dhcp-a2", "ok": False, "stage": None, "reason": "unreachable: podman exec failed", "events": 0, "unreadable": []},
        {"name": "dhcp-a3", "ok": False, "stage": "deploy", "reason": "apt failed", "events": 0, "unreadable": []},
    ]
    lines = bringup_report.summary_lines(report)
    assert "  node dhcp-a3: deploy failed: apt failed" in lines


def test_outputs_are_deterministic_and_html_self_contained(report):
    text = bringup_report.to_html(report)
    # Nothing fetched from elsewhere: the one script is inline (the row filters).
    assert "http://" not in text and "https://" not in text and text.count("<script") == 1 and "<script src" not in text
    assert bringup_report.to_json(report) == bringup_report.to_json(json.loads(bringup_report.to_json(report)))


def test_html_escapes_machine_data(machines):
    evil = dict(machines[0], name="<b>x</b>", rack="r&d")
    report = bringup_report.build([evil], RUN, power={"<b>x</b>": {"ok": False, "stage": "power", "msg": "<script>"}})
    text = bringup_report.to_html(report)
    assert "<b>x</b>" not in text and "&lt;b&gt;x&lt;/b&gt;" in text and "&lt;script&gt;" in text and "r&amp;d" in text


def test_summary_is_capped(report):
    lines = bringup_report.summary_lines(report, limit=1)
    assert lines[-1] == "  ... and 3 more machines (see the report)"


def test_html_rows_are_capped_failed_first(report):
    text = bringup_report.to_html(report, limit=2)
    assert "v6-worker1" in text and "web1" in text and "img-server1" not in text
    assert "2 more machines are not shown here" in text


def test_without_power_command_offsets_count_from_the_first_event(machines, observations):
    """--tags wait after machines were powered some other way: no power step, offsets from the first event seen."""
    report = bringup_report.build(machines, dict(RUN, stages=["wait"]), observations=observations, wait=WAIT)
    rows = {row["name"]: row for row in report["machines"]}
    two = rows["img-server2"]
    assert two["offsets_from"] == "first_event" and "power" not in two["steps"]
    assert (two["steps"]["lease"]["offset"], two["steps"]["loader"]["offset"], two["steps"]["script"]["offset"]) == (0.0, 2.5, 6.0)
    assert two["seconds_to_script"] is None and report["summary"]["seconds_to_script"]["median"] is None
    assert rows["web1"]["reason"] == "asked for its iPXE script ipxe/52:54:00:12:00:03.ipxe and got HTTP 404 (are the PXE assets applied on dhcp-a1?)"
    assert rows["v6-worker1"]["offsets_from"] is None


def test_lifecycle_states_show_every_step_attempts_and_the_final_state(machines, observations):
    from ansible_collections.netboot.fleet.plugins.module_utils.bringup import lifecycle
    start = RUN["started"]
    booted = lifecycle.start(lifecycle.new_record(start), "r1", start + 10, "on (was off)")
    booted, _action = lifecycle.advance(booted, {"dhcp": (start + 12, "lease"), "script": (start + 13, "script"),
                                                 "kernel": (start + 14, "minimal/linux"), "answer": (start + 40, "answer"),
                                                 "installing": (start + 41, "disk.img.gz"),
                                                 "installed": (start + 70, "callback"), "booted": (start + 100, "callback")},
                                        {}, start + 101, lifecycle.Policy())
    failed = lifecycle.start(lifecycle.new_record(start), "r1", start + 10)
    failed = lifecycle.start(failed, "r1", start + 60, "retry after answer file: 404")
    failed = lifecycle.fail(failed, "answer", "GET /installer/img-server2/install.conf answered HTTP 404 by dhcp-a1", start + 70)
    forged = [{"machine": "img-server1", "time": start + 20, "client": "198.51.100.99", "phase": "installed", "node": "dhcp-a1"}]
    report = bringup_report.build(machines, RUN, power=POWER, observations=observations, wait=WAIT, lifecycle={
        "run": "r1", "records": {"img-server1": booted, "img-server2": failed}, "left_alone": ["web1"], "forged": forged})
    rows = {row["name"]: row for row in report["machines"]}
    assert rows["img-server1"]["status"] == "booted" and rows["img-server1"]["seconds_to_booted"] == 90.0
    assert {"kernel", "installing", "installed", "booted"} <= set(rows["img-server1"]["steps"])
    assert rows["img-server1"]["steps"]["booted"]["offset"] == 90.0
    assert (rows["img-server2"]["status"], rows["img-server2"]["stage"], rows["img-server2"]["attempts"]) == ("failed", "answer", 2)
    assert "404" in rows["img-server2"]["reason"]
    assert rows["web1"]["status"] == "left_alone"
    assert report["summary"]["installed"] == 2
    assert [row["name"] for row in report["machines"]][:2] == ["v6-worker1", "img-server2"]  # failed first
    lines = bringup_report.summary_lines(report)
    assert lines[0].startswith("bring-up: 4 machines, 2 installed (1 booted from disk, 1 left alone), 2 failed")
    assert "power to booted from disk median 90.0 s" in lines[0]
    assert any("forged installed callback for img-server1 from 198.51.100.99" in line for line in lines)
    assert any("[answer] GET /installer/img-server2/install.conf answered HTTP 404 by dhcp-a1 (attempts 2)" in line
               for line in lines)


def test_rows_carry_what_the_filters_read_and_the_slowest_come_first(machines):
    power = dict((machine["name"], {"ok": True, "sent": 1000.0, "action": "on", "previous_state": "off"})
                 for machine in machines)
    report = bringup_report.build(machines, RUN, power=power)
    same = {}
    for row in report["machines"]:
        same.setdefault((row["status"], row["stage"]), []).append(max(
            [step["offset"] for step in row["steps"].values() if step.get("offset") is not None] + [0.0]))
    assert all(offsets == sorted(offsets, reverse=True) for offsets in same.values()), same
    text = bringup_report.to_html(report)
    row = report["machines"][0]
    assert ('data-status="%s" data-rack="%s" data-network="%s"' % (row["status"], row["rack"] or "", row["network"])) in text
    assert '<form id="filters"' in text and '<table id="machines">' in text
