"""Anycast DHCP nodes behind an FRR ToR: ECMP, failure detection, drain, one server identity."""

from __future__ import annotations

import signal
import time

import fabric as lab


def _loop_around(fabric, action, before=1.5, after=4.0):
    """Run the client loop, perform action() after `before` s, keep going `after` s; the loop's summary."""
    with lab.ClientLoop(fabric) as loop:
        time.sleep(before)
        started = time.time()
        action()
        time.sleep(after)
    summary = loop.summary()
    summary["action_at"] = started
    return summary


def test_ecmp_and_reservation_through_the_anycast_address(fabric):
    assert fabric.nexthops() == ["n1", "n2"]
    assert fabric.nexthops(lab.ANYCAST6) == ["n1", "n2"]
    answer = lab.dora(fabric, 3)
    assert answer["ok"], answer
    assert answer["yiaddr"] == lab.reserved4(3)
    assert answer["server_id"] == lab.ANYCAST4
    for node in fabric.nodes:
        status = node.status()
        assert status["state"] == "announced" and status["reason"] == "healthy", status


def test_kea_killed_on_the_answering_node(fabric):
    victim = fabric.node(fabric.answering_node())
    summary = _loop_around(fabric, victim.kea["dhcp4"].process.kill)
    assert fabric.nexthops() == [other.name for other in fabric.nodes if other is not victim]
    assert summary["rate"] >= 9.5, summary
    assert summary["failed"] >= 1, "killing the answering Kea must be visible to the client: %s" % summary
    assert summary["outage"] <= 1.5, summary
    assert victim.status()["state"] == "withdrawn"
    assert "Kea down" in victim.status()["reason"] or "status-get" in victim.status()["reason"]


def test_blackholed_node_is_withdrawn_by_bfd(fabric):
    victim = fabric.node(fabric.answering_node())
    summary = _loop_around(fabric, lambda: victim.blackhole(True))
    # On a loaded machine the other node's BFD session can flap too: it must be back within seconds.
    others = [other.name for other in fabric.nodes if other is not victim]
    lab.wait_for(lambda: fabric.nexthops() == others, 5, "the ToR to route through %s only" % others)
    assert "down" in fabric.vtysh("show bfd peers brief")
    assert summary["failed"] >= 1, summary
    assert summary["outage"] <= 1.0, summary


def test_drain_and_undrain_lose_nothing(fabric):
    victim = fabric.node(fabric.answering_node())
    other = [node.name for node in fabric.nodes if node is not victim]

    def drain_then_undrain():
        victim.drain(True)
        fabric.wait_paths(1, timeout=5)
        assert fabric.nexthops() == other
        assert fabric.answering_node() == other[0]
        time.sleep(1)
        victim.drain(False)
        fabric.wait_paths(2, timeout=10)
    summary = _loop_around(fabric, drain_then_undrain, after=1.5)
    assert summary["exchanges"] >= 40, summary
    assert summary["failed"] == 0, summary
    assert fabric.nexthops() == ["n1", "n2"]
    assert victim.status()["reason"] == "healthy"


def test_undrain_of_an_unhealthy_node_does_not_announce(fabric):
    victim = fabric.nodes[0]
    victim.drain(True)
    fabric.wait_paths(1, timeout=5)
    victim.kea["dhcp4"].process.send_signal(signal.SIGSTOP)
    try:
        victim.drain(False)
        time.sleep(2)
        assert fabric.nexthops() == ["n2"]
        assert victim.status()["state"] == "withdrawn"
        assert "unhealthy" in victim.status()["reason"]
    finally:
        victim.kea["dhcp4"].process.send_signal(signal.SIGCONT)
    fabric.wait_paths(2, timeout=10)


def test_request_on_the_other_node_is_acked_v4(fabric):
    first = fabric.node(fabric.answering_node())
    second = [node for node in fabric.nodes if node is not first][0]
    acks = {node.name: node.stat("dhcp4", "pkt4-ack-sent") or 0 for node in fabric.nodes}
    offers = {node.name: node.stat("dhcp4", "pkt4-offer-sent") or 0 for node in fabric.nodes}

    def move_traffic():
        first.drain(True)
        fabric.wait_paths(1, timeout=5)
    answer = lab.dora(fabric, 5, between=move_traffic)
    assert answer["ok"], answer
    assert answer["yiaddr"] == lab.reserved4(5) and answer["server_id"] == lab.ANYCAST4
    assert (first.stat("dhcp4", "pkt4-offer-sent") or 0) > offers[first.name]
    assert (second.stat("dhcp4", "pkt4-ack-sent") or 0) == acks[second.name] + 1
    assert (first.stat("dhcp4", "pkt4-ack-sent") or 0) == acks[first.name]


def test_request_on_the_other_node_is_replied_v6(fabric):
    adverts = {node.name: node.stat("dhcp6", "pkt6-advertise-sent") or 0 for node in fabric.nodes}
    with lab.Relay6(fabric) as relay:
        advertise = relay.solicit(6)
        assert advertise["address"] == lab.reserved6(6), advertise
        first = [node for node in fabric.nodes
                 if (node.stat("dhcp6", "pkt6-advertise-sent") or 0) > adverts[node.name]]
        assert len(first) == 1
        first = first[0]
        second = [node for node in fabric.nodes if node is not first][0]
        replies = second.stat("dhcp6", "pkt6-reply-sent") or 0
        first.drain(True)
        fabric.wait_paths(1, lab.ANYCAST6, timeout=5)
        reply = relay.request(6, advertise)
    assert reply["address"] == lab.reserved6(6), reply
    assert reply["server_duid"] == advertise["server_duid"]
    assert (second.stat("dhcp6", "pkt6-reply-sent") or 0) == replies + 1
