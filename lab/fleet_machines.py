"""What simulated machines do after power-on, as their firmware, iPXE and installer would: many per process.

Each machine is an asyncio task in one event loop (one thread, bound to the machines' network
namespace): no VM, no process per machine, a few kilobytes each. Booting from the network:

  firmware  DHCPv4 (option 93 arch, option 60 PXEClient/HTTPClient vendor class) or DHCPv6 (option 61 arch,
            option 16 vendor class, option 59 requested), broadcast/multicast on the rack's link, where the
            rack switch's dhcrelay relays it to the anycast address; the boot loader Kea names, by TFTP
            (RRQ with blksize) or HTTP
  iPXE      DHCP again with option 77 / 15 "iPXE", the entry script, the machine's own script
  installer the kernel and initrd the script names, the answer file on its kernel line, the install-done
            callback it holds, then power off (the BMC shows it off)
  disk      an installed disk's first boot: the first-boot callback; a blank disk falls through to the network

Failures on purpose (`Faults`, per machine, from a seeded draw, on its first boot only so that a retry
recovers): no DHCP (the firmware's requests never leave), a lost fetch (the script request is dropped).
A dead BMC is the BMC farm's (lab/bmc_farm.py --dead).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import random
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "collections"))

from ansible_collections.netboot.fleet.plugins.module_utils.anycast import dhcp_probe  # noqa: E402
# The probe's DHCPv6 option coding: one option (code, length, value), and a message's options by code.
from ansible_collections.netboot.fleet.plugins.module_utils.anycast.dhcp_probe import _opt6, _options6  # noqa: E402

CLONE_NEWNET = 0x40000000
SO_BINDTODEVICE = 25
ENTERPRISE_INTEL = 343  # the enterprise number UEFI firmware puts in DHCPv6 option 16
# DHCP client architecture types (RFC 4578, IANA) by SoT firmware.
ARCH = {"bios": 0, "uefi": 7, "uefi-http": 16}
HTTP_TIMEOUT = 10
# Retransmission as firmware does it: DHCPv4 after 4, 8, 16 and 32 s (RFC 2131 4.1, the PXE specification's
# schedule), each +-1 s at random; DHCPv6 from 1 s, doubling (RFC 8415 15), each +-10 %. The jitter keeps a
# rack powered on at once from retransmitting in step.
DHCP_TIMEOUTS = {4: (4, 8, 16, 32), 6: (1, 2, 4, 8, 16, 32)}
TFTP_BLKSIZE = 8192
CALLBACK = re.compile(r"http://[^\s'\";]+/callback/[^\s'\";]+/(installed|booted)")
CHAIN = re.compile(r"(http://\S+)/ipxe/\$\{net0/mac\}\.ipxe")


def enter_netns(name):
    """Move the calling thread (only it) into the network namespace /run/netns/<name>."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/run/netns/%s" % name, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns %s" % name)
    finally:
        os.close(fd)


class Faults:
    """Which machines fail on purpose (first boot only): a seeded draw per machine name."""

    def __init__(self, no_dhcp=0.0, lost_fetch=0.0, seed=1):
        self.no_dhcp, self.lost_fetch, self.seed = no_dhcp, lost_fetch, seed

    def of(self, name):
        draw = random.Random("%s/%s" % (self.seed, name))
        faults = set()
        if draw.random() < self.no_dhcp:
            faults.add("no_dhcp")
        if draw.random() < self.lost_fetch:
            faults.add("lost_fetch")
        return faults


# -- DHCP ----------------------------------------------------------------------------------------------

def dhcp4_packet(kind, xid, mac, options):
    """A client's BOOTREQUEST with the broadcast flag (the relay's answer comes back as a broadcast)."""
    header = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000, b"\0" * 4, b"\0" * 4,
                         b"\0" * 4, b"\0" * 4, bytes.fromhex(mac.replace(":", "")) + b"\0" * 10, b"", b"")
    body = bytes([53, 1, kind])
    for code, value in options:
        body += bytes([code, len(value)]) + value
    return header + b"\x63\x82\x53\x63" + body + b"\xff"


def parse_dhcp4(data):
    """(xid, message type, your address, boot file, next server, server id) of a BOOTREPLY."""
    parsed = dhcp_probe.parse4(data)
    if parsed is None or data[0] != 2:
        return None
    xid, yiaddr, options = parsed
    boot_file = (options.get(67) or data[108:236]).split(b"\0")[0].decode(errors="replace")
    return xid, options.get(53, b"\0")[0], yiaddr, boot_file, socket.inet_ntoa(data[20:24]), options.get(54)


