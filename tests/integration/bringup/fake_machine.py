# -*- coding: utf-8 -*-
"""A machine that follows the real servers' answers, run in the lab's namespace when a BMC powers it on.

    python fake_machine.py MAC ARCH GIADDR SERVER LOCKFILE LOG DISK BOOT_DEVICE

Booting from the network (BOOT_DEVICE pxe), like a NIC's PXE ROM then iPXE: a relayed DHCP DORA
(option 93 = ARCH) to Kea, a TFTP fetch of the boot file Kea named, a second DORA as iPXE (option 77)
whose boot file is the entry script URL, the entry script and the per-MAC script it chains to; then
like an installer: the kernel and initrd that script names, the answer file named on its kernel
line, the install-done callback the answer file holds, and the first-boot callback written to DISK.
A script that boots the local disk, or any other boot device, boots DISK: an installed machine
calls its first-boot callback, a blank one stops. Each step goes to LOG; nothing is assumed: when a
server does not answer (or answers an error), the machine stops there, as a real one would hang.
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


CALLBACK = re.compile(r"http://[^\s'\";]+/callback/[^\s'\";]+/(installed|booted)")


def boot_disk(disk, say):
    """The installed system's first boot: its first-boot callback, from the address it was installed with."""
    try:
        with open(disk, encoding="ascii") as handle:
            address, booted = handle.read().split()
    except OSError:
        say("no bootable disk")
        return
    code, _body = curl(address, booted)
    say("booted from disk, callback -> %s" % code)


def install(address, script, disk, say):
    """What an installer does with the script's kernel line: kernel, initrd, answer file, callbacks."""
    kernel = re.search(r"^kernel (\S+)(.*)$", script, re.M)
    initrd = re.search(r"^initrd (?:--name \S+ )?(\S+)", script, re.M)
    if not kernel or not initrd:
        say("no kernel in the script")
        return
    for what, url in (("kernel", kernel.group(1)), ("initrd", initrd.group(1))):
        code, _body = curl(address, url)
        say("%s -> %s" % (what, code))
        if code != 200:
            return
    answer = re.search(r"(http://\S+/installer/\S+)", kernel.group(2))
    if not answer:
        say("no answer file on the kernel line")
        return
    code, body = curl(address, answer.group(1))
    say("answer file -> %s" % code)
    callbacks = dict((match.group(1), match.group(0)) for match in CALLBACK.finditer(body))
    if code != 200 or "installed" not in callbacks:
        return
    with open(disk, "w", encoding="ascii") as handle:
        handle.write("%s %s\n" % (address, callbacks.get("booted", "")))
    code, _body = curl(address, callbacks["installed"])
    say("installed, callback -> %s" % code)


def main():
    mac, arch, giaddr, server, lock, log_path, disk, device = sys.argv[1:9]
    with open(log_path, "a", buffering=1, encoding="utf-8") as log:
        def say(text):
            log.write("%.3f %s %s\n" % (time.time(), mac, text))
        try:
            if device != "pxe":
                boot_disk(disk, say)
                return
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
                code, script = curl(address, "%s/ipxe/%s.ipxe" % (match.group(1), mac))
                say("script -> %s" % code)
                if code != 200:
                    return
                if "sanboot" in script:  # the script of an installed machine: boot the local disk
                    boot_disk(disk, say)
                else:
                    install(address, script, disk, say)
        except (OSError, RuntimeError) as exc:
            say("stopped: %s" % exc)


if __name__ == "__main__":
    main()
