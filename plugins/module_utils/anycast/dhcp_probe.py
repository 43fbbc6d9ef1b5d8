# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real DHCP health check of the local Kea, and the announce/withdraw loop of an anycast node.

Standard library only: the same file is a module_utils for the collection's modules and, copied
to /usr/local/lib/netboot-fleet/ by the anycast_bgp role, the program its systemd unit runs.

Stable API (other tests import it):
  probe4(server, select_address, ...)  relayed DHCPDISCOVER, OFFER expected    -> ProbeResult
  probe6(server, link_address, ...)    relayed SOLICIT, ADVERTISE expected     -> ProbeResult
  status_get(socket_path, ...)         Kea control socket "status-get"         -> ProbeResult
  run_checks(config)                   every check of a health-check config    -> [ProbeResult]
  HealthLoop(config).run()             rise/fall loop that drives BIRD

Why a relayed probe: a Kea that answers status-get may still be unable to allocate (no
subnet, broken config, hung worker threads). The probe travels the path a rack switch's relay
uses - UDP to the anycast address, port 67/547 - and needs an OFFER/ADVERTISE back.

DHCPv4: giaddr is a loopback address (127.0.0.2), so Kea sends the OFFER back over loopback;
the subnet is chosen by the subnet-selection option 118 (RFC 3011), set to a served network's
relay address. DHCPv6: a Relay-Forward from ::1 whose link-address is a served network's
relay address. Only DISCOVER/SOLICIT are sent: Kea commits no lease for them.

Why our own loop and not anycast-healthchecker (which drives BIRD the same way, through an
include file and `birdc configure`) or ExaBGP's healthcheck:
  - ExaBGP would replace BIRD as the BGP speaker, and has no BFD.
  - anycast-healthchecker runs its check as a new process every interval. Withdrawing within
    1.5 s needs a round every ~0.3 s; a Python probe started that often costs ~50-100 ms of CPU
    each, on nodes that also run Kea. Here the probe is a function call.
  - Drain/undrain needs a withdrawal that survives restarts, a fresh `rise` count after undrain,
    and a status file the anycast_drain module can wait on; neither tool has these.
  - It is not in Debian (PyPI only) and nodes may have no package index: this file is standard
    library only and ships with the collection.

CLI (what the systemd unit and operators run):
  dhcp_probe.py watch  --config /etc/netboot-anycast/healthcheck.json
  dhcp_probe.py check  --config ...        one round of every check, exit 0 when all pass
  dhcp_probe.py probe4 SERVER SELECT_ADDRESS [--mac M] [--expect IP] [--timeout S]
  dhcp_probe.py probe6 SERVER LINK_ADDRESS [--mac M] [--duid D] [--expect IP] [--timeout S]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import struct
import subprocess
import sys
import time
from collections import namedtuple

PROBE_MAC = "02:00:5e:ee:00:53"
SOURCE4 = "127.0.0.2"
SOURCE6 = "::1"
DHCP4_SERVER_PORT = 67
DHCP6_SERVER_PORT = 547
_MAGIC_COOKIE = b"\x63\x82\x53\x63"
_DHCPDISCOVER, _DHCPOFFER = 1, 2
_SOLICIT, _ADVERTISE, _RELAY_FORW, _RELAY_REPL = 1, 2, 12, 13
_OPT6_CLIENTID, _OPT6_IA_NA, _OPT6_IAADDR, _OPT6_ELAPSED, _OPT6_RELAY_MSG, _OPT6_STATUS = 1, 3, 5, 8, 9, 13
_OPT6_RELAY_PORT = 135

# One line per check: which check, passed or not, why, how long it took, the address offered.
ProbeResult = namedtuple("ProbeResult", "check ok detail seconds address")

ANNOUNCED, WITHDRAWN = "announced", "withdrawn"


# --------------------------------------------------------------------------
# DHCPv4
# --------------------------------------------------------------------------

def _mac_bytes(mac: str) -> bytes:
    octets = bytes(int(part, 16) for part in mac.replace("-", ":").split(":"))
    if len(octets) != 6:
        raise ValueError("%r is not a MAC address" % mac)
    return octets


