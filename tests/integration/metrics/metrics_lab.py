"""A real Prometheus server (Debian's `prometheus`) in a namespace of a test lab, and the node exporters.

The exporters run as the node_metrics role runs them: kea-exporter (PyPI) on the Kea control
sockets through the collection's kea/metrics_exporter.py (subnets from the configuration files) and
the collection's health_metrics.py on the health loop's status file.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "anycast"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "kea"))

import fabric as fabric_lab  # noqa: E402
import kea_lab  # noqa: E402

HEALTH_METRICS = os.path.join(REPO, "plugins", "module_utils", "anycast", "health_metrics.py")
KEA_METRICS = os.path.join(REPO, "plugins", "module_utils", "kea", "metrics_exporter.py")
RULES = os.path.join(REPO, "monitoring", "prometheus", "netboot-fleet.rules.yml")
DASHBOARD = os.path.join(REPO, "monitoring", "grafana", "netboot-fleet.json")
BRINGUP_METRICS = os.path.join(REPO, "tests", "unit", "bringup", "golden", "netboot_bringup.prom")
KEA_PORT, HEALTH_PORT, TEXTFILE_PORT, PROMETHEUS_PORT = 21010, 21011, 21020, 21090


def start_exporters(node):
    """kea-exporter and health_metrics.py in the node's namespace, on its uplink address."""
    address = "192.0.2.%d" % (2 * node.index - 1)
    node.exporters = [
        fabric_lab.Daemon("kea-exporter", node.netns, [
            sys.executable, KEA_METRICS, "--address", address, "--port", str(KEA_PORT),
            "--target", "%s=%s" % (node.settings.control_socket4, node.config_path("dhcp4")),
            "--target", "%s=%s" % (node.settings.control_socket6, node.config_path("dhcp6"))], node.dir).start(),
        fabric_lab.Daemon("health-metrics", node.netns, [
            sys.executable, HEALTH_METRICS, "--config", node.healthcheck_path, "--address", address,
            "--port", str(HEALTH_PORT)], node.dir).start(),
    ]
    return ["%s:%d" % (address, KEA_PORT), "%s:%d" % (address, HEALTH_PORT)]


def serve_textfile(netns, workdir):
    """A bring-up's textfile metrics served over HTTP in netns, as node_exporter's textfile collector would
    expose them (the golden file of tests/unit/bringup): (daemon, target, metrics path)."""
    directory = os.path.join(workdir, "textfile")
    os.makedirs(directory, exist_ok=True)
    with open(BRINGUP_METRICS, encoding="utf-8") as source, \
            open(os.path.join(directory, "metrics"), "w", encoding="utf-8") as target:
        target.write(source.read())
    daemon = fabric_lab.Daemon("textfile", netns, [sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                                                   "--directory", directory, str(TEXTFILE_PORT)], workdir).start()
    return daemon, "127.0.0.1:%d" % TEXTFILE_PORT


def dashboard_queries():
    """(panel title, PromQL) of every target of the Grafana dashboard, its variables set to match everything."""
    with open(DASHBOARD, encoding="utf-8") as handle:
        dashboard = json.load(handle)
    return [(panel["title"], target["expr"].replace("$__rate_interval", "1m").replace("$instance", ".*"))
            for panel in dashboard["panels"] for target in panel.get("targets", [])]


class Prometheus:
    """prometheus in namespace `netns` scraping `targets` ({job: [host:port]}) every `interval` s."""

    def __init__(self, netns, workdir, targets, interval="1s", rule_files=()):
        self.netns, self.workdir = netns, os.path.join(workdir, "prometheus")
        os.makedirs(self.workdir, exist_ok=True)
        self.config = os.path.join(self.workdir, "prometheus.yml")
        scrape = [{"job_name": job, "static_configs": [{"targets": list(hosts)}]} for job, hosts in targets.items()]
        with open(self.config, "w", encoding="utf-8") as handle:
            json.dump({"global": {"scrape_interval": interval, "evaluation_interval": interval},
                       "rule_files": list(rule_files), "scrape_configs": scrape}, handle)
        self.daemon = fabric_lab.Daemon("prometheus", netns, [
            "prometheus", "--config.file", self.config, "--storage.tsdb.path", os.path.join(self.workdir, "data"),
            "--web.listen-address", "127.0.0.1:%d" % PROMETHEUS_PORT], self.workdir)
        self.targets = sum(len(hosts) for hosts in targets.values())

    def start(self):
        self.daemon.start()
        fabric_lab.wait_for(self.ready, 30, "prometheus ready", interval=0.3, diagnose=self.daemon.tail)
        fabric_lab.wait_for(lambda: self.value("count(up == 1)") == self.targets, 30, "every target scraped",
                            interval=0.3, diagnose=lambda: self.api("targets"))
        return self

    def stop(self):
        self.daemon.stop()

    def _get(self, path, params=None):
        url = "http://127.0.0.1:%d%s" % (PROMETHEUS_PORT, path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with kea_lab.in_netns(self.netns):
            with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (a test URL on loopback)
                return answer.read().decode()

    def ready(self):
        try:
            return "Ready" in self._get("/-/ready")
        except OSError:
            return False

    def api(self, path, **params):
        answer = json.loads(self._get("/api/v1/" + path, params))
        if answer.get("status") != "success":
            raise AssertionError("prometheus %s: %s" % (path, answer))
        return answer["data"]

    def query(self, expression):
        """An instant query: {frozenset(labels.items()): value}."""
        data = self.api("query", query=expression)
        return {frozenset(row["metric"].items()): float(row["value"][1]) for row in data["result"]}

    def value(self, expression):
        """The single value of a query that aggregates to one series (None when it has none)."""
        rows = self.query(expression)
        if len(rows) > 1:
            raise AssertionError("%s returned %d series" % (expression, len(rows)))
        return next(iter(rows.values())) if rows else None

    def wait_value(self, expression, expected, timeout=20):
        """Wait until the query's one value equals expected (exporters are scraped every interval)."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen.append(self.value(expression))
            if seen[-1] == expected:
                return seen[-1]
            time.sleep(0.3)
        raise AssertionError("%s: expected %r, last values %r" % (expression, expected, seen[-5:]))

    def scrape_fresh(self):
        """Wait for a scrape of every target that started after now (two scrape rounds)."""
        time.sleep(2.2)
