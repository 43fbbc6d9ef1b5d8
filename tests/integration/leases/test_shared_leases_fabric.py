"""Shared leases behind the FRR rack switch: drain, kill and blackhole the answering node while pool clients
lease and renew through the switch's relay.

The anycast fabric (tests/integration/anycast/fabric.py: FRR ToR with BGP multipath + BFD, dhcrelay, two nodes
with Kea, BIRD and the health loop) with both nodes' leases in one PostgreSQL lease database (leases_lab: primary
+ synchronous standby set up by bringup.yml's database plays). The switch hashes every relayed packet to one
node (one source, one destination), so a client's renewals move to the other node only when the ECMP set
changes: exactly when a node is drained, dies or is blackholed. Every ACK is compared with every other live
lease (no address held by two clients), and every renewal (REQUEST with ciaddr, as a rebinding client
broadcasts it) must be ACKed with the client's address: a NAK or another address is a lost renewal. Requests
sent while a dead node is still announced go unanswered and are retried; they are counted, not lost.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import struct
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "anycast"))

import fabric as fabric_lab  # noqa: E402
import leases_lab  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.anycast import dhcp_probe  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot  # noqa: E402

CLIENTS = 8          # of the fabric's 11-address rack12 pool
LATE_CLIENTS = 2     # join when a node is drained
DISCOVER, OFFER, REQUEST, ACK, NAK = 1, 2, 3, 5, 6


def pool_mac(index):
    return "02:19:00:00:01:%02x" % index


def packet(xid, mac, kind, ciaddr=None, requested=None, server_id=None):
    """A client's BOOTREQUEST (broadcast flag: the relay broadcasts the answer on the client network)."""
    options = bytes([53, 1, kind])
    if requested:
        options += bytes([50, 4]) + socket.inet_aton(requested)
    if server_id:
        options += bytes([54, 4]) + socket.inet_aton(server_id)
    chaddr = bytes(int(part, 16) for part in mac.split(":")) + bytes(10)
    header = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000,
                         socket.inet_aton(ciaddr or "0.0.0.0"), bytes(4), bytes(4), bytes(4), chaddr, b"", b"")
    return header + b"\x63\x82\x53\x63" + options + bytes([55, 2, 1, 3, 255])


class PoolClients:
    """Pool clients behind the switch, one exchange at a time: a client without a lease does DORA, one with a
    lease renews it (REQUEST with ciaddr, no server id: RFC 2131 REBINDING, which the relay forwards)."""

    def __init__(self, fabric):
        self.sock = fabric_lab._client_socket(fabric)  # pylint: disable=protected-access
        self.clients = [pool_mac(index) for index in range(CLIENTS)]
        self.leases = {}          # mac -> address
        self.acks = []            # (time, mac, address, "lease" | "renew")
        self.duplicates = []      # (mac, address, holder)
        self.lost = []            # (mac, had, answer kind, address)
        self.unanswered = 0
        self.running = threading.Event()
        self.paused = threading.Event()
        self.exchange_lock = threading.Lock()  # held for each exchange: pause() returns between two
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self.running.set()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running.clear()
        self.thread.join()
        self.sock.close()

    def add(self, count):
        """New clients: they lease before any other renewal (the next exchange)."""
        self.clients += [pool_mac(len(self.clients) + index) for index in range(count)]

    def pause(self):
        self.paused.set()
        with self.exchange_lock:
            pass

    def resume(self):
        self.paused.clear()

    def renewals(self):
        return sum(1 for ack in self.acks if ack[3] == "renew")

    def _exchange(self, payload, xid, kinds, timeout=0.5):
        self.sock.sendto(payload, ("255.255.255.255", 67))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                parsed = dhcp_probe.parse4(self.sock.recv(4096))
            except socket.timeout:
                return None
            if parsed and parsed[0] == xid and parsed[2].get(53, b"\0")[0] in kinds:
                return parsed[2][53][0], parsed[1], parsed[2]
        return None

    def _acked(self, mac, address, how):
        holders = [other for other, held in self.leases.items() if held == address and other != mac]
        self.duplicates += [(mac, address, holder) for holder in holders]
        self.leases[mac] = address
        self.acks.append((time.time(), mac, address, how))

    def _lease(self, mac):
        xid = random.getrandbits(32)
        offer = self._exchange(packet(xid, mac, DISCOVER), xid, (OFFER,))
        if offer is None:
            self.unanswered += 1
            return
        server_id = socket.inet_ntoa(offer[2][54])
        answer = self._exchange(packet(xid, mac, REQUEST, requested=offer[1], server_id=server_id), xid, (ACK, NAK))
        if answer is None:
            self.unanswered += 1
        elif answer[0] == ACK:
            self._acked(mac, answer[1], "lease")

    def _renew(self, mac):
        had = self.leases[mac]
        xid = random.getrandbits(32)
        answer = self._exchange(packet(xid, mac, REQUEST, ciaddr=had), xid, (ACK, NAK))
        if answer is None:
            self.unanswered += 1
        elif answer[0] == ACK and answer[1] == had:
            self._acked(mac, had, "renew")
        else:
            self.lost.append((mac, had, answer[0], answer[1]))
            del self.leases[mac]

    def _loop(self):
        """Clients without a lease lease first; then one renewal, the clients in turn."""
        turn = 0
        while self.running.is_set():
            if self.paused.is_set():
                time.sleep(0.01)
                continue
            with self.exchange_lock:
                waiting = [mac for mac in self.clients if mac not in self.leases]
                if waiting:
                    self._lease(waiting[0])
                else:
                    self._renew(self.clients[turn % len(self.clients)])
                    turn += 1
            time.sleep(0.01)