def dhcp6_packet(kind, xid, duid, options):
    return bytes([kind]) + xid.to_bytes(3, "big") + _opt6(1, duid) + b"".join(_opt6(code, value) for code, value in options)


def parse_dhcp6(data):
    """(xid, message type, address, bootfile URL, server id, client id) of an Advertise/Reply."""
    if len(data) < 4:
        return None
    options = _options6(data[4:])
    address = None
    ia_na = options.get(3)
    if ia_na and len(ia_na) > 12:
        iaaddr = _options6(ia_na[12:]).get(5)
        if iaaddr and len(iaaddr) >= 16:
            address = socket.inet_ntop(socket.AF_INET6, iaaddr[:16])
    url = options.get(59, b"").decode(errors="replace") or None
    return int.from_bytes(data[1:4], "big"), data[0], address, url, options.get(2), options.get(1)


def _jittered(family, timeout):
    return timeout + (random.uniform(-1, 1) if family == 4 else timeout * random.uniform(-0.1, 0.1))


class Link:
    """One rack's link as its machines see it: the DHCP sockets on that interface, answers by transaction id."""

    def __init__(self, loop, interface):
        self.loop, self.interface = loop, interface
        self.waiting = {}
        self.index = socket.if_nametoindex(interface)
        self.sock4 = self._socket(socket.AF_INET, ("0.0.0.0", 68))
        self.sock4.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        self.sock6 = self._socket(socket.AF_INET6, ("::", 546))
        loop.add_reader(self.sock4.fileno(), self._received, self.sock4, parse_dhcp4)
        loop.add_reader(self.sock6.fileno(), self._received, self.sock6, parse_dhcp6)

    def _socket(self, family, address):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, self.interface.encode())
        sock.setblocking(False)
        sock.bind(address)
        return sock

    def _received(self, sock, parse):
        try:
            data = sock.recv(4096)
        except OSError:
            return
        parsed = parse(data)
        future = self.waiting.get(parsed[0]) if parsed else None
        if future is not None and not future.done():
            future.set_result(parsed)

    async def exchange(self, family, packet, xid, wanted):
        """Send `packet` (retried) and return the first answer of type `wanted` with this xid."""
        for timeout in DHCP_TIMEOUTS[family]:
            future = self.loop.create_future()
            self.waiting[xid] = future
            try:
                if family == 4:
                    self.sock4.sendto(packet, ("255.255.255.255", 67))
                else:
                    self.sock6.sendto(packet, ("ff02::1:2", 547, 0, self.index))
                answer = await asyncio.wait_for(future, _jittered(family, timeout))
            except asyncio.TimeoutError:
                continue
            finally:
                self.waiting.pop(xid, None)
            if answer[1] == wanted:
                return answer
        raise RuntimeError("no DHCPv%d answer" % family)

    async def dhcp4(self, mac, options):
        xid = random.getrandbits(32)
        _xid, _kind, offered, _file, _next, server_id = await self.exchange(4, dhcp4_packet(1, xid, mac, options), xid, 2)
        request = options + [(50, socket.inet_aton(offered))] + ([(54, server_id)] if server_id else [])
        _xid, _kind, address, boot_file, next_server, _sid = await self.exchange(4, dhcp4_packet(3, xid, mac, request), xid, 5)
        return address, boot_file, next_server

    async def dhcp6(self, mac, options):
        duid = b"\x00\x03\x00\x01" + bytes.fromhex(mac.replace(":", ""))
        iaid = bytes.fromhex(mac.replace(":", ""))[-4:]
        common = [(3, iaid + b"\0" * 8), (6, struct.pack("!HH", 59, 23)), (8, b"\0\0")] + options
        xid = random.getrandbits(24)
        advertise = await self.exchange(6, dhcp6_packet(1, xid, duid, common), xid, 2)
        _xid, _kind, address, _url, server_id, _cid = advertise
        if address is None:
            raise RuntimeError("DHCPv6 advertise without an address")
        xid = random.getrandbits(24)
        iaaddr = _opt6(5, socket.inet_pton(socket.AF_INET6, address) + b"\0" * 8)
        request = [(3, iaid + b"\0" * 8 + iaaddr), (2, server_id)] + common[1:]
        _xid, _kind, address, url, _sid, _cid = await self.exchange(6, dhcp6_packet(3, xid, duid, request), xid, 7)
        return address, url, None


