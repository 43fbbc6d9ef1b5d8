"""Network namespaces, Kea processes and relayed DHCP clients for the Kea integration tests.

Topology (names carry the test run's PID, prefix nbk-):

    nbk-cli-<pid>                                   nbk-srv-<pid>
    relay addresses = every network's gateway       anycast 203.0.113.53, 2001:db8:53::53
    192.0.2.2, 2001:db8:1::2  ---- veth ----------  192.0.2.1, 2001:db8:1::1, kea-dhcp4, kea-dhcp6

The clients play the rack switch's relay: a UDP socket bound to the gateway (giaddr /
link-address) port 67/547 inside nbk-cli sends relayed messages (built with scapy) to the
anycast address, exactly as a switch relays them, and Kea's answer comes back to it.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import socket
import subprocess
import time
from contextlib import contextmanager

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dhcp6 import (DHCP6_Advertise, DHCP6_RelayForward, DHCP6_RelayReply, DHCP6_Solicit,
                                DHCP6OptBootFileUrl, DHCP6OptClientArchType, DHCP6OptClientId,
                                DHCP6OptClientLinkLayerAddr, DHCP6OptElapsedTime, DHCP6OptIA_NA,
                                DHCP6OptIAAddress, DHCP6OptOptReq, DHCP6OptRelayMsg, DHCP6OptUserClass,
                                DUID_EN, DUID_LL, USER_CLASS_DATA)
from scapy.utils import mac2str

EMBEDDED_SOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "inventory", "sot"))
ANYCAST4 = "203.0.113.53"
ANYCAST6 = "2001:db8:53::53"
SERVER4, CLIENT4 = "192.0.2.1", "192.0.2.2"
SERVER6, CLIENT6 = "2001:db8:1::1", "2001:db8:1::2"
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def run(*command, check=True):
    return subprocess.run(command, check=check, capture_output=True, text=True)


# --------------------------------------------------------------------------
# Namespaces
# --------------------------------------------------------------------------

class Topology:
    def __init__(self, tag: str):
        self.srv = "nbk-srv-%s" % tag
        self.cli = "nbk-cli-%s" % tag
        self.srv_if = "nbks%s" % tag[-8:]
        self.cli_if = "nbkc%s" % tag[-8:]

    def create(self, gateways4, gateways6):
        run("ip", "netns", "add", self.srv)
        run("ip", "netns", "add", self.cli)
        run("ip", "link", "add", self.srv_if, "type", "veth", "peer", "name", self.cli_if)
        run("ip", "link", "set", self.srv_if, "netns", self.srv)
        run("ip", "link", "set", self.cli_if, "netns", self.cli)
        for ns, dev, addrs in ((self.srv, self.srv_if, [SERVER4 + "/24", ANYCAST4 + "/32"]),
                               (self.cli, self.cli_if, [CLIENT4 + "/24"] + ["%s/32" % g for g in gateways4])):
            run("ip", "-n", ns, "link", "set", "lo", "up")
            for addr in addrs:
                run("ip", "-n", ns, "addr", "add", addr, "dev", dev)
        for addr in [SERVER6 + "/64", ANYCAST6 + "/128"]:
            run("ip", "-n", self.srv, "addr", "add", addr, "dev", self.srv_if, "nodad")
        for addr in [CLIENT6 + "/64"] + ["%s/128" % g for g in gateways6]:
            run("ip", "-n", self.cli, "addr", "add", addr, "dev", self.cli_if, "nodad")
        run("ip", "-n", self.srv, "link", "set", self.srv_if, "up")
        run("ip", "-n", self.cli, "link", "set", self.cli_if, "up")
        run("ip", "-n", self.cli, "route", "add", ANYCAST4 + "/32", "via", SERVER4)
        run("ip", "-n", self.cli, "-6", "route", "add", ANYCAST6 + "/128", "via", SERVER6)
        for gateway in gateways4:
            run("ip", "-n", self.srv, "route", "add", gateway + "/32", "via", CLIENT4)
        for gateway in gateways6:
            run("ip", "-n", self.srv, "-6", "route", "add", gateway + "/128", "via", CLIENT6)

    def destroy(self):
        for ns in (self.srv, self.cli):
            run("ip", "netns", "del", ns, check=False)


@contextmanager
def in_netns(name):
    """Run the body with this thread in network namespace `name`; sockets made there stay there."""
    original = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/%s" % name, os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns(%s) failed" % name)
        yield
    finally:
        _libc.setns(original, CLONE_NEWNET)
        os.close(target)
        os.close(original)


# --------------------------------------------------------------------------
# Kea
# --------------------------------------------------------------------------

class KeaProcess:
    """One kea-dhcp4/kea-dhcp6 started in the server namespace, stopped by PID."""

    def __init__(self, netns, daemon, config_path, workdir, environment=None):
        self.netns, self.daemon, self.config_path, self.workdir = netns, daemon, config_path, workdir
        self.environment = environment or {}  # e.g. libpq's PG* variables, as a unit drop-in sets them
        self.log_path = os.path.join(workdir, "%s.log" % daemon)
        self.process = None

    @property
    def pid(self):
        return self.process.pid

    def start(self, socket_path, timeout=30):
        env = dict(os.environ, KEA_PIDFILE_DIR=self.workdir, KEA_LOCKFILE_DIR=self.workdir, **self.environment)
        with open(self.log_path, "ab") as log:
            # `ip netns exec` execs the daemon: the PID we hold is Kea's own.
            self.process = subprocess.Popen(["ip", "netns", "exec", self.netns, self.daemon, "-c", self.config_path],
                                            stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("%s exited: %s" % (self.daemon, self.log_tail()))
            if os.path.exists(socket_path):
                try:
                    control(socket_path, "status-get")
                    return
                except OSError:
                    pass
            time.sleep(0.1)
        raise RuntimeError("%s did not open %s: %s" % (self.daemon, socket_path, self.log_tail()))

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines=20):
        with open(self.log_path, errors="replace") as log:
            return "".join(log.readlines()[-lines:])


def control(socket_path, command, arguments=None, timeout=60):
    """Raw control-socket exchange, independent of the code under test."""
    request = {"command": command}
    if arguments is not None:
        request["arguments"] = arguments
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(socket_path)
        sock.sendall(json.dumps(request).encode())
        chunks = []
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    return json.loads(b"".join(chunks))


# --------------------------------------------------------------------------
# Relayed DHCP clients
# --------------------------------------------------------------------------

def _udp(netns, family, bind, timeout):
    with in_netns(netns):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.settimeout(timeout)
        sock.bind(bind)
    return sock


def _options(packet):
    return {opt[0]: opt[1] if len(opt) == 2 else opt[1:] for opt in packet[DHCP].options if isinstance(opt, tuple)}


def dora4(netns, giaddr, mac, arch=None, vendor_class=None, user_class=None, timeout=3.0):
    """A relayed DISCOVER/REQUEST for mac through relay giaddr. Returns the ACK's fields, or
    {"answer": None, "stage": ...} when Kea stays silent."""
    xid = random.getrandbits(32)
    extra = []
    if arch is not None:
        extra.append(("pxe_client_architecture", arch.to_bytes(2, "big")))
    if vendor_class:
        extra.append(("vendor_class_id", vendor_class.encode()))
    if user_class:
        extra.append(("user_class", user_class.encode()))  # raw, as iPXE sends it
    extra.append(("param_req_list", [1, 3, 6, 12, 15, 43, 54, 60, 66, 67, 175]))

    def message(kind, more=()):
        bootp = BOOTP(op=1, chaddr=mac2str(mac) + b"\0" * 10, xid=xid, giaddr=giaddr, hops=1)
        return bytes(bootp / DHCP(options=[("message-type", kind)] + list(more) + extra + ["end"]))

    with _udp(netns, socket.AF_INET, (giaddr, 67), timeout) as sock:
        offer = _exchange4(sock, message("discover"), xid, 2)
        if offer is None:
            return {"answer": None, "stage": "discover"}
        server_id = _options(offer).get("server_id")
        ack = _exchange4(sock, message("request", [("requested_addr", offer.yiaddr), ("server_id", server_id)]),
                         xid, 5)
        if ack is None:
            return {"answer": None, "stage": "request"}
    options = _options(ack)
    return {
        "answer": "ack", "yiaddr": ack.yiaddr, "siaddr": ack.siaddr,
        "file": ack.file.rstrip(b"\0").decode(), "hostname": _text(options.get("hostname")),
        "server_id": options.get("server_id"), "vendor_class": _text(options.get("vendor_class_id")),
        "router": options.get("router"), "domain": _text(options.get("domain")),
        "ipxe_encap": options.get(175), "raw_options": options,
    }


def _exchange4(sock, payload, xid, want_type):
    sock.sendto(payload, (ANYCAST4, 67))
    deadline = time.monotonic() + sock.gettimeout()
    while time.monotonic() < deadline:
        try:
            data = sock.recv(4096)
        except socket.timeout:
            return None
        reply = BOOTP(data)
        if reply.xid == xid and DHCP in reply and _options(reply).get("message-type") == want_type:
            return reply
    return None


def _text(value):
    return value.decode(errors="replace").rstrip("\0") if isinstance(value, bytes) else value


def _link_local(mac):
    octets = bytearray(mac2str(mac))
    octets[0] ^= 0x02
    eui = octets[:3] + b"\xff\xfe" + octets[3:]
    return "fe80::" + ":".join("%02x%02x" % (eui[i], eui[i + 1]) for i in range(0, 8, 2))


def solicit6(netns, link_address, mac, duid=None, arch=None, user_class=None, relay_link_layer=False,
             peer_address=None, timeout=3.0):
    """A relayed SOLICIT. duid: colon hex, default DUID-LL of mac; "en" for a DUID-EN that holds no
    MAC. relay_link_layer: the relay adds the client link-layer address option (RFC 6939).
    peer_address: the client's link-local as the relay saw it (default: EUI-64 of mac).
    Returns the ADVERTISE's address and option 59, or {"answer": None}."""
    trid = random.getrandbits(23)
    if duid is None:
        client_duid = DUID_LL(lladdr=mac)
    elif duid == "en":
        client_duid = DUID_EN(enterprisenum=32473, id=b"\x01\x02\x03\x04" + mac2str(mac))
    else:
        client_duid = bytes(int(part, 16) for part in duid.split(":"))
    solicit = (DHCP6_Solicit(trid=trid) / DHCP6OptClientId(duid=client_duid) / DHCP6OptIA_NA(iaid=1)
               / DHCP6OptOptReq(reqopts=[23, 24, 59]) / DHCP6OptElapsedTime())
    if arch is not None:
        solicit = solicit / DHCP6OptClientArchType(archtypes=[arch])
    if user_class:
        solicit = solicit / DHCP6OptUserClass(userclassdata=[USER_CLASS_DATA(data=user_class.encode())])
    relay = DHCP6_RelayForward(hopcount=0, linkaddr=link_address, peeraddr=peer_address or _link_local(mac))
    if relay_link_layer:
        relay = relay / DHCP6OptClientLinkLayerAddr(clladdr=mac)
    relay = relay / DHCP6OptRelayMsg(message=solicit)
    with _udp(netns, socket.AF_INET6, (link_address, 547), timeout) as sock:
        sock.sendto(bytes(relay), (ANYCAST6, 547))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = sock.recv(4096)
            except socket.timeout:
                break
            reply = DHCP6_RelayReply(data)
            inner = reply[DHCP6OptRelayMsg].message if DHCP6OptRelayMsg in reply else None
            if inner is not None and DHCP6_Advertise in inner and inner[DHCP6_Advertise].trid == trid:
                return {
                    "answer": "advertise",
                    "address": inner[DHCP6OptIAAddress].addr if DHCP6OptIAAddress in inner else None,
                    "bootfile_url": inner[DHCP6OptBootFileUrl].optdata.decode()
                    if DHCP6OptBootFileUrl in inner else None,
                }
    return {"answer": None}


