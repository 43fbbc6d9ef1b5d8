"""The HTML bring-up report of N machines in headless Chromium: size and load time against an empty page.

    python benchmarks/report_browser.py [--machines 1000 5000] [--runs 3]

Each load is one headless Chromium process dumping the DOM after the page's script ran (the
filters apply on load); the empty page's load, measured in the same run, is Chromium's own cost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration", "report"))

import fleet_report  # noqa: E402


def load_seconds(url, runs):
    times = []
    for dummy in range(runs):
        started = time.monotonic()
        fleet_report.dump_dom(url)
        times.append(time.monotonic() - started)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    if fleet_report.chromium() is None:
        sys.exit("chromium is not installed (Debian package chromium)")
    workdir = tempfile.mkdtemp(prefix="report_browser.")
    empty = os.path.join(workdir, "empty.html")
    with open(empty, "w") as out:
        out.write("<!DOCTYPE html><html><body></body></html>\n")
    baseline = load_seconds("file://" + empty, options.runs)
    print("| machines | HTML size | load s (median of %d) | empty page s | page's own s |" % options.runs)
    print("|---:|---:|---:|---:|---:|")
    for count in options.machines:
        dummy, text = fleet_report.report_html(count)
        path = os.path.join(workdir, "report-%d.html" % count)
        with open(path, "w") as out:
            out.write(text)
        seconds = load_seconds("file://" + path, options.runs)
        size = len(text.encode()) / 1e6
        print("| %d | %.1f MB | %.2f | %.2f | %.2f |" % (count, size, seconds, baseline, seconds - baseline))


if __name__ == "__main__":
    main()
