# -*- coding: utf-8 -*-
"""Bring-up events (JSON lines) and textfile metrics from the report (golden files; read back by the parser)."""

import json

from prometheus_client.parser import text_string_to_metric_families

from bringup_testlib import golden
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import telemetry


def _samples(text):
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_golden_events(report):
    golden("events.jsonl", telemetry.events_jsonl(report))


def test_golden_metrics(report):
    golden("netboot_bringup.prom", telemetry.metrics_text(report))


def test_one_event_per_step_in_time_order(report):
    rows = [json.loads(line) for line in telemetry.events_jsonl(report).splitlines()]
    assert [row["time"] for row in rows if row["time"]] == sorted(row["time"] for row in rows if row["time"])
    steps = sum(len(machine["steps"]) for machine in report["machines"])
    failed = [row for row in rows if row["step"] == "failed"]
    assert len(rows) == steps + len(failed)
    assert {(row["machine"], row["stage"]) for row in failed} == {("v6-worker1", "power"), ("web1", "wait")}
    script = next(row for row in rows if row["machine"] == "img-server2" and row["step"] == "script")
    assert script["node"] == "dhcp-a2" and script["detail"].endswith(".ipxe")
    assert set(rows[0]) == {"time", "machine", "node", "step", "detail"}


def test_metrics_count_the_report(report):
    samples = _samples(telemetry.metrics_text(report))
    assert samples[("netboot_bringup_machines", (("status", "ok"),))] == 2
    assert samples[("netboot_bringup_machines", (("status", "failed"),))] == 2
    assert samples[("netboot_bringup_failures", (("stage", "wait"),))] == 1
    assert samples[("netboot_bringup_failures", (("stage", "power"),))] == 1
    # web1 got a lease and its loader, then a 404 for its script: stalled half-way.
    assert samples[("netboot_bringup_stalled_machines", ())] == 1
    assert samples[("netboot_bringup_machines_reached", (("step", "script"),))] == 2
    # img-server1 fetched its script 3.317 s after power, img-server2 11.8 s.
    assert samples[("netboot_bringup_step_seconds_bucket", (("le", "5.0"), ("step", "script")))] == 1
    assert samples[("netboot_bringup_step_seconds_bucket", (("le", "20.0"), ("step", "script")))] == 2
    assert samples[("netboot_bringup_step_seconds_count", (("step", "script"),))] == 2
    assert samples[("netboot_bringup_step_seconds_sum", (("step", "script"),))] == 15.117


def test_label_values_are_escaped():
    out = telemetry._Exposition()
    out.family("x", "gauge", "help", [("", {"stage": 'a"b\\c\nd'}, 1)])
    samples = _samples(out.text())
    assert samples[("netboot_bringup_x", (("stage", 'a"b\\c\nd'),))] == 1