def main(argv=None):
    """CLI for checks outside pytest (the Molecule scenario's verify):
    kea_lab.py dora4 NETNS GIADDR MAC [--arch N] [--user-class S] [--vendor-class S]
    kea_lab.py solicit6 NETNS LINK_ADDRESS MAC [--duid D] [--arch N] [--user-class S]"""
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("kind", choices=["dora4", "solicit6"])
    parser.add_argument("netns")
    parser.add_argument("relay")
    parser.add_argument("mac")
    parser.add_argument("--arch", type=int)
    parser.add_argument("--user-class")
    parser.add_argument("--vendor-class")
    parser.add_argument("--duid")
    args = parser.parse_args(argv)
    if args.kind == "dora4":
        result = dora4(args.netns, args.relay, args.mac, arch=args.arch, vendor_class=args.vendor_class,
                       user_class=args.user_class)
        result.pop("raw_options", None)
        result["ipxe_encap"] = result.get("ipxe_encap").hex() if result.get("ipxe_encap") else None
    else:
        result = solicit6(args.netns, args.relay, args.mac, duid=args.duid, arch=args.arch, user_class=args.user_class)
    print(json.dumps(result, sort_keys=True))
    return 0 if result.get("answer") else 1


if __name__ == "__main__":
    raise SystemExit(main())
