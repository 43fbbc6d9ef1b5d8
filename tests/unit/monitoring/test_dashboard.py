# -*- coding: utf-8 -*-
"""The Grafana dashboard's structure (Grafana's tooling is not packaged for Debian): ids, layout, targets,
variables. Every query is run against a real Prometheus in tests/integration/metrics."""

import json
import os
import re

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
DASHBOARD = os.path.join(REPO, "monitoring", "grafana", "netboot-fleet.json")
# Grafana's core panel types this dashboard may use.
PANEL_TYPES = {"row", "timeseries", "stat", "bargauge", "gauge", "piechart", "state-timeline", "table"}
BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__range"}


@pytest.fixture(name="dashboard", scope="module")
def dashboard_fixture():
    with open(DASHBOARD, encoding="utf-8") as handle:
        return json.load(handle)


def _cells(panel):
    grid = panel["gridPos"]
    return {(x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])}


def test_dashboard_identity(dashboard):
    assert dashboard["uid"] == "netboot-fleet" and dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    assert {variable["name"] for variable in dashboard["templating"]["list"]} == {"datasource", "instance"}


def test_panels_have_unique_ids_and_do_not_overlap(dashboard):
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    taken = set()
    for panel in panels:
        assert panel["type"] in PANEL_TYPES, panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        cells = _cells(panel)
        assert not cells & taken, "%s overlaps another panel" % panel["title"]
        taken |= cells


def test_every_panel_queries_the_selected_prometheus(dashboard):
    defined = {variable["name"] for variable in dashboard["templating"]["list"]} | BUILTIN_VARIABLES
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        assert len({target["refId"] for target in panel["targets"]}) == len(panel["targets"])
        for target in [panel] + panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            used = set(re.findall(r"\$\{?(\w+)", target["expr"]))
            assert used <= defined, (panel["title"], used - defined)


def test_the_fleet_view_is_there(dashboard):
    """Requests and share per node (ECMP balance), pool use, anycast state, the bring-up funnel."""
    exprs = {panel["title"]: " ".join(target["expr"] for target in panel.get("targets", [])) for panel in dashboard["panels"]}
    assert "kea_dhcp4_packets_received_total" in exprs["DHCPv4 requests per node"]
    assert "scalar(sum(" in exprs["DHCPv4 share per node (ECMP balance)"]
    assert "kea_dhcp4_addresses_total" in exprs["IPv4 pool use"]
    assert "netboot_anycast_state" in exprs["Anycast state per node"]
    assert "netboot_bringup_machines_reached" in exprs["Bring-up funnel"]
