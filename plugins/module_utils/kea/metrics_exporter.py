# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kea-exporter (PyPI) with the subnets read from Kea's configuration file instead of `config-get`.

kea-exporter asks Kea for `config-get` before every `statistic-get-all`, only to map subnet ids to
prefixes. With 100,000 reservations that answer is tens of MB and Kea serves no DHCP while it builds it
(measured in benchmarks/README.md, "Node metrics": about 25 s, 42 of 47 health probes unanswered, so the
health loop withdrew the node at every scrape). The file kea_config applies and persists is the running
configuration; it is read again only when it changes. Everything else - metric names, labels, the
statistics query, the HTTP server - is kea-exporter's own. Copied to the nodes by the node_metrics role.

    kea_metrics.py --address 192.0.2.1 --port 9547 --interval 5 \\
        --target /run/kea/kea4-ctrl-socket=/etc/kea/kea-dhcp4.conf --target /run/kea/kea6-ctrl-socket=/etc/kea/kea-dhcp6.conf
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

try:
    from kea_exporter import DHCPVersion
    from kea_exporter.exporter import Exporter
    from kea_exporter.uds import KeaSocketClient
    HAS_KEA_EXPORTER = True
except ImportError:  # only the program needs kea-exporter (the node_metrics role installs it there)
    HAS_KEA_EXPORTER = False
    KeaSocketClient = object

FAMILIES = {"Dhcp4": ("subnet4", "DHCP4"), "Dhcp6": ("subnet6", "DHCP6")}


def subnets_of(config: dict):
    """(family key, {subnet id: subnet}) of a Kea configuration, as config-get would give it."""
    for key, (subnets, dummy) in FAMILIES.items():
        if key in config:
            body = config[key]
            found = list(body.get(subnets, []))
            for network in body.get("shared-networks", []):
                found += network.get(subnets, [])
            return key, {subnet["id"]: subnet for subnet in found}
    raise ValueError("no Dhcp4 or Dhcp6 configuration")


class ConfigFileClient(KeaSocketClient):
    """kea-exporter's control-socket client, its subnet map from the configuration file."""

    def __init__(self, sock_path, config_path):
        super().__init__(sock_path)
        self.config_path = config_path
        self.config_stamp = None

    def reload(self):
        stamp = os.stat(self.config_path).st_mtime_ns
        if stamp == self.config_stamp:
            return
        with open(self.config_path, encoding="utf-8") as handle:
            self.config = json.load(handle)
        key, self.subnets = subnets_of(self.config)
        self.dhcp_version = getattr(DHCPVersion, FAMILIES[key][1])
        self.config_stamp = stamp


def _target(text):
    socket_path, separator, config_path = text.partition("=")
    if not separator or not socket_path or not config_path:
        raise argparse.ArgumentTypeError("%r is not SOCKET=CONFIG_FILE" % text)
    return socket_path, config_path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="kea_metrics.py", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9547)
    parser.add_argument("--interval", type=float, default=0.0, help="at most one Kea query per this many seconds")
    parser.add_argument("--target", type=_target, action="append", required=True, help="SOCKET=CONFIG_FILE")
    args = parser.parse_args(argv)
    if not HAS_KEA_EXPORTER:
        sys.stderr.write("kea_metrics.py needs kea-exporter (installed by the node_metrics role)\n")
        return 2
    from prometheus_client import REGISTRY, make_wsgi_app, start_http_server

    exporter = Exporter([])
    try:
        exporter.targets = [ConfigFileClient(socket_path, config_path) for socket_path, config_path in args.target]
    except OSError as exc:  # Kea not started yet: systemd starts this again
        sys.stderr.write("%s\n" % exc)
        return 1
    metrics = make_wsgi_app(REGISTRY)
    last = [float("-inf")]

    def app(environ, start_response):
        if time.monotonic() - last[0] >= args.interval:
            try:
                exporter.update()
            except (OSError, ValueError) as exc:  # Kea restarting, a file being replaced: the last values stay
                sys.stderr.write("cannot read Kea's statistics: %s\n" % exc)
            last[0] = time.monotonic()
        return metrics(environ, start_response)

    server, dummy = start_http_server(args.port, args.address)
    server.set_app(app)
    sys.stdout.write("serving http://%s:%d/metrics\n" % (args.address, args.port))
    sys.stdout.flush()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    raise SystemExit(main())