# -- TFTP and HTTP -------------------------------------------------------------------------------------

def _family(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET


async def tftp(loop, source, server, filename):
    """Read a file over TFTP (RFC 1350, blksize RFC 2348) from `source`; its size."""
    sock = socket.socket(_family(server), socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sock.bind((source, 0))
        request = b"\0\1" + filename.encode() + b"\0octet\0blksize\0" + str(TFTP_BLKSIZE).encode() + b"\0"
        peer, expected, size, blksize, last = (server, 69), 1, 0, 512, request
        while True:
            for _attempt in range(3):
                await loop.sock_sendto(sock, last, peer)
                try:
                    data, sender = await asyncio.wait_for(loop.sock_recvfrom(sock, 70000), 3)
                    break
                except asyncio.TimeoutError:
                    continue
            else:
                raise RuntimeError("TFTP %s: no answer" % filename)
            peer = sender[:2]
            opcode = struct.unpack("!H", data[:2])[0]
            if opcode == 5:
                raise RuntimeError("TFTP %s: error %s" % (filename, data[4:-1].decode(errors="replace")))
            if opcode == 6:  # OACK: the server took the block size
                options = data[2:].split(b"\0")
                blksize = int(options[options.index(b"blksize") + 1]) if b"blksize" in options else 512
                last = b"\0\4\0\0"
                continue
            block = struct.unpack("!H", data[2:4])[0]
            last = b"\0\4" + data[2:4]
            if opcode == 3 and block == expected & 0xFFFF:
                size += len(data) - 4
                expected += 1
                if len(data) - 4 < blksize:
                    await loop.sock_sendto(sock, last, peer)
                    return size
    finally:
        sock.close()


async def http_get(loop, source, url):
    """(status, body) of a GET from the `source` address; status 0 when the connection failed."""
    match = re.match(r"http://(\[[^\]]+\]|[^/:]+)(?::(\d+))?(/.*)?$", url)
    if not match:
        return 0, ""
    host = match.group(1).strip("[]")
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        sock.bind((source, 0))
        await asyncio.wait_for(loop.sock_connect(sock, (host, int(match.group(2) or 80))), HTTP_TIMEOUT)
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: iPXE/1.21.1 (netboot.fleet simulator)\r\n"
                      "Connection: close\r\n\r\n" % (match.group(3) or "/", match.group(1))).encode())
        data = await asyncio.wait_for(reader.read(), HTTP_TIMEOUT)
        writer.close()
    except (OSError, asyncio.TimeoutError):
        sock.close()
        return 0, ""
    head, _sep, body = data.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0), body.decode(errors="replace")


# -- machines ------------------------------------------------------------------------------------------

