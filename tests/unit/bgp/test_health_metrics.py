# -*- coding: utf-8 -*-
"""The health loop's gauges: read from its status file at each scrape (states, staleness, probes per family)."""

import json

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.netboot.fleet.plugins.module_utils.anycast import health_metrics

NOW = 1_800_000_000.0
CHECKS = ({"check": "status-get dhcp4", "ok": True, "seconds": 0.0012, "detail": "ok", "address": None},
          {"check": "dhcp4", "ok": True, "seconds": 0.004, "detail": "DHCPOFFER", "address": "198.51.100.50"},
          {"check": "status-get dhcp6", "ok": True, "seconds": 0.001, "detail": "ok", "address": None},
          {"check": "dhcp6", "ok": False, "seconds": 0.25, "detail": "no ADVERTISE", "address": None})


def _status(state="announced", drained=False, age=0.3, checks=CHECKS):
    return {"state": state, "drained": drained, "since": NOW - 60, "updated": NOW - age, "reason": "x", "checks": list(checks)}


def _scrape(tmp_path, status, name="status.json"):
    path = tmp_path / name
    if status is not None:
        path.write_text(json.dumps(status))
    registry = CollectorRegistry()
    registry.register(health_metrics.StatusCollector("dhcp-a1", str(path), clock=lambda: NOW))
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(generate_latest(registry).decode())
            for sample in family.samples}


@pytest.mark.parametrize("state, drained, expected", [
    ("announced", False, "announced"), ("withdrawn", False, "withdrawn"), ("withdrawn", True, "drained")])
def test_one_state_at_a_time(tmp_path, state, drained, expected):
    samples = _scrape(tmp_path, _status(state, drained))
    states = {dict(labels)["state"]: value for (name, labels), value in samples.items() if name == "netboot_anycast_state"}
    assert states == {name: float(name == expected) for name in ("announced", "drained", "withdrawn")}
    assert samples[("netboot_anycast_announced", (("node", "dhcp-a1"),))] == float(expected == "announced")
    assert samples[("netboot_anycast_drained", (("node", "dhcp-a1"),))] == float(drained)
    assert samples[("netboot_anycast_state_since_seconds", (("node", "dhcp-a1"),))] == NOW - 60


def test_probes_per_family_and_check(tmp_path):
    samples = _scrape(tmp_path, _status())
    assert samples[("netboot_anycast_probe_ok", (("check", "dhcp"), ("family", "dhcp6"), ("node", "dhcp-a1")))] == 0.0
    assert samples[("netboot_anycast_probe_ok", (("check", "status-get"), ("family", "dhcp4"), ("node", "dhcp-a1")))] == 1.0
    assert samples[("netboot_anycast_probe_duration_seconds",
                    (("check", "dhcp"), ("family", "dhcp4"), ("node", "dhcp-a1")))] == 0.004


def test_a_stale_or_missing_status_is_not_up(tmp_path):
    stale = _scrape(tmp_path, _status(age=health_metrics.STALE_AFTER + 1))
    assert stale[("netboot_anycast_up", (("node", "dhcp-a1"),))] == 0.0
    assert stale[("netboot_anycast_status_age_seconds", (("node", "dhcp-a1"),))] == health_metrics.STALE_AFTER + 1
    missing = _scrape(tmp_path, None, name="absent.json")
    assert missing == {("netboot_anycast_up", (("node", "dhcp-a1"),)): 0.0}


def test_a_round_stopped_early_exports_only_its_checks(tmp_path):
    samples = _scrape(tmp_path, _status("withdrawn", checks=CHECKS[:1]))
    probes = [labels for name, labels in samples if name == "netboot_anycast_probe_ok"]
    assert probes == [(("check", "status-get"), ("family", "dhcp4"), ("node", "dhcp-a1"))]
