# -*- coding: utf-8 -*-
"""Consoles in the bring-up report: last lines shown, all behind a click, failed machines first."""

import copy
import html
import json

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import consoles
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import report as bringup_report

FIRMWARE = ">>Start PXE over IPv4."
IPXE = "iPXE initialising devices...ok"


def _with_consoles(report, lines_by_name):
    return consoles.attach(copy.deepcopy(report), lines_by_name)


def test_no_console_no_section(report):
    assert "Consoles" not in bringup_report.to_html(report)
    assert consoles.html(report) == ""


def test_last_lines_shown_all_behind_a_click_failed_first(report):
    long = [FIRMWARE, IPXE] + ["line %d" % number for number in range(30)]
    page = bringup_report.to_html(_with_consoles(report, {"web1": long, "img-server1": ["<b>boot</b> & go"]}))
    section = page[page.index("<h2>Consoles</h2>"):]
    assert section.index("web1") < section.index("img-server1")  # web1 failed, img-server1 ok
    shown, hidden = section.split("<details>", 1)
    assert "line 29" in shown and IPXE not in shown.split("img-server1")[0]
    assert IPXE in hidden and html.escape(FIRMWARE) in hidden
    assert "&lt;b&gt;boot&lt;/b&gt; &amp; go" in section and "<b>boot</b>" not in section
    assert page.count("<script") == 1  # the report's own row filters, not the consoles


def test_json_report_holds_the_lines_and_caps_them(report):
    many = ["line %d" % number for number in range(consoles.MAX_LINES + 7)]
    rows = {row["name"]: row for row in json.loads(bringup_report.to_json(_with_consoles(report, {"web1": many})))["machines"]}
    assert rows["web1"]["console"]["dropped"] == 7 and rows["web1"]["console"]["lines"][-1] == many[-1]
    assert "console" not in rows["img-server1"]


def test_an_empty_console_says_so(report):
    assert "nothing was printed" in consoles.html(_with_consoles(report, {"web1": []}))
