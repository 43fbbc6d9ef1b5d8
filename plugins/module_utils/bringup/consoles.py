# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Machines' serial consoles (recorded by bmc_console) in the bring-up report.

attach() adds each machine's console lines to its report row (the JSON report holds them); html() is the
report page's console section: machines in the report's order (failed first), the last lines shown, every
line behind a click (<details>, no script). Pure: lines in, report and text out.
"""

from __future__ import annotations

import html as _html

LAST_LINES = 12
# A console that scrolled for an hour is mostly noise: the report keeps its end.
MAX_LINES = 5000


def attach(report, consoles):
    """consoles: {machine name: [line, ...]}. Rows of machines without a recording are left alone."""
    for row in report["machines"]:
        lines = consoles.get(row["name"])
        if lines is not None:
            row["console"] = {"lines": lines[-MAX_LINES:], "dropped": max(0, len(lines) - MAX_LINES)}
    return report


_CSS = ("<style>.console h3{font-size:14px;margin:16px 0 4px}.console pre{background:#0d1117;color:#e6edf3;"
        "padding:8px 12px;border-radius:6px;overflow-x:auto;margin:4px 0;font-size:12px}"
        ".console .failed h3{color:#a40e26}.console summary{cursor:pointer;color:#0969da}</style>\n")


def html(report, limit=2000):
    """The console section of the report page ("" when no machine has a recorded console)."""
    rows = [row for row in report["machines"][:limit] if "console" in row]
    if not rows:
        return ""
    esc = _html.escape
    out = [_CSS, '<section class="console">\n<h2>Consoles</h2>\n']
    for row in rows:
        lines = row["console"]["lines"]
        dropped = row["console"]["dropped"]
        out.append('<div class="%s" id="console-%s"><h3>%s &middot; %s &middot; %d lines</h3>\n' % (
            row["status"], esc(row["name"]), esc(row["name"]), esc(row["status"]), len(lines) + dropped))
        if not lines:
            out.append("<p>nothing was printed on this console</p></div>\n")
            continue
        out.append("<pre>%s</pre>\n" % esc("\n".join(lines[-LAST_LINES:])))
        if len(lines) > LAST_LINES or dropped:
            out.append("<details><summary>all lines%s</summary><pre>%s</pre></details>\n" % (
                " (the first %d are not kept)" % dropped if dropped else "", esc("\n".join(lines))))
        out.append("</div>\n")
    out.append("</section>\n")
    return "".join(out)
