# -*- coding: utf-8 -*-
"""A PXE client that follows the real servers' answers, run in the lab's namespace when a BMC powers on.

    python fake_machine.py MAC ARCH GIADDR SERVER LOCKFILE LOG

Like a NIC's PXE ROM then iPXE: a relayed DHCP DORA (option 93 = ARCH) to Kea, a TFTP fetch of the
boot file Kea named, a second DORA as iPXE (option 77) whose boot file is the entry script URL,
then the entry script and the per-MAC script it chains to. Each step goes to LOG; nothing is assumed:
when a server does not answer, the machine stops there, as a real one would hang.
"""

import fcntl
import random
import re
import socket
import struct
import subprocess
import sys
import time


def dhcp_packet(kind, xid, mac, giaddr, options):
    header = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 1, xid, 0, 0, b"\0" * 4, b"\0" * 4, b"\0" * 4,
                         socket.inet_aton(giaddr), bytes.fromhex(mac.replace(":", "")) + b"\0" * 10, b"", b"")
    body = bytes([53, 1, kind])
    for code, value in options:
        body += bytes([code, len(value)]) + value
    return header + b"\x63\x82\x53\x63" + body + b"\xff"


def parse_reply(data):
    yiaddr = socket.inet_ntoa(data[16:20])
    boot_file = data[108:236].split(b"\0")[0].decode()
    options, index = {}, 240
    while index < len(data) and data[index] != 255:
        if data[index] == 0:
            index += 1
            continue
        options[data[index]] = data[index + 2:index + 2 + data[index + 1]]
        index += 2 + data[index + 1]
    if 67 in options:
        boot_file = options[67].split(b"\0")[0].decode()
    return options.get(53, b"\0")[0], yiaddr, boot_file, options.get(54)


def dora(mac, giaddr, server, extra, lock):
    """DISCOVER/OFFER/REQUEST/ACK through a relay socket on giaddr:67 (one machine at a time holds it)."""
    with open(lock, "w", encoding="ascii") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((giaddr, 67))
            sock.settimeout(2)
            xid = random.getrandbits(32)
            sock.sendto(dhcp_packet(1, xid, mac, giaddr, extra), (server, 67))
            kind, offered, _file, server_id = parse_reply(sock.recv(4096))
            if kind != 2:
                raise RuntimeError("no OFFER (message type %d)" % kind)
            request = extra + [(50, socket.inet_aton(offered)), (54, server_id)]
            sock.sendto(dhcp_packet(3, xid, mac, giaddr, request), (server, 67))
            kind, address, boot_file, _server_id = parse_reply(sock.recv(4096))
            if kind != 5:
                raise RuntimeError("no ACK (message type %d)" % kind)
            return address, boot_file


def curl(address, url):
    """(HTTP status or curl exit code, body) of a fetch from the machine's own address."""
    done = subprocess.run(["curl", "-s", "-m", "5", "--interface", address, "-o", "-", "-w", "\n%{http_code}", url],
                          capture_output=True, check=False)
    body, _sep, code = done.stdout.decode(errors="replace").rpartition("\n")
    return (int(code) if code.isdigit() and url.startswith("http") else done.returncode), body


def main():
    mac, arch, giaddr, server, lock, log_path = sys.argv[1:7]
    with open(log_path, "a", buffering=1, encoding="utf-8") as log:
        def say(text):
            log.write("%.3f %s %s\n" % (time.time(), mac, text))
        try:
            pxe = [(93, struct.pack("!H", int(arch))), (60, b"PXEClient:Arch:%05d:UNDI:002001" % int(arch))]
            address, boot_file = dora(mac, giaddr, server, pxe, lock)
            say("lease %s boot file %s" % (address, boot_file))
            code, _body = curl(address, "tftp://%s/%s" % (server, boot_file))
            say("tftp %s -> %s" % (boot_file, code))
            address, entry = dora(mac, giaddr, server, pxe + [(77, b"iPXE")], lock)
            say("ipxe lease %s boot file %s" % (address, entry))
            code, body = curl(address, entry)
            say("entry %s -> %s" % (entry, code))
            match = re.search(r"(http://\S+)/ipxe/\$\{net0/mac\}\.ipxe", body)
            if match:
                code, _body = curl(address, "%s/ipxe/%s.ipxe" % (match.group(1), mac))
                say("script -> %s" % code)
        except (OSError, RuntimeError) as exc:
            say("stopped: %s" % exc)


if __name__ == "__main__":
    main()
