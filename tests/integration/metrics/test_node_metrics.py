"""A real Prometheus scrapes both DHCP nodes' exporters: exact Kea counts after known exchanges,
the anycast gauges flip on a drain, the shipped alert rules evaluate on the real series, and every
query of the Grafana dashboard parses and returns data."""

from __future__ import annotations

import socket
import struct

import fabric as fabric_lab
import kea_lab
import metrics_lab

SUBNET4 = "198.51.100.0/26"
POOL4_SIZE = 11  # 198.51.100.50-198.51.100.60 in fabric.write_sot


def _sum(prometheus, metric, **labels):
    selector = ",".join('%s="%s"' % item for item in sorted(labels.items()))
    return prometheus.value("sum(%s{%s})" % (metric, selector)) or 0.0


def test_both_nodes_are_scraped(monitored_fabric):
    _lab, prometheus = monitored_fabric
    up = prometheus.query("up")
    assert len(up) == 5 and set(up.values()) == {1.0}, up  # 2 nodes x 2 exporters, the bring-up textfile
    for node in ("n1", "n2"):
        prometheus.wait_value('netboot_anycast_announced{node="%s"}' % node, 1.0)
        prometheus.wait_value('netboot_anycast_up{node="%s"}' % node, 1.0)
    assert prometheus.value('count(kea_dhcp4_addresses_total{subnet="%s"} == %d)' % (SUBNET4, POOL4_SIZE)) == 2.0


def test_exact_counts_after_known_exchanges(monitored_fabric):
    lab, prometheus = monitored_fabric
    prometheus.scrape_fresh()
    acks = _sum(prometheus, "kea_dhcp4_packets_sent_total", operation="ack")
    requests = _sum(prometheus, "kea_dhcp4_packets_received_total", operation="request")
    parse_failed = _sum(prometheus, "kea_dhcp4_packets_received_total", operation="parse-failed")
    replies6 = _sum(prometheus, "kea_dhcp6_packets_sent_total", operation="reply")
    exchanges = 5
    for index in range(exchanges):
        answer = fabric_lab.dora(lab, index)
        assert answer["ok"] and answer["yiaddr"] == fabric_lab.reserved4(index), answer
    with fabric_lab.Relay6(lab) as relay:
        for index in range(3):
            advertise = relay.solicit(index)
            assert advertise["address"] == fabric_lab.reserved6(index), advertise
            assert relay.request(index, advertise)["address"] == fabric_lab.reserved6(index)
    # Two relayed BOOTP requests whose magic cookie is wrong: Kea cannot parse them as DHCP.
    bad_cookie = struct.pack("!BBBBI16x4s", 1, 1, 6, 1, 0x4E424D, socket.inet_aton(fabric_lab.RELAY4)) + bytes(208 + 4)  # chaddr, sname, file; cookie 0
    with kea_lab.in_netns(lab.tor), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((fabric_lab.RELAY4, 0))
        for dummy in range(2):
            sock.sendto(bad_cookie, (fabric_lab.ANYCAST4, 67))

    prometheus.wait_value('sum(kea_dhcp4_packets_sent_total{operation="ack"})', acks + exchanges)
    prometheus.wait_value('sum(kea_dhcp4_packets_received_total{operation="request"})', requests + exchanges)
    prometheus.wait_value('sum(kea_dhcp6_packets_sent_total{operation="reply"})', replies6 + 3)
    prometheus.wait_value('sum(kea_dhcp4_packets_received_total{operation="parse-failed"})', parse_failed + 2)
    # The fabric is this module's own: these are its only leases.
    prometheus.wait_value('sum(kea_dhcp4_addresses_assigned_total{subnet="%s"})' % SUBNET4, float(exchanges))
    assert _sum(prometheus, "kea_dhcp4_addresses_declined_total") == 0.0


def test_the_exporter_never_asks_kea_for_its_configuration(monitored_fabric):
    """Subnets come from the configuration file: config-get stops Kea serving while it runs."""
    lab, prometheus = monitored_fabric
    prometheus.scrape_fresh()
    for node in lab.nodes:
        for family in ("dhcp4", "dhcp6"):
            log = node.kea[family].log_tail(100000)
            assert "'statistic-get-all'" in log, log[-2000:]
            assert "'config-get'" not in log


def test_anycast_gauges_flip_when_a_node_is_drained(monitored_fabric):
    lab, prometheus = monitored_fabric
    node = lab.node("n1")
    try:
        node.drain(True)
        prometheus.wait_value('netboot_anycast_state{node="n1",state="drained"}', 1.0)
        assert prometheus.value('netboot_anycast_announced{node="n1"}') == 0.0
        assert prometheus.value('netboot_anycast_drained{node="n1"}') == 1.0
        assert prometheus.value('netboot_anycast_announced{node="n2"}') == 1.0
        # Drained, still healthy: every probe of both families passes, and it has a latency.
        probes = prometheus.query('netboot_anycast_probe_ok{node="n1"}')
        assert {dict(labels)["family"] for labels in probes} == {"dhcp4", "dhcp6"}
        assert set(probes.values()) == {1.0}, probes
        assert prometheus.value('max(netboot_anycast_probe_duration_seconds{node="n1",check="dhcp"})') > 0
        # The shipped rule sees it (pending: its `for` is hours).
        prometheus.wait_value('count(ALERTS{alertname="AnycastNodeDrainedTooLong",node="n1",alertstate="pending"})',
                              1.0)
        lab.wait_paths(1)
    finally:
        node.drain(False)
    prometheus.wait_value('netboot_anycast_announced{node="n1"}', 1.0)
    assert prometheus.value('netboot_anycast_state{node="n1",state="drained"}') == 0.0
    lab.wait_paths(2)


def test_a_dead_kea_dhcp6_fails_its_family_probe(monitored_fabric):
    lab, prometheus = monitored_fabric
    node = lab.node("n2")
    node.kea["dhcp6"].process.kill()
    node.kea["dhcp6"].process.wait()
    try:
        prometheus.wait_value('netboot_anycast_state{node="n2",state="withdrawn"}', 1.0)
        prometheus.wait_value('netboot_anycast_probe_ok{node="n2",family="dhcp6",check="status-get"}', 0.0)
        assert prometheus.value('netboot_anycast_probe_ok{node="n2",family="dhcp4",check="dhcp"}') == 1.0
        prometheus.wait_value('count(ALERTS{alertname="AnycastNodeWithdrawn",node="n2"})', 1.0)
    finally:
        node.start_kea("dhcp6")
    prometheus.wait_value('netboot_anycast_announced{node="n2"}', 1.0, timeout=30)


def test_every_dashboard_query_returns_data(monitored_fabric):
    """Every panel's PromQL parses (Prometheus answers bad_data otherwise) and finds series: the
    metric and label names it uses are the exporters' real ones."""
    _lab, prometheus = monitored_fabric
    queries = metrics_lab.dashboard_queries()
    assert len(queries) >= 15
    empty = [(title, expression) for title, expression in queries if not prometheus.query(expression)]
    assert not empty, empty