def discover4(xid: int, mac: str, giaddr: str, select_address: str) -> bytes:
    """A relayed DHCPDISCOVER (hops 1, giaddr) with subnet-selection option 118."""
    header = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 1, xid, 0, 0, bytes(4), bytes(4), bytes(4),
                         socket.inet_aton(giaddr), _mac_bytes(mac) + bytes(10), b"", b"")
    options = bytes([53, 1, _DHCPDISCOVER, 118, 4]) + socket.inet_aton(select_address) + bytes([55, 2, 1, 3, 255])
    return header + _MAGIC_COOKIE + options


def parse4(data: bytes):
    """(xid, yiaddr, {option code: bytes}) of a BOOTP reply, or None when it is not DHCP."""
    if len(data) < 240 or data[236:240] != _MAGIC_COOKIE:
        return None
    options, index = {}, 240
    while index < len(data) and data[index] != 255:
        if data[index] == 0:
            index += 1
            continue
        if index + 1 >= len(data):
            break
        length = data[index + 1]
        options[data[index]] = data[index + 2:index + 2 + length]
        index += 2 + length
    return struct.unpack("!I", data[4:8])[0], socket.inet_ntoa(data[16:20]), options


def probe4(server: str, select_address: str, mac: str = PROBE_MAC, source: str = SOURCE4,
           timeout: float = 0.5, expect: str | None = None) -> ProbeResult:
    """Relay a DHCPDISCOVER to server:67 from source:67 and wait for the OFFER.

    A dead Kea is seen at once: the connected socket gets ICMP port unreachable.
    expect: the address the OFFER must carry (a reservation), None for any address.
    """
    started = time.monotonic()
    xid = random.getrandbits(32)

    def result(ok, detail, address=None):
        return ProbeResult("dhcp4", ok, detail, round(time.monotonic() - started, 4), address)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((source, DHCP4_SERVER_PORT))
            sock.connect((server, DHCP4_SERVER_PORT))
            sock.send(discover4(xid, mac, source, select_address))
            deadline = started + timeout
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return result(False, "no DHCPOFFER from %s within %.2fs" % (server, timeout))
                sock.settimeout(remaining)
                parsed = parse4(sock.recv(4096))
                if parsed is None or parsed[0] != xid or parsed[2].get(53) != bytes([_DHCPOFFER]):
                    continue
                address = parsed[1]
                if expect and address != expect:
                    return result(False, "DHCPOFFER of %s, expected %s" % (address, expect), address)
                return result(True, "DHCPOFFER of %s" % address, address)
    except socket.timeout:
        return result(False, "no DHCPOFFER from %s within %.2fs" % (server, timeout))
    except ConnectionRefusedError:
        return result(False, "nothing listens on %s port %d (Kea down)" % (server, DHCP4_SERVER_PORT))
    except OSError as exc:
        return result(False, "DHCPv4 probe of %s failed: %s" % (server, exc))


# --------------------------------------------------------------------------
# DHCPv6
# --------------------------------------------------------------------------

def _opt6(code: int, payload: bytes) -> bytes:
    return struct.pack("!HH", code, len(payload)) + payload


def duid_ll(mac: str) -> str:
    """The DUID-LL (type 3, Ethernet) of a MAC, as colon hex."""
    return ":".join("%02x" % octet for octet in b"\x00\x03\x00\x01" + _mac_bytes(mac))


def link_local(mac: str) -> str:
    """The EUI-64 link-local address of a MAC: the peer-address a relay reports for that client."""
    octets = bytearray(_mac_bytes(mac))
    octets[0] ^= 0x02
    return socket.inet_ntop(socket.AF_INET6, b"\xfe\x80" + bytes(6) + bytes(octets[:3]) + b"\xff\xfe" + bytes(octets[3:]))


def solicit6(trid: int, duid: str, link_address: str, peer_address: str) -> bytes:
    """A Relay-Forward (hop 0) carrying a SOLICIT with client-id, IA_NA and elapsed time."""
    client_id = bytes(int(part, 16) for part in duid.split(":"))
    solicit = (struct.pack("!I", (_SOLICIT << 24) | (trid & 0xFFFFFF)) + _opt6(_OPT6_CLIENTID, client_id)
               + _opt6(_OPT6_IA_NA, struct.pack("!III", 1, 0, 0)) + _opt6(_OPT6_ELAPSED, b"\0\0"))
    # Relay source port (RFC 8357): Kea answers to the probe's own port, so the probe never
    # competes with Kea for [::1]:547.
    return (bytes([_RELAY_FORW, 0]) + socket.inet_pton(socket.AF_INET6, link_address)
            + socket.inet_pton(socket.AF_INET6, peer_address) + _opt6(_OPT6_RELAY_PORT, b"\0\0")
            + _opt6(_OPT6_RELAY_MSG, solicit))


