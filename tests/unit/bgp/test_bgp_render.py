"""plugins/module_utils/anycast/bird.py: golden files and error cases."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from golden import assert_golden
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot
from ansible_collections.netboot.fleet.plugins.module_utils.anycast import bird as bgp

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden")
EMBEDDED = os.path.join(HERE, "..", "..", "..", "inventory", "sot")


def _golden(name, text):
    assert_golden(os.path.join(GOLDEN, name), text)


@pytest.fixture(scope="module")
def embedded():
    return sot.load(EMBEDDED)


@pytest.fixture(scope="module")
def dual_stack(tmp_path_factory):
    import fabric  # the integration fabric's SoT: v4 and v6 sessions, reservations with DUIDs
    return sot.load(fabric.write_sot(str(tmp_path_factory.mktemp("sot"))))


def test_bird_golden_embedded(embedded):
    _golden("bird-dhcp-a1.conf", bgp.render_bird(embedded, "dhcp-a1"))


def test_bird_golden_dual_stack_with_settings(dual_stack):
    settings = bgp.Settings.from_dict({"anycast_device": "ifb0", "bfd": False, "hold_time": 30, "keepalive_time": 10,
                                       "bird_log": "/var/log/bird.log"})
    _golden("bird-n1-nobfd.conf", bgp.render_bird(dual_stack, "n1", settings))


def test_healthcheck_golden(embedded, dual_stack):
    _golden("healthcheck-dhcp-a1.json", json.dumps(bgp.render_healthcheck(embedded, "dhcp-a1"), indent=1, sort_keys=True) + "\n")
    _golden("healthcheck-n2.json", json.dumps(bgp.render_healthcheck(dual_stack, "n2"), indent=1, sort_keys=True) + "\n")


def test_render_is_deterministic(embedded):
    assert bgp.render_bird(embedded, "dhcp-a2") == bgp.render_bird(embedded, "dhcp-a2")


def test_exports_only_the_anycast_prefixes_and_only_when_announced(dual_stack):
    text = bgp.render_bird(dual_stack, "n1")
    assert text.count("import none;") == 2
    assert "if NETBOOT_ANYCAST_ANNOUNCE && net ~ [ 203.0.113.53/32 ] then accept; reject;" in text
    assert "if NETBOOT_ANYCAST_ANNOUNCE && net ~ [ 2001:db8:53::53/128 ] then accept; reject;" in text
    assert text.count("bfd on;") == 2 and "error wait time 1, 10;" in text


def test_kea_interfaces(embedded):
    assert bgp.kea_interfaces(embedded) == {"interfaces4": ["*", "lo"],
                                            "interfaces6": ["*", "lo/::1", "anycast0/2001:db8:53::53"]}


def test_probe_asks_a_pool_else_a_reservation(embedded):
    checks = {check["kind"]: check for check in bgp.render_healthcheck(embedded, "dhcp-a1")["checks"]}
    assert checks["dhcp4"]["select_address"] == "198.51.100.1" and "expect" not in checks["dhcp4"]
    # rack12 has no IPv6 pool, rack13 has one: the probe asks rack13's relay address.
    assert checks["dhcp6"]["link_address"] == "2001:db8:13::1"
    without_pools = sot.Sot(fabric=embedded.fabric, dhcp_nodes=embedded.dhcp_nodes,
                            networks=tuple(_no_pool(network) for network in embedded.networks),
                            profiles=embedded.profiles, machines=embedded.machines)
    checks = {check["kind"]: check for check in bgp.render_healthcheck(without_pools, "dhcp-a1")["checks"]}
    assert checks["dhcp4"]["mac"] == "52:54:00:12:00:01" and checks["dhcp4"]["expect"] == "198.51.100.10"
    assert checks["dhcp6"]["expect"] == "2001:db8:12::10"


def _no_pool(network):
    return dataclasses.replace(
        network, ipv4=dataclasses.replace(network.ipv4, pool=None) if network.ipv4 else None,
        ipv6=dataclasses.replace(network.ipv6, pool=None) if network.ipv6 else None)


@pytest.mark.parametrize("raw, message", [
    ({"colour": 1}, "settings.colour: unknown setting"),
    ({"hold_time": "nine"}, "unable to convert to int"),
    ({"hold_time": -9}, "settings.hold_time: must not be negative"),
    ({"bfd": "maybe"}, "argument 'bfd' is of type"),
    ({"keepalive_time": 5}, "at most a third of hold_time"),
    ({"anycast_device": "a very long device name"}, "is not an interface name"),
    ({"error_wait_min": 20}, "is above error_wait_max"),
    ({"families": ["dhcp5"]}, "value of families must be one or more of: dhcp4, dhcp6"),
    ({"check_timeout": 1.0}, "should stay below two check intervals"),
    ({"bird_socket": 'x"y'}, "settings.bird_socket: 'x\"y' must be one line"),
])
def test_bad_settings(raw, message):
    with pytest.raises(bgp.BgpRenderError) as caught:
        bgp.Settings.from_dict(raw)
    assert message in str(caught.value)


def test_unknown_node(embedded):
    with pytest.raises(bgp.BgpRenderError, match=r"no node named 'dhcp-zz' \(known: dhcp-a1, dhcp-a2\)"):
        bgp.render_bird(embedded, "dhcp-zz")


def test_ipv6_peer_needs_address6_and_anycast(embedded):
    node = embedded.dhcp_nodes[0]
    ipv4_peers = tuple(peer for peer in node.peers if ":" not in peer.address)
    odd = dataclasses.replace(node, address6=None, peers=ipv4_peers + (sot.Peer("2001:db8:ff::1", 65000, "tor1"),))
    fleet = dataclasses.replace(embedded, dhcp_nodes=(odd,), fabric=dataclasses.replace(embedded.fabric, anycast_ipv6=None))
    with pytest.raises(bgp.BgpRenderError) as caught:
        bgp.render_bird(fleet, "dhcp-a1")
    problems = "\n".join(caught.value.problems)
    assert "dhcp_nodes dhcp-a1.address6: required for the IPv6 peer 2001:db8:ff::1" in problems
    assert "peers[1].address: 2001:db8:ff::1 is an IPv6 peer but fabric.anycast.ipv6 is not set" in problems


def test_node_without_peers_and_duplicate_session_names(embedded):
    node = embedded.dhcp_nodes[0]
    lonely = dataclasses.replace(node, peers=())
    twins = dataclasses.replace(node, peers=(sot.Peer("192.0.2.0", 65000, "tor"), sot.Peer("192.0.2.4", 65001, "tor")))
    with pytest.raises(bgp.BgpRenderError, match="no BGP peer"):
        bgp.render_bird(dataclasses.replace(embedded, dhcp_nodes=(lonely,)), "dhcp-a1")
    with pytest.raises(bgp.BgpRenderError, match="share the session name tor_v4"):
        bgp.render_bird(dataclasses.replace(embedded, dhcp_nodes=(twins,)), "dhcp-a1")


def test_session_names():
    assert bgp.session_name(sot.Peer("192.0.2.0", 65000, "tor-1.r12")) == "tor_1_r12_v4"
    assert bgp.session_name(sot.Peer("2001:db8::1", 65000, None)) == "peer_2001_db8__1_v6"
    assert bgp.session_name(sot.Peer("192.0.2.0", 65000, "1tor")) == "peer_1tor_v4"


def test_render_node():
    rendered = bgp.render_node(sot.load(EMBEDDED), "dhcp-a2", bgp.Settings.from_dict({"anycast_device": "ifb7"}))
    assert 'via "ifb7"' in rendered["bird"] and rendered["healthcheck"]["node"] == "dhcp-a2"
    assert rendered["anycast"] == {"ipv4": "203.0.113.53", "ipv6": "2001:db8:53::53"}


def test_a_peer_name_that_would_end_its_bird_string_is_refused(embedded):
    """Defence in depth behind the loader: the renderer never writes a quote or a line break into a BIRD string."""
    node = embedded.dhcp_nodes[0]
    for name in ('tor1"; password "x', "tor1\n}", "tor1\\"):
        peers = (dataclasses.replace(node.peers[0], name=name),) + node.peers[1:]
        fleet = dataclasses.replace(embedded, dhcp_nodes=(dataclasses.replace(node, peers=peers),) + embedded.dhcp_nodes[1:])
        with pytest.raises(bgp.BgpRenderError, match="cannot be written inside a BIRD string"):
            bgp.render_bird(fleet, node.name)


@pytest.mark.parametrize("field, value, message", [
    ("name", "dhcp-a1\nprotocol static evil { }", r"\.name: cannot be written into bird.conf"),
    ("address", "192.0.2.1; router id 1", r"\.address: .* is not an IP address"),
    ("asn", "65053; local as 1", r"\.asn: .* is not an ASN"),
])
def test_values_written_bare_into_bird_conf_are_refused(embedded, field, value, message):
    """Defence in depth behind the loader: a name, address or ASN that is not one BIRD token is never written."""
    node = embedded.dhcp_nodes[0]
    hostile = dataclasses.replace(node, **{field: value})
    fleet = dataclasses.replace(embedded, dhcp_nodes=(hostile,) + embedded.dhcp_nodes[1:])
    with pytest.raises(bgp.BgpRenderError, match=message):
        bgp.render_bird(fleet, value if field == "name" else node.name)


def test_a_peer_address_that_is_not_one_is_refused(embedded):
    node = embedded.dhcp_nodes[0]
    peers = (dataclasses.replace(node.peers[0], address="192.0.2.0 as 1; neighbor 192.0.2.9"),) + node.peers[1:]
    fleet = dataclasses.replace(embedded, dhcp_nodes=(dataclasses.replace(node, peers=peers),) + embedded.dhcp_nodes[1:])
    with pytest.raises(bgp.BgpRenderError, match=r"peers\[0\]\.address: .* is not an IP address"):
        bgp.render_bird(fleet, node.name)
