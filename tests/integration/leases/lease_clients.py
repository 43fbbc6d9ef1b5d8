"""Relayed DHCPv4/DHCPv6 clients that keep their lease: DORA, then RENEW/REBIND carrying it, to any node.

What a rack relay forwards when a machine renews: DHCPv4 REQUEST with ciaddr set and no server id
(RFC 2131 4.3.2, RENEWING/REBINDING), DHCPv6 RENEW (with the server's DUID) or REBIND (without). The
relay side is kea_lab's: a UDP socket on the relay address in the client namespace, to the anycast
address, which that namespace routes to one node.
"""

from __future__ import annotations

import random
import socket
import threading
import time

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dhcp6 import (DHCP6_Advertise, DHCP6_Rebind, DHCP6_RelayForward, DHCP6_RelayReply, DHCP6_Renew,
                                DHCP6_Reply, DHCP6_Request, DHCP6_Solicit, DHCP6OptClientId, DHCP6OptElapsedTime,
                                DHCP6OptIA_NA, DHCP6OptIAAddress, DHCP6OptRelayMsg, DHCP6OptServerId,
                                DHCP6OptStatusCode, DUID_LL)
from scapy.utils import mac2str

import kea_lab

NAK, ACK, OFFER = 6, 5, 2


def _bootp(mac, xid, giaddr, kind, ciaddr="0.0.0.0", options=()):
    bootp = BOOTP(op=1, chaddr=mac2str(mac) + b"\0" * 10, xid=xid, giaddr=giaddr, hops=1, ciaddr=ciaddr)
    return bytes(bootp / DHCP(options=[("message-type", kind)] + list(options) + ["end"]))


def _exchange4(netns, giaddr, payload, xid, want, timeout):
    with kea_lab._udp(netns, socket.AF_INET, (giaddr, 67), timeout) as sock:
        sock.sendto(payload, (kea_lab.ANYCAST4, 67))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                reply = BOOTP(sock.recv(4096))
            except socket.timeout:
                return None
            if reply.xid == xid and DHCP in reply:
                kind = kea_lab._options(reply).get("message-type")
                if kind in want:
                    return kind, reply.yiaddr
    return None


def lease4(netns, giaddr, mac, timeout=2.0):
    """DISCOVER, REQUEST: the ACKed address, or None."""
    xid = random.getrandbits(32)
    offer = _exchange4(netns, giaddr, _bootp(mac, xid, giaddr, "discover"), xid, (OFFER,), timeout)
    if offer is None:
        return None
    answer = _exchange4(netns, giaddr, _bootp(mac, xid, giaddr, "request", options=[
        ("requested_addr", offer[1]), ("server_id", kea_lab.ANYCAST4)]), xid, (ACK, NAK), timeout)
    return answer[1] if answer and answer[0] == ACK else None


def renew4(netns, giaddr, mac, address, timeout=2.0):
    """A RENEWING/REBINDING REQUEST for address: ("ack", yiaddr), ("nak", None) or (None, None)."""
    xid = random.getrandbits(32)
    answer = _exchange4(netns, giaddr, _bootp(mac, xid, giaddr, "request", ciaddr=address), xid, (ACK, NAK), timeout)
    if answer is None:
        return None, None
    return ("ack", answer[1]) if answer[0] == ACK else ("nak", None)


def _relay6(netns, link, mac, message, want, timeout):
    relay = (DHCP6_RelayForward(hopcount=0, linkaddr=link, peeraddr=kea_lab._link_local(mac))
             / DHCP6OptRelayMsg(message=message))
    with kea_lab._udp(netns, socket.AF_INET6, (link, 547), timeout) as sock:
        sock.sendto(bytes(relay), (kea_lab.ANYCAST6, 547))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                reply = DHCP6_RelayReply(sock.recv(4096))
            except socket.timeout:
                return None
            inner = reply[DHCP6OptRelayMsg].message if DHCP6OptRelayMsg in reply else None
            if inner is not None and want in inner and inner[want].trid == message.trid:
                return inner
    return None


def _address6(inner):
    """The IA_NA address with a non-zero valid lifetime, or None (NoBinding, NoAddrsAvail, released)."""
    if inner is None or DHCP6OptIAAddress not in inner:
        return None
    option = inner[DHCP6OptIAAddress]
    return option.addr if option.validlft else None


def lease6(netns, link, mac, timeout=2.0):
    """SOLICIT, REQUEST: (address, server DUID option) or (None, None)."""
    client = DHCP6OptClientId(duid=DUID_LL(lladdr=mac))
    solicit = DHCP6_Solicit(trid=random.getrandbits(23)) / client / DHCP6OptIA_NA(iaid=1) / DHCP6OptElapsedTime()
    advertise = _relay6(netns, link, mac, solicit, DHCP6_Advertise, timeout)
    offered = _address6(advertise)
    if offered is None:
        return None, None
    server = DHCP6OptServerId(bytes(advertise[DHCP6OptServerId]))
    request = (DHCP6_Request(trid=random.getrandbits(23)) / client / server
               / DHCP6OptIA_NA(iaid=1, ianaopts=[DHCP6OptIAAddress(addr=offered)]) / DHCP6OptElapsedTime())
    return _address6(_relay6(netns, link, mac, request, DHCP6_Reply, timeout)), server


def extend6(netns, link, mac, address, server=None, timeout=2.0):
    """RENEW (with the server's DUID) or, without server, REBIND for address: the address the REPLY keeps
    with a non-zero lifetime, or None (no answer, NoBinding, or the address taken away)."""
    client = DHCP6OptClientId(duid=DUID_LL(lladdr=mac))
    ia = DHCP6OptIA_NA(iaid=1, ianaopts=[DHCP6OptIAAddress(addr=address, preflft=300, validlft=600)])
    if server is not None:
        message = DHCP6_Renew(trid=random.getrandbits(23)) / client / server / ia / DHCP6OptElapsedTime()
    else:
        message = DHCP6_Rebind(trid=random.getrandbits(23)) / client / ia / DHCP6OptElapsedTime()
    reply = _relay6(netns, link, mac, message, DHCP6_Reply, timeout)
    if reply is not None and DHCP6OptStatusCode in reply and reply[DHCP6OptStatusCode].statuscode not in (0,):
        return None
    return _address6(reply)


class LeaseLoop:
    """New DHCPv6 clients (the pool holds 4096) leasing through both nodes in turn, one after the other,
    recording every address a REPLY gave and when."""

    def __init__(self, nodes, link):
        self.nodes, self.link = nodes, link
        self.acks = []        # (exchange started, REPLY received, mac, address)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        index = 0
        while not self.stop.is_set():
            client = "02:53:00:00:%02x:%02x" % (index >> 8 & 255, index & 255)
            started = time.monotonic()
            address, _server = lease6(self.nodes[index % len(self.nodes)].topology.cli, self.link, client, timeout=0.5)
            if address:
                self.acks.append((started, time.monotonic(), client, address))
            index += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)