def _options6(data: bytes) -> dict:
    options, index = {}, 0
    while index + 4 <= len(data):
        code, length = struct.unpack("!HH", data[index:index + 4])
        options.setdefault(code, data[index + 4:index + 4 + length])
        index += 4 + length
    return options


def parse6(data: bytes):
    """(trid, message type, address offered or None, status code or None) of a Relay-Reply, else None."""
    if len(data) < 34 or data[0] != _RELAY_REPL:
        return None
    inner = _options6(data[34:]).get(_OPT6_RELAY_MSG)
    if not inner or len(inner) < 4:
        return None
    header = struct.unpack("!I", inner[:4])[0]
    options = _options6(inner[4:])
    address, status = None, None
    ia_na = options.get(_OPT6_IA_NA)
    if ia_na and len(ia_na) >= 12:
        ia_options = _options6(ia_na[12:])
        if len(ia_options.get(_OPT6_IAADDR, b"")) >= 16:
            address = socket.inet_ntop(socket.AF_INET6, ia_options[_OPT6_IAADDR][:16])
        if len(ia_options.get(_OPT6_STATUS, b"")) >= 2:
            status = struct.unpack("!H", ia_options[_OPT6_STATUS][:2])[0]
    return header & 0xFFFFFF, header >> 24, address, status


def probe6(server: str, link_address: str, mac: str = PROBE_MAC, duid: str | None = None, source: str = SOURCE6,
           timeout: float = 0.5, expect: str | None = None) -> ProbeResult:
    """Relay a SOLICIT to [server]:547 from [source]:<any port> and wait for an ADVERTISE with an address."""
    started = time.monotonic()
    trid = random.getrandbits(24)

    def result(ok, detail, address=None):
        return ProbeResult("dhcp6", ok, detail, round(time.monotonic() - started, 4), address)
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((source, 0))
            sock.connect((server, DHCP6_SERVER_PORT))
            sock.send(solicit6(trid, duid or duid_ll(mac), link_address, link_local(mac)))
            deadline = started + timeout
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return result(False, "no ADVERTISE from %s within %.2fs" % (server, timeout))
                sock.settimeout(remaining)
                parsed = parse6(sock.recv(4096))
                if parsed is None or parsed[0] != trid or parsed[1] != _ADVERTISE:
                    continue
                address = parsed[2]
                if address is None:
                    return result(False, "ADVERTISE without an address (status %s)" % parsed[3])
                if expect and address != expect:
                    return result(False, "ADVERTISE of %s, expected %s" % (address, expect), address)
                return result(True, "ADVERTISE of %s" % address, address)
    except socket.timeout:
        return result(False, "no ADVERTISE from %s within %.2fs" % (server, timeout))
    except ConnectionRefusedError:
        return result(False, "nothing listens on %s port %d (Kea down)" % (server, DHCP6_SERVER_PORT))
    except OSError as exc:
        return result(False, "DHCPv6 probe of %s failed: %s" % (server, exc))


# --------------------------------------------------------------------------
# Kea control socket
# --------------------------------------------------------------------------

def status_get(socket_path: str, timeout: float = 0.5, check: str = "status-get") -> ProbeResult:
    """Kea's status-get over its unix control socket: result 0 expected."""
    started = time.monotonic()

    def result(ok, detail):
        return ProbeResult(check, ok, detail, round(time.monotonic() - started, 4), None)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(socket_path)
            sock.sendall(b'{"command": "status-get"}')
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        answer = json.loads(b"".join(chunks))
    except (OSError, ValueError) as exc:
        return result(False, "%s on %s failed: %s" % (check, socket_path, exc))
    if isinstance(answer, list):  # kea-ctrl-agent style answer
        answer = answer[0] if answer else {}
    if answer.get("result") != 0:
        return result(False, "%s on %s: %s" % (check, socket_path, answer.get("text")))
    return result(True, "%s ok (pid %s)" % (check, (answer.get("arguments") or {}).get("pid")))