class Machine:
    """One machine: power, the next boot device, its disk, and the boot it is running."""

    def __init__(self, fleet, record, link, faults):
        self.fleet, self.record, self.link, self.faults = fleet, record, link, faults
        self.name, self.mac = record["name"], record["mac"]
        self.disk = None          # the first-boot callback URL and address of an installed system
        self.boots = 0
        self.task = None
        self.bmc = None
        self.step = "off"

    def power(self, request, boot_device, bmc):
        """The BMC's chassis control (called in the event loop's thread)."""
        self.bmc = bmc
        running = self.task is not None and not self.task.done()
        if request in ("off", "shutdown"):
            if running:
                self.task.cancel()
            self.step = "off"
        elif request in ("cycle", "reset") or (request == "on" and not running):
            if running:
                self.task.cancel()
            self.task = self.fleet.loop.create_task(self.boot(boot_device))

    def say(self, text):
        self.step = text
        self.fleet.log("%.3f %s %s" % (time.time(), self.name, text))

    async def boot(self, boot_device):
        self.boots += 1
        first = self.boots == 1
        try:
            if boot_device in ("hd", "disk") or (boot_device == "default" and self.disk):
                if await self.boot_disk():
                    return
            await self.netboot(first)
        except asyncio.CancelledError:
            raise
        except (OSError, RuntimeError) as exc:
            self.say("stopped: %s" % exc)  # as a real one hangs: the controller's timeout retries it

    async def boot_disk(self):
        if not self.disk:
            self.say("no bootable disk")
            return False
        address, booted = self.disk
        code, _body = await http_get(self.fleet.loop, address, booted)
        self.say("booted from disk, callback -> %s" % code)
        return True

    async def netboot(self, first):
        record, loop = self.record, self.fleet.loop
        if first and "no_dhcp" in self.faults:
            self.say("fault: no DHCP")
            return
        firmware = record["firmware"]
        arch = ARCH[firmware]
        vendor = ("HTTPClient:Arch:%05d:UNDI:003001" if firmware == "uefi-http" else "PXEClient:Arch:%05d:UNDI:002001") % arch
        if record.get("ipv4"):
            options = [(93, struct.pack("!H", arch)), (60, vendor.encode())]
            address, loader, next_server = await self.link.dhcp4(self.mac, options)
            server = next_server if next_server != "0.0.0.0" else self.fleet.anycast4
            self.say("lease %s loader %s" % (address, loader))
        else:
            options = [(61, struct.pack("!H", arch)),
                       (16, struct.pack("!IH", ENTERPRISE_INTEL, len(vendor)) + vendor.encode())]
            address, loader, _next = await self.link.dhcp6(self.mac, options)
            server = self.fleet.anycast6
            self.say("lease %s loader %s" % (address, loader))
        if not loader:
            raise RuntimeError("no boot file in the DHCP answer")
        if loader.startswith("http"):
            code, body = await http_get(loop, address, loader)
            self.say("http loader -> %s (%d bytes)" % (code, len(body)))
        else:
            match = re.match(r"tftp://\[?([^\]/]+)\]?/(.*)$", loader)
            size = await tftp(loop, address, match.group(1) if match else server, match.group(2) if match else loader)
            self.say("tftp loader -> %d bytes" % size)
        # iPXE: DHCP again, as iPXE, for the entry script.
        if record.get("ipv4"):
            address, entry, _next = await self.link.dhcp4(self.mac, options + [(77, b"iPXE")])
        else:
            address, entry, _next = await self.link.dhcp6(self.mac, options + [(15, struct.pack("!H", 4) + b"iPXE")])
        code, body = await http_get(loop, address, entry or "")
        self.say("entry %s -> %s" % (entry, code))
        # The entry script chains to the IPv4 URL when iPXE has an IPv4 address (isset ${net0/ip}), else to the IPv6 one.
        chains = [found for found in CHAIN.finditer(body) if ("[" in found.group(1)) == (not record.get("ipv4"))]
        if not chains:
            raise RuntimeError("no chain to the machine's script in the entry script")
        match = chains[0]
        if first and "lost_fetch" in self.faults:
            self.say("fault: script request lost")
            return
        code, script = await http_get(loop, address, "%s/ipxe/%s.ipxe" % (match.group(1), self.mac))
        self.say("script -> %s" % code)
        if code != 200:
            return
        if "sanboot" in script or re.search(r"^exit", script, re.M):  # an installed machine's script: its disk
            await self.boot_disk()
        else:
            await self.install(address, script)

    async def install(self, address, script):
        loop = self.fleet.loop
        kernel = re.search(r"^kernel (\S+)(.*)$", script, re.M)
        initrd = re.search(r"^initrd (?:--name \S+ )?(\S+)", script, re.M)
        if not kernel or not initrd:
            raise RuntimeError("no kernel in the script")
        for what, url in (("kernel", kernel.group(1)), ("initrd", initrd.group(1))):
            code, _body = await http_get(loop, address, url)
            self.say("%s -> %s" % (what, code))
            if code != 200:
                return
        answer = re.search(r"(http://\S+/installer/\S+)", kernel.group(2))
        if not answer:
            raise RuntimeError("no answer file on the kernel line")
        url = answer.group(1)
        if url.endswith("/"):  # a cloud-init NoCloud seed (autoinstall): meta-data, then user-data holds the answers
            code, _body = await http_get(loop, address, url + "meta-data")
            url += "user-data"
        code, body = await http_get(loop, address, url)
        callbacks = dict((found.group(1), found.group(0)) for found in CALLBACK.finditer(body))
        self.say("answer file -> %s" % code)
        if code != 200 or "installed" not in callbacks:
            return
        await asyncio.sleep(self.fleet.install_seconds)  # the installer at work (the power stage sees the machine on)
        self.disk = (address, callbacks.get("booted", ""))
        code, _body = await http_get(loop, address, callbacks["installed"])
        self.say("installed, callback -> %s; power off" % code)
        if self.bmc is not None:
            self.bmc.power = "off"  # the installer's poweroff: the controller boots the disk next
