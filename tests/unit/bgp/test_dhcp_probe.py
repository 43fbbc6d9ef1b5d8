"""plugins/module_utils/anycast/dhcp_probe.py: packets, the probes against a fake server, the health loop."""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import threading
from types import SimpleNamespace

import pytest

from ansible_collections.netboot.fleet.plugins.module_utils.anycast import dhcp_probe


def test_discover4_is_a_relayed_discover_with_subnet_selection():
    packet = dhcp_probe.discover4(0x1234, "02:00:5e:ee:00:53", "127.0.0.2", "198.51.100.1")
    assert packet[0] == 1 and packet[3] == 1  # BOOTREQUEST, hops 1
    assert socket.inet_ntoa(packet[24:28]) == "127.0.0.2"  # giaddr
    xid, _yiaddr, options = dhcp_probe.parse4(packet)
    assert xid == 0x1234 and options[53] == b"\x01" and socket.inet_ntoa(options[118]) == "198.51.100.1"
    assert packet[28:34] == bytes.fromhex("02005eee0053")


def test_solicit6_relay_forward():
    packet = dhcp_probe.solicit6(0xABCDEF, dhcp_probe.duid_ll("02:00:00:00:00:aa"), "2001:db8:12::1",
                                 dhcp_probe.link_local("02:00:00:00:00:aa"))
    assert packet[0] == 12 and socket.inet_ntop(socket.AF_INET6, packet[2:18]) == "2001:db8:12::1"
    assert socket.inet_ntop(socket.AF_INET6, packet[18:34]) == "fe80::ff:fe00:aa"
    options = dhcp_probe._options6(packet[34:])
    assert options[135] == b"\0\0"  # relay source port: Kea answers the probe's own port
    inner = options[9]
    assert inner[0] == 1 and struct.unpack("!I", inner[:4])[0] & 0xFFFFFF == 0xABCDEF
    assert dhcp_probe._options6(inner[4:])[1] == bytes.fromhex("000300010200000000aa")


def test_parse_rejects_garbage():
    assert dhcp_probe.parse4(b"\x02" * 100) is None
    assert dhcp_probe.parse6(b"\x0d" + b"\0" * 10) is None


# ----------------------------------------------------------------- probes against a fake server

@pytest.fixture
def netns():
    """A private network namespace with loopback up, so the probes can own ports 67/547."""
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespace)")
    import kea_lab
    name = "nba-unit-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
    yield lambda: kea_lab.in_netns(name)
    subprocess.run(["ip", "netns", "del", name], check=False)


def _fake_server4(enter, yiaddr, reply=True):
    with enter():
        server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        server.bind(("127.0.0.1", 67))
    server.settimeout(2)

    def serve():
        data, peer = server.recvfrom(4096)
        xid, _yiaddr, options = dhcp_probe.parse4(data)
        assert options[53] == b"\x01"
        if reply:
            offer = bytearray(data)
            offer[0] = 2
            offer[16:20] = socket.inet_aton(yiaddr)
            offer[240:243] = bytes([53, 1, 2])
            server.sendto(bytes(offer), peer)
        server.close()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_probe4_offer_expect_and_silence(netns):
    thread = _fake_server4(netns, "198.51.100.10")
    with netns():
        result = dhcp_probe.probe4("127.0.0.1", "198.51.100.1", timeout=1)
    thread.join()
    assert result.ok and result.address == "198.51.100.10", result
    thread = _fake_server4(netns, "198.51.100.11")
    with netns():
        result = dhcp_probe.probe4("127.0.0.1", "198.51.100.1", timeout=1, expect="198.51.100.10")
    thread.join()
    assert not result.ok and "expected 198.51.100.10" in result.detail
    thread = _fake_server4(netns, "198.51.100.10", reply=False)
    with netns():
        result = dhcp_probe.probe4("127.0.0.1", "198.51.100.1", timeout=0.3)
    thread.join()
    assert not result.ok and "no DHCPOFFER" in result.detail


