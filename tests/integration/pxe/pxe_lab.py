# -*- coding: utf-8 -*-
"""The PXE lab: real tftpd-hpa and nginx from Debian in a network namespace (nbp-<pid>), serving
roots that the collection's pxe_assets action/module filled through ansible-playbook."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import role_template

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, os.pardir, os.pardir, os.pardir))

# The embedded SoT's fabric with one machine per real installer kind (preseed, kickstart, autoinstall; the
# embedded SoT's own machines all use the lab's minimal installer, which the unit tests cover).
EMBEDDED_SOT = os.path.join(REPO, "tests", "unit", "pxe", "data", "all-kinds-sot")
LEFT_OUT_PROFILES = ("minimal",)
PXE_IPV4 = "203.0.113.53"            # fabric.anycast.ipv4 of that SoT (the PXE service)
PXE_IPV6 = "2001:db8:53::53"
BOOT_LOADERS = {                     # what the pxe_server role places in the TFTP root
    "undionly.kpxe": "/usr/lib/ipxe/undionly.kpxe",
    "snponly.efi": "/usr/lib/ipxe/snponly.efi",
    "pxelinux.0": "/usr/lib/PXELINUX/lpxelinux.0",
    "ldlinux.c32": "/usr/lib/syslinux/modules/bios/ldlinux.c32",
}

PLAYBOOK = """\
- name: Sync the PXE assets of the test SoT
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Render and sync
      netboot.fleet.pxe_assets:
        sot: "{{ sot_path }}"
        tftp_root: "{{ work }}/tftp"
        http_root: "{{ work }}/http"
        state_file: "{{ work }}/state/pxe-assets.json"
      register: synced
    - name: Keep the module result for the test
      check_mode: false
      ansible.builtin.copy:
        content: "{{ synced | to_json }}"
        dest: "{{ work }}/result.json"
        mode: "0600"
