"""A bring-up report of N machines for the browser test and benchmarks/report_browser.py, and Chromium to load it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, os.pardir))
sys.path.insert(0, os.path.join(REPO, "collections"))

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import report as bringup_report  # noqa: E402

STARTED = 1795705200.0
RACKS = 25


def machines(count):
    return [{"name": "m%05d" % index, "mac": "52:54:00:%02x:%02x:%02x" % (index >> 16, (index >> 8) & 255, index & 255),
             "ipv4": "198.51.%d.%d" % (100 + index // 250, index % 250 + 1), "ipv6": None,
             "network": "net%02d" % (index % RACKS), "rack": "r%02d" % (index % RACKS), "profile": "debian12",
             "firmware": ("bios", "uefi")[index % 2]} for index in range(count)]


def report_html(count, failed_every=10):
    """Every `failed_every`-th machine's BMC failed; the others were powered and never seen (failed at wait)
    except every third, which never got a power command (not started)."""
    records = machines(count)
    power = {}
    for index, record in enumerate(records):
        if index % failed_every == 0:
            power[record["name"]] = {"ok": False, "stage": "power", "msg": "BMC did not answer within 10 s"}
        elif index % 3:
            power[record["name"]] = {"ok": True, "sent": STARTED + index / 100.0, "action": "on", "previous_state": "off"}
    run = {"started": STARTED, "finished": STARTED + 600, "check_mode": False, "sot": "/srv/sot", "limit": None,
           "stages": ["validate", "power", "wait"]}
    report = bringup_report.build(records, run, power=power, wait={"ran": False})
    return report, bringup_report.to_html(report, limit=count)


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def dump_dom(url, timeout=120):
    """The page's DOM after its scripts ran, as headless Chromium sees it."""
    done = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--user-data-dir=" + os.environ.get("TMPDIR", "/tmp") + "/nbf-chromium-%d" % os.getpid(),
                           "--virtual-time-budget=5000", "--dump-dom", url],
                          capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError("chromium exited %d: %s" % (done.returncode, done.stderr[-2000:]))
    return done.stdout
