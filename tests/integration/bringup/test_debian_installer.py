"""The real Debian installer fetches the preseed rendered for its machine (issue 18).

Debian's netboot kernel and initrd (debian-installer-12-netboot-amd64) boot under qemu (TCG, 1 GB: the
installer stops at a low-memory prompt with less) with the kernel arguments the machine's rendered iPXE
script gives them. qemu's user-mode network is numbered in 192.0.2.0/24 and restricted: the guest reaches
nothing but the local HTTP server holding the rendered tree, forwarded from 192.0.2.100 to loopback. The
test passes when the installer itself (user agent debian-installer) fetched that machine's preseed.cfg, answered 200.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
import time

import pytest

from ansible_collections.netboot.fleet.plugins.module_utils.pxe import render as pxe
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SOT = os.path.join(REPO, "tests", "unit", "pxe", "data", "all-kinds-sot")
DI = "/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64"
PORT = 18060
# What the guest sees: its user-mode network, and the HTTP server's address on it (forwarded to loopback).
GUEST_NET = "net=192.0.2.0/24,host=192.0.2.2,dhcpstart=192.0.2.15,dns=192.0.2.3"
SERVER = "192.0.2.100:%d" % PORT
TIMEOUT = 480


class _Log(http.server.SimpleHTTPRequestHandler):
    requests = []

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        self.requests.append((time.monotonic(), self.path, args[1] if len(args) > 1 else "", self.headers.get("User-Agent")))


def test_the_debian_installer_fetches_its_own_preseed(tmp_path):
    absent = [path for path in (DI + "/linux", DI + "/initrd.gz") if not os.path.exists(path)]
    absent += [tool for tool in ("qemu-system-x86_64",) if shutil.which(tool) is None]
    if absent:
        pytest.skip("not installed: %s (debian-installer-12-netboot-amd64, qemu-system-x86)" % ", ".join(absent))
    fleet = sot.load(SOT)
    renderer = pxe.Renderer(fleet, pxe.Templates(pxe.read_templates()), http_url="http://%s" % SERVER,
                            callback_key="5a" * 32)
    tree = renderer.render_all()
    root = tmp_path / "http"
    for (_root, path), data in tree.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    machine = next(machine for machine in fleet.machines if machine.name == "img-server1")
    script = tree[("http", "ipxe/%s.ipxe" % machine.mac)].decode()
    kernel_line = next(line for line in script.splitlines() if line.startswith("kernel "))
    # The restricted network's DHCP offers no name server (a real one does): preseed the one it forwards nowhere.
    args = [arg for arg in kernel_line.split()[2:] if arg != "initrd=initrd"] + ["netcfg/get_nameservers=192.0.2.3"]
    wanted = "/installer/img-server1/preseed.cfg"
    assert "url=http://%s%s" % (SERVER, wanted) in args

    _Log.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), functools.partial(_Log, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    serial = tmp_path / "serial.log"
    started = time.monotonic()
    with subprocess.Popen(["qemu-system-x86_64", "-accel", "tcg", "-m", "1024", "-smp", "1", "-display", "none",
                           "-nodefaults", "-no-user-config", "-serial", "file:%s" % serial,
                           "-kernel", DI + "/linux", "-initrd", DI + "/initrd.gz", "-append", " ".join(args),
                           "-netdev", "user,id=n0,restrict=on,%s,guestfwd=tcp:%s-tcp:127.0.0.1:%d" % (GUEST_NET, SERVER, PORT),
                           "-device", "e1000,netdev=n0,mac=%s" % machine.mac],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as qemu:
        try:
            while time.monotonic() - started < TIMEOUT and not any(path == wanted for _t, path, _s, _a in _Log.requests):
                assert qemu.poll() is None, "qemu exited: %s" % serial.read_text(errors="replace")[-2000:]
                time.sleep(1)
        finally:
            qemu.terminate()
            qemu.wait(10)
            server.shutdown()
    fetched = [(stamp - started, status, agent) for stamp, path, status, agent in _Log.requests if path == wanted]
    assert fetched, "no preseed fetch within %d s; requests %s; console:\n%s" % (
        TIMEOUT, _Log.requests, serial.read_text(errors="replace")[-3000:])
    seconds, status, agent = fetched[0]
    assert status == "200" and agent == "debian-installer", fetched
    print("the Debian installer fetched %s %.0f s after qemu started (%s)" % (wanted, seconds, agent))