"""


def missing():
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("in.tftpd", "nginx", "curl", "ip", "ansible-playbook"):
        if shutil.which(tool) is None and not os.path.exists(os.path.join(os.path.dirname(sys.executable), tool)):
            return "%s is not installed" % tool
    for path in BOOT_LOADERS.values():
        if not os.path.exists(path):
            return "%s is not installed (Debian ipxe/pxelinux/syslinux-common)" % path
    return None


class PxeLab:
    def __init__(self):
        # Below /var/tmp with 0755 directories: nginx workers (www-data) must reach the root.
        self.work = tempfile.mkdtemp(prefix="nbp-", dir="/var/tmp")
        os.chmod(self.work, 0o755)
        self.netns = "nbp-%d" % os.getpid()
        self.sot_path = os.path.join(self.work, "sot")
        shutil.copytree(EMBEDDED_SOT, self.sot_path)
        machines_file = os.path.join(self.sot_path, "machines.yml")
        with open(machines_file) as handle:
            blocks = handle.read().split("\n  - name: ")  # as written (the tests edit the text the same way)
        with open(machines_file, "w") as handle:
            kept = [block for block in blocks if not any("profile: %s\n" % p in block for p in LEFT_OUT_PROFILES)]
            handle.write("\n  - name: ".join(kept))
        self.tftp_root = os.path.join(self.work, "tftp")
        self.http_root = os.path.join(self.work, "http")
        for root in (self.tftp_root, self.http_root):
            os.mkdir(root, 0o755)
        self.processes = []

    # -- namespace and servers ------------------------------------------------

    def ns(self, *command, check=False, **kwargs):
        return subprocess.run(["ip", "netns", "exec", self.netns] + list(command), check=check, **kwargs)

    def create_namespace(self):
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        self.ns("ip", "link", "set", "lo", "up", check=True)
        self.ns("ip", "addr", "add", PXE_IPV4 + "/32", "dev", "lo", check=True)
        self.ns("ip", "addr", "add", PXE_IPV6 + "/128", "dev", "lo", "nodad", check=True)

    def install_boot_loaders(self):
        for name, source in BOOT_LOADERS.items():
            shutil.copyfile(source, os.path.join(self.tftp_root, name))
            os.chmod(os.path.join(self.tftp_root, name), 0o644)

    def start_tftpd(self):
        # The role's /etc/default/tftpd-hpa options: read-only (no --create), --secure (chroot), --verbose.
        options = role_template.render("pxe_server", "tftpd-hpa.j2", pxe_server_tftp_root=self.tftp_root, pxe_server_tftp_address="")
        assert 'TFTP_OPTIONS="--secure --verbose"' in options
        self._spawn(["in.tftpd", "--foreground", "--listen", "--address", PXE_IPV4 + ":69",
                     "--user", "tftp", "--secure", "--verbose", self.tftp_root])

    def start_nginx(self):
        server = role_template.render(
            "pxe_server", "nginx-netboot-pxe.conf.j2", pxe_server_http_addresses=[PXE_IPV4, PXE_IPV6],
            pxe_server_http_port=80, pxe_server_http_root=self.http_root,
            pxe_server_access_log=os.path.join(self.work, "netboot-pxe.log"))
        temp = os.path.join(self.work, "nginx")
        os.mkdir(temp)
        config = os.path.join(temp, "nginx.conf")
        with open(config, "w") as handle:
            handle.write(
                "user www-data;\nworker_processes 1;\npid %(t)s/nginx.pid;\nerror_log %(t)s/error.log;\n"
                "events {}\nhttp {\n  include /etc/nginx/mime.types;\n  access_log %(t)s/access.log;\n"
                "  client_body_temp_path %(t)s/body;\n  proxy_temp_path %(t)s/proxy;\n"
                "  fastcgi_temp_path %(t)s/fastcgi;\n  uwsgi_temp_path %(t)s/uwsgi;\n  scgi_temp_path %(t)s/scgi;\n"
                "%(server)s}\n" % {"t": temp, "server": server})
        self.ns("nginx", "-t", "-q", "-c", config, check=True)
        self._spawn(["nginx", "-c", config, "-g", "daemon off;"])

    def _spawn(self, command):
        process = subprocess.Popen(["ip", "netns", "exec", self.netns] + command,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        self.processes.append(process)
        time.sleep(0.3)
        assert process.poll() is None, "%s exited: %s" % (command[0], process.stderr.read().decode())

    def wait_listening(self):
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.http("/ipxe/boot.ipxe")[0] == 200:
                return
            time.sleep(0.2)
        raise AssertionError("nginx does not answer on %s" % PXE_IPV4)

    def stop(self):
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        subprocess.run(["ip", "netns", "del", self.netns], check=False)
        shutil.rmtree(self.work, ignore_errors=True)

    # -- clients -------------------------------------------------------------

    def http(self, path, host=PXE_IPV4):
        """(status, body) of GET path; the path is sent as written (no dot-segment squashing)."""
        host = "[%s]" % host if ":" in host else host
        body = os.path.join(self.work, "http-body")
        done = self.ns("curl", "--silent", "--globoff", "--path-as-is", "--max-time", "5", "--output", body,
                       "--write-out", "%{http_code}", "http://%s%s" % (host, path), capture_output=True, text=True)
        with open(body, "rb") as handle:
            return int(done.stdout or 0), handle.read()

    def tftp(self, path):
        """(curl exit code, content) of a TFTP read; 0 = fetched, 68 = not found, 69 = access violation."""
        target = os.path.join(self.work, "tftp-body")
        if os.path.exists(target):
            os.unlink(target)
        done = self.ns("curl", "--silent", "--globoff", "--path-as-is", "--max-time", "10", "--output", target,
                       "tftp://%s/%s" % (PXE_IPV4, path), capture_output=True)
        content = open(target, "rb").read() if os.path.exists(target) else b""
        return done.returncode, content

    # -- the module ----------------------------------------------------------

    def sync(self, check=False, expect_failure=False):
        playbook = os.path.join(self.work, "sync.yml")
        with open(playbook, "w") as handle:
            handle.write(PLAYBOOK)
        extra_vars = {"sot_path": self.sot_path, "work": self.work, "ansible_python_interpreter": sys.executable}
        command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                   "-c", "local", playbook, "-e", json.dumps(extra_vars)]
        if check:
            command.append("--check")
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
        if expect_failure:
            assert done.returncode != 0, done.stdout
            return done.stdout + done.stderr
        assert done.returncode == 0, done.stdout + done.stderr
        with open(os.path.join(self.work, "result.json")) as handle:
            return json.load(handle)

    def files(self):
        """{root:path: (inode, mtime_ns)} of every file below both roots."""
        found = {}
        for name, root in (("tftp", self.tftp_root), ("http", self.http_root)):
            for current, _dirs, names in os.walk(root):
                for file_name in names:
                    info = os.lstat(os.path.join(current, file_name))
                    found["%s:%s" % (name, os.path.relpath(os.path.join(current, file_name), root))] = \
                        (info.st_ino, info.st_mtime_ns)
        return found