# --------------------------------------------------------------------------
# Health-check config and one round of checks
# --------------------------------------------------------------------------

def _say(text: str, stream=None):
    """One line to the journal (stdout, or stream). A program's output, not a module's."""
    stream = stream or sys.stdout
    stream.write(text + "\n")
    stream.flush()


def run_checks(config: dict) -> list:
    """Run every check of a health-check config (see plugins/module_utils/anycast/bird.py render_healthcheck)."""
    timeout = float(config.get("timeout", 0.5))
    results = []
    for check in config.get("checks", []):
        kind = check["kind"]
        if kind == "status-get":
            results.append(status_get(check["socket"], timeout, check="status-get %s" % check.get("name", "")))
        elif kind == "dhcp4":
            results.append(probe4(check["server"], check["select_address"], mac=check.get("mac", PROBE_MAC),
                                  source=check.get("source", SOURCE4), timeout=timeout, expect=check.get("expect")))
        elif kind == "dhcp6":
            results.append(probe6(check["server"], check["link_address"], mac=check.get("mac", PROBE_MAC),
                                  duid=check.get("duid"), source=check.get("source", SOURCE6), timeout=timeout,
                                  expect=check.get("expect")))
        else:
            results.append(ProbeResult(kind, False, "unknown check kind %r" % kind, 0.0, None))
        if not results[-1].ok:
            break  # one failure decides the round; spare the remaining timeouts
    return results


