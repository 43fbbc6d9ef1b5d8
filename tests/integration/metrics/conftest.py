"""Fixtures: one anycast fabric (tests/integration/anycast/fabric.py) with the node exporters and a
real Prometheus in the ToR's namespace scraping both nodes, for the whole module."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import metrics_lab  # noqa: E402


def _missing():
    missing = metrics_lab.fabric_lab.missing_tools()
    if missing:
        return missing
    if shutil.which("prometheus") is None:
        return "prometheus is not installed (Debian package prometheus)"
    try:
        import kea_exporter  # noqa: F401
    except ImportError:
        return "kea-exporter is not installed (requirements.txt)"
    return None


@pytest.fixture(scope="module")
def monitored_fabric():
    missing = _missing()
    if missing:
        pytest.skip(missing)
    lab = metrics_lab.fabric_lab.Fabric(tag="nbm%d" % os.getpid())
    prometheus = textfile = None
    try:
        lab.build()
        lab.wait_paths(2)
        lab.wait_paths(2, metrics_lab.fabric_lab.ANYCAST6)
        targets = {"kea": [], "netboot_anycast": []}
        for node in lab.nodes:
            kea, health = metrics_lab.start_exporters(node)
            targets["kea"].append(kea)
            targets["netboot_anycast"].append(health)
        textfile, bringup_target = metrics_lab.serve_textfile(lab.tor, lab.workdir)
        targets["bringup"] = [bringup_target]
        prometheus = metrics_lab.Prometheus(lab.tor, lab.workdir, targets, rule_files=[metrics_lab.RULES]).start()
        yield lab, prometheus
    finally:
        for daemon in (prometheus, textfile):
            if daemon is not None:
                daemon.stop()
        for node in lab.nodes:
            for daemon in getattr(node, "exporters", []):
                daemon.stop()
        lab.destroy()