@pytest.fixture(scope="module")
def shared_fabric():
    reason = fabric_lab.missing_tools() or leases_lab.missing()
    if reason:
        pytest.skip(reason)
    database = leases_lab.LeasesLab(sot.load(leases_lab.kea_lab.EMBEDDED_SOT))
    fabric = fabric_lab.Fabric()
    try:
        database.start_database(leases_lab.kea_lab.EMBEDDED_SOT)
        for node in fabric.nodes:
            # Reservations stay in the config (the fabric's own SoT); leases go to the shared database.
            node.kea_extra = dict(database.database_settings, hosts_backend="json", lease_backend="postgresql",
                                  lease_db_password=database.passwords["leases"])
            node.kea_environment = dict(leases_lab.KEA_ENVIRONMENT)
        fabric.build()
        fabric.wait_paths(2)
        yield fabric
    finally:
        fabric.destroy()
        database.destroy(nodes=False)


def answering(fabric):
    name = None
    deadline = time.monotonic() + 20
    while name is None and time.monotonic() < deadline:
        name = fabric.answering_node()
    assert name, fabric.diagnose()
    return fabric.node(name)


def wait_renewals(clients, more, timeout=30):
    target = clients.renewals() + more
    fabric_lab.wait_for(lambda: clients.renewals() >= target, timeout, "%d more renewals (lost %s)" % (more, clients.lost))


def test_drain_kill_and_blackhole_lose_no_renewal_and_lease_no_address_twice(shared_fabric):
    fabric = shared_fabric
    events = []
    with PoolClients(fabric) as clients:
        fabric_lab.wait_for(lambda: len(clients.leases) == CLIENTS, 30, "every pool client leased")
        wait_renewals(clients, 2 * CLIENTS)

        # Drained: its health loop withdraws the route; the other node answers. Clients wait meanwhile, so that
        # a new client's lease is the first exchange there, before any renewal tells that node anything:
        # with leases of its own (memfile) it would offer an address a client of the drained node holds.
        node = answering(fabric)
        clients.pause()
        node.drain(True)
        fabric.wait_paths(1)
        events.append(("drained", node.name, answering(fabric).name))
        clients.add(LATE_CLIENTS)
        clients.resume()
        wait_renewals(clients, 2 * CLIENTS)
        node.drain(False)
        fabric.wait_paths(2)

        # Killed: Kea dies, the health loop withdraws the route.
        node = answering(fabric)
        node.kea["dhcp4"].process.send_signal(signal.SIGKILL)
        fabric.wait_paths(1)
        events.append(("killed", node.name, answering(fabric).name))
        wait_renewals(clients, 2 * CLIENTS)
        fabric.heal()

        # Blackholed: nothing in or out, links up; BFD takes the route away.
        node = answering(fabric)
        node.blackhole(True)
        fabric.wait_paths(1)
        events.append(("blackholed", node.name, answering(fabric).name))
        wait_renewals(clients, 2 * CLIENTS)
        fabric.heal()
        wait_renewals(clients, CLIENTS)

    print("events (what, node, now answering): %s; %d ACKs (%d renewals), %d requests unanswered while a node went"
          % (events, len(clients.acks), clients.renewals(), clients.unanswered))
    assert [event[1] != event[2] for event in events] == [True, True, True], events
    assert clients.duplicates == [], clients.duplicates
    assert clients.lost == [], clients.lost
    assert len(clients.leases) == CLIENTS + LATE_CLIENTS
    assert len(set(clients.leases.values())) == CLIENTS + LATE_CLIENTS
    # Each client kept one address through the whole run.
    addresses = {}
    for _time, mac, address, _how in clients.acks:
        addresses.setdefault(mac, set()).add(address)
    assert all(len(held) == 1 for held in addresses.values()), addresses