def load_config(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def announce_text(announce: bool) -> str:
    """The BIRD include file the loop writes: the constant the export filters test."""
    return ("# Written by netboot.fleet dhcp_probe.py (health check); do not edit.\n"
            "define NETBOOT_ANYCAST_ANNOUNCE = %s;\n" % ("true" if announce else "false"))


def read_announce(path: str) -> bool:
    """What the include file currently says (False when missing or unreadable)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return "= true;" in handle.read()
    except OSError:
        return False


def _write_atomic(path: str, text: str, mode: int = 0o644):
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(temporary, mode)
    os.replace(temporary, path)


def read_status(path: str) -> dict | None:
    """The loop's status file ({"state", "reason", "drained", "since", ...}), None when absent."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------
# The announce/withdraw loop
# --------------------------------------------------------------------------

class HealthLoop:
    """Every `interval` seconds: drained? run the checks; after `fall` failed rounds withdraw,
    after `rise` passed rounds (and not drained) announce. A drain withdraws at once.

    Announcing = writing `announce_file` (a BIRD include defining NETBOOT_ANYCAST_ANNOUNCE) and
    `birdc configure`: BIRD re-evaluates the export filters and sends the UPDATE/withdraw. The
    include survives BIRD restarts and reconfigurations, so BIRD never announces on its own.
    """

    def __init__(self, config: dict, clock=time.monotonic, sleep=time.sleep, runner=None, checker=run_checks,
                 config_path: str | None = None):
        self.config_path = config_path
        self.config_mtime = os.stat(config_path).st_mtime_ns if config_path else None
        self._configure(config)
        self.clock, self.sleep, self.checker = clock, sleep, checker
        self.runner = runner or self._birdc
        self.announced = read_announce(config["announce_file"])
        self.passed = self.failed = 0
        self.reason = "starting"
        self.since = time.time()
        self.last = []
        self.pending = True  # BIRD has not been told yet in this run

    def _configure(self, config: dict):
        self.config = config
        self.interval = float(config.get("interval", 0.3))
        self.rise = int(config.get("rise", 3))
        self.fall = int(config.get("fall", 2))

    def _reload_if_changed(self):
        """Pick up a rewritten config (new probe target after a SoT push) without a restart."""
        if not self.config_path:
            return
        try:
            mtime = os.stat(self.config_path).st_mtime_ns
            if mtime != self.config_mtime:
                self._configure(load_config(self.config_path))
                self.config_mtime = mtime
                _say("reloaded %s" % self.config_path)
        except (OSError, ValueError) as exc:  # keep the config in use; a half-written file is retried
            _say("cannot reload %s: %s" % (self.config_path, exc), sys.stderr)

    def _birdc(self, argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:  # BIRD hung or birdc missing: retried next round
            return subprocess.CompletedProcess(argv, 1, "", str(exc))

    def _apply(self, announce: bool) -> bool:
        _write_atomic(self.config["announce_file"], announce_text(announce))
        completed = self.runner(list(self.config["birdc"]) + ["configure"])
        ok = completed.returncode == 0 and "Reconfigured" in (completed.stdout or "") + (completed.stderr or "")
        if not ok:
            _say("birdc configure failed: %s" % ((completed.stdout or "") + (completed.stderr or "")).strip(), sys.stderr)
        return ok

    def step(self):
        """One round: returns the state after it."""
        self._reload_if_changed()
        drained = os.path.exists(self.config["drain_file"])
        self.last = self.checker(self.config)
        if all(result.ok for result in self.last) and self.last:
            self.passed, self.failed = self.passed + 1, 0
        else:
            self.passed, self.failed = 0, self.failed + 1
        want = self.announced
        if drained:
            # Undraining needs `rise` fresh passes: count none while drained.
            want, reason, self.passed = False, "drained", 0
        elif self.announced:
            want = self.failed < self.fall
            reason = "healthy" if want else "unhealthy: %s" % self._failure()
        else:
            want = self.passed >= self.rise
            reason = "healthy" if want else ("unhealthy: %s" % self._failure() if self.failed else
                                             "rising (%d/%d)" % (self.passed, self.rise))
        if want != self.announced or self.pending:
            if self._apply(want):
                if want != self.announced:
                    self.since = time.time()
                    _say("%s: %s" % (ANNOUNCED if want else WITHDRAWN, reason))
                self.announced, self.pending = want, False
        self.reason = reason
        self._write_status(drained)
        return self.announced

    def _failure(self) -> str:
        failed = [result for result in self.last if not result.ok]
        return failed[0].detail if failed else "no check configured"

    def _write_status(self, drained: bool):
        status = {
            "state": ANNOUNCED if self.announced else WITHDRAWN,
            "reason": self.reason,
            "drained": drained,
            "since": round(self.since, 3),
            "updated": round(time.time(), 3),
            "passed": self.passed,
            "failed": self.failed,
            "rise": self.rise,
            "fall": self.fall,
            "bird_synced": not self.pending,
            "checks": [result._asdict() for result in self.last],
        }
        _write_atomic(self.config["status_file"], json.dumps(status, sort_keys=True) + "\n")

    def run(self, rounds: int | None = None):
        done = 0
        while rounds is None or done < rounds:
            started = self.clock()
            self.step()
            done += 1
            self.sleep(max(0.0, self.interval - (self.clock() - started)))


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

def _print_results(results) -> int:
    for result in results:
        verdict = "ok" if result.ok else "FAIL"
        _say("%-24s %-4s %6.1f ms  %s" % (result.check, verdict, result.seconds * 1000, result.detail))
    return 0 if results and all(result.ok for result in results) else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="dhcp_probe.py", description="Health check of the local Kea (netboot.fleet).")
    commands = parser.add_subparsers(dest="command", required=True)
    watch = commands.add_parser("watch", help="announce/withdraw loop driving BIRD (the systemd service)")
    watch.add_argument("--config", required=True)
    check = commands.add_parser("check", help="one round of every configured check")
    check.add_argument("--config", required=True)
    for name, relay_help in (("probe4", "SELECT_ADDRESS: a served network's relay address"),
                             ("probe6", "LINK_ADDRESS: a served network's relay address")):
        probe = commands.add_parser(name, help="one relayed probe; " + relay_help)
        probe.add_argument("server")
        probe.add_argument("relay")
        probe.add_argument("--mac", default=PROBE_MAC)
        probe.add_argument("--expect")
        probe.add_argument("--timeout", type=float, default=0.5)
        if name == "probe6":
            probe.add_argument("--duid")
    args = parser.parse_args(argv)
    if args.command == "watch":
        HealthLoop(load_config(args.config), config_path=args.config).run()
        return 0
    if args.command == "check":
        return _print_results(run_checks(load_config(args.config)))
    if args.command == "probe4":
        return _print_results([probe4(args.server, args.relay, mac=args.mac, timeout=args.timeout, expect=args.expect)])
    return _print_results([probe6(args.server, args.relay, mac=args.mac, duid=args.duid, timeout=args.timeout,
                                  expect=args.expect)])


if __name__ == "__main__":
    raise SystemExit(main())
