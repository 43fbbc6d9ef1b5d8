"""The HTML report of 1,000 machines in a real browser (headless Chromium): filters and failed-first order."""

from __future__ import annotations

import re

import pytest

import fleet_report


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    if fleet_report.chromium() is None:
        pytest.skip("chromium is not installed (Debian package chromium)")
    report, text = fleet_report.report_html(1000)
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(text)
    return report, path


def rows(dom):
    return re.findall(r'<tr class="(\w+)" data-status="\w+" data-rack="(\w*)"[^>]*?( hidden="")?>', dom)


def test_every_row_is_shown_without_a_filter(page):
    report, path = page
    dom = fleet_report.dump_dom(path.as_uri())
    shown = rows(dom)
    assert len(shown) == 1000 and not any(hidden for _status, _rack, hidden in shown)
    assert '<span id="shown">1000</span>' in dom
    # failed first
    statuses = [status for status, _rack, _hidden in shown]
    assert statuses == sorted(statuses, key=lambda status: status != "failed")


def test_filters_from_the_url_fragment(page):
    report, path = page
    dom = fleet_report.dump_dom(path.as_uri() + "#status=failed&rack=r05")
    expected = [row["name"] for row in report["machines"] if row["status"] == "failed" and row["rack"] == "r05"]
    visible = [status for status, rack, hidden in rows(dom) if not hidden]
    assert len(visible) == len(expected) > 0 and set(visible) == {"failed"}
    assert '<span id="shown">%d</span>' % len(expected) in dom
    dom = fleet_report.dump_dom(path.as_uri() + "#q=m00042")
    assert '<span id="shown">1</span>' in dom