def test_dead_server_is_seen_at_once(netns):
    with netns():
        four = dhcp_probe.probe4("127.0.0.1", "198.51.100.1", timeout=2)
        six = dhcp_probe.probe6("::1", "2001:db8:12::1", timeout=2)
        status = dhcp_probe.status_get("/nonexistent/kea.sock")
    assert not four.ok and "Kea down" in four.detail and four.seconds < 0.5
    assert not six.ok and "Kea down" in six.detail and six.seconds < 0.5
    assert not status.ok and "/nonexistent/kea.sock" in status.detail


def test_status_get_against_a_fake_control_socket(tmp_path):
    path = str(tmp_path / "kea.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def serve(answer):
        connection, _peer = server.accept()
        assert json.loads(connection.recv(4096)) == {"command": "status-get"}
        connection.sendall(json.dumps(answer).encode())
        connection.close()
    for answer, ok in (({"result": 0, "arguments": {"pid": 7}}, True), ({"result": 1, "text": "boom"}, False)):
        thread = threading.Thread(target=serve, args=(answer,), daemon=True)
        thread.start()
        result = dhcp_probe.status_get(path, timeout=1)
        thread.join()
        assert result.ok is ok, result
    server.close()


# ----------------------------------------------------------------- the health loop

class FakeBird:
    def __init__(self):
        self.calls = 0
        self.fail = False

    def __call__(self, argv):
        assert argv[-1] == "configure"
        self.calls += 1
        return SimpleNamespace(returncode=1 if self.fail else 0, stdout="" if self.fail else "Reconfigured\n", stderr="")


def _loop(tmp_path, outcomes, **overrides):
    config = {"interval": 0.01, "rise": 3, "fall": 2, "announce_file": str(tmp_path / "announce.conf"),
              "drain_file": str(tmp_path / "drained"), "status_file": str(tmp_path / "status.json"),
              "birdc": ["birdc"], "checks": []}
    config.update(overrides)
    results = iter(outcomes)

    def checker(_config):
        return [dhcp_probe.ProbeResult("dhcp4", next(results), "fake", 0.0, None)]
    bird = FakeBird()
    return dhcp_probe.HealthLoop(config, runner=bird, checker=checker, sleep=lambda _s: None), bird, config


def _announced(config):
    return dhcp_probe.read_announce(config["announce_file"])


def test_rise_and_fall(tmp_path):
    loop, bird, config = _loop(tmp_path, [True, True, False, True, True, True, False, True, False, False])
    states = [loop.step() for _round in range(10)]
    assert states == [False, False, False, False, False, True, True, True, True, False]
    assert _announced(config) is False
    assert bird.calls == 3  # start-up sync, announce, withdraw
    status = json.loads(open(config["status_file"]).read())
    assert status["state"] == "withdrawn" and status["reason"] == "unhealthy: fake" and status["failed"] == 2


def test_drain_withdraws_at_once_and_undrain_waits_for_rise(tmp_path):
    loop, _bird, config = _loop(tmp_path, [True] * 10)
    loop.run(rounds=3)
    assert _announced(config)
    open(config["drain_file"], "w").close()
    assert loop.step() is False and loop.reason == "drained"
    os.unlink(config["drain_file"])
    assert [loop.step() for _round in range(3)] == [False, False, True]


def test_bird_unreachable_is_retried(tmp_path):
    loop, bird, config = _loop(tmp_path, [True] * 6, rise=1)
    bird.fail = True
    assert loop.step() is False
    assert json.loads(open(config["status_file"]).read())["bird_synced"] is False
    bird.fail = False
    assert loop.step() is True and _announced(config)


def test_previous_announcement_is_kept_across_a_restart(tmp_path):
    (tmp_path / "announce.conf").write_text(dhcp_probe.announce_text(True))
    loop, _bird, _config = _loop(tmp_path, [True])
    assert loop.step() is True  # no withdraw/announce flap when the loop restarts


def test_config_is_reloaded_when_rewritten(tmp_path):
    loop, _bird, config = _loop(tmp_path, [True] * 3)
    path = tmp_path / "healthcheck.json"
    path.write_text(json.dumps(config))
    loop.config_path, loop.config_mtime = str(path), 0
    config["rise"] = 1
    path.write_text(json.dumps(config))
    assert loop.step() is True and loop.rise == 1
