"""Independent BMC emulators on 127.0.0.1 for the BMC tests and benchmarks/bmc_scale.py.

- OpenIPMI's ``ipmi_sim`` (Debian package openipmi) with files/chassis_control.sh,
  which keeps power and boot device in files the tests read back.
- sushy-tools' ``sushy-emulator --fake`` (pip), a Redfish BMC over HTTPS with
  delayed power transitions (1-11 s).

Every process is started here with its own port and directory and stopped by
its PID.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
FILES = os.path.join(HERE, "files")
USERNAME = "admin"
PASSWORD = "nbf-S3cret-7q"  # distinctive, so tests can grep output for it


def free_port(kind=socket.SOCK_DGRAM):
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _udp_bound(port):
    wanted = ":%04X" % port
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as lines:
                if any(line.split()[1].endswith(wanted) for line in list(lines)[1:]):
                    return True
        except OSError:
            continue
    return False


def _tcp_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _wait_for(ready, what, process, log, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("%s exited with %s: %s" % (what, process.returncode, _tail(log)))
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError("%s not ready after %.0f s: %s" % (what, timeout, _tail(log)))


def _tail(path):
    try:
        with open(path) as log:
            return log.read()[-2000:]
    except OSError:
        return "(no log)"


def _stop(process):
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def venv_tool(name):
    """A console script of the Python running the tests (the venv), else from PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), name)
    return beside if os.path.exists(beside) else shutil.which(name)


class IpmiSim:
    """One ipmi_sim BMC. With chassis_control=False it refuses power and boot commands."""

    def __init__(self, workdir, port=None, chassis_control=True, password=PASSWORD, sol_port=None):
        """chassis_control: True (files/chassis_control.sh), False (none) or a command line.
        sol_port: Serial-over-LAN to the TCP server on 127.0.0.1:sol_port (a qemu serial chardev)."""
        self.dir = workdir
        self.port = port or free_port()
        self.chassis_control = chassis_control
        self.sol_port = sol_port
        self.password = password
        self.process = None
        os.makedirs(os.path.join(self.dir, "state"), exist_ok=True)

    def start(self):
        self.launch()
        self.wait_ready()
        return self

    def launch(self):
        """Start ipmi_sim without waiting for it (to start many at once)."""
        with open(os.path.join(FILES, "lan.conf.in")) as template:
            config = template.read()
        command = (self.chassis_control if isinstance(self.chassis_control, str)
                   else "%s %s" % (os.path.join(FILES, "chassis_control.sh"), self.dir))
        control = '  chassis_control "%s"' % command if self.chassis_control else ""
        if self.sol_port:
            control += '\n  sol "tcp:127.0.0.1:%d" 115200' % self.sol_port
        config = (config.replace("@NAME@", "sim%d" % self.port).replace("@PORT@", str(self.port))
                  .replace("@PASSWORD@", self.password).replace("@CHASSIS_CONTROL@", control))
        conf = os.path.join(self.dir, "lan.conf")
        with open(conf, "w") as out:
            out.write(config)
        with open(os.path.join(self.dir, "ipmi_sim.log"), "w") as out:
            self.process = subprocess.Popen(
                ["ipmi_sim", "-c", conf, "-f", os.path.join(FILES, "bmc.emu"), "-n",
                 "-s", os.path.join(self.dir, "state")],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self):
        _wait_for(lambda: _udp_bound(self.port), "ipmi_sim on port %d" % self.port, self.process,
                  os.path.join(self.dir, "ipmi_sim.log"))

    def stop(self):
        _stop(self.process)

    def _read(self, name, default):
        try:
            with open(os.path.join(self.dir, name)) as value:
                return value.read().strip()
        except OSError:
            return default

    @property
    def power(self):
        return "on" if self._read("power", "0") == "1" else "off"

    @power.setter
    def power(self, state):
        with open(os.path.join(self.dir, "power"), "w") as out:
            out.write("1\n" if state == "on" else "0\n")

    @property
    def boot(self):
        return self._read("boot", "default")

    def actions(self):
        """chassis_control calls that changed something ("set ..."), in order."""
        calls = self._read("calls.log", "")
        return [line for line in calls.splitlines() if line.startswith("set ")]


def self_signed_certificate(directory):
    """A throwaway certificate for 127.0.0.1, made with cryptography (a pyghmi dependency)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bmc.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .sign(key, hashes.SHA256()))
    cert_path = os.path.join(directory, "bmc-cert.pem")
    key_path = os.path.join(directory, "bmc-key.pem")
    with open(cert_path, "wb") as out:
        out.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption()))
    return cert_path, key_path


def ipmi_record(sim):
    """netboot.bmc of a machine whose BMC is this ipmi_sim."""
    return {"address": "127.0.0.1", "protocol": "ipmi", "port": sim.port}


def redfish_record(emulator):
    """netboot.bmc of a machine whose BMC is this sushy-emulator."""
    return {"address": "127.0.0.1", "protocol": "redfish", "port": emulator.port}


class SushyEmulator:
    """One Redfish BMC (sushy-emulator --fake) with one system, over HTTPS, basic auth."""

    def __init__(self, workdir, certificate, port=None, password=PASSWORD, power="Off"):
        self.dir = workdir
        self.certificate = certificate
        self.port = port or free_port(socket.SOCK_STREAM)
        self.password = password
        self.initial_power = power
        self.process = None
        os.makedirs(self.dir, exist_ok=True)

    def start(self):
        import bcrypt  # a sushy-tools dependency

        htpasswd = os.path.join(self.dir, "htpasswd")
        with open(htpasswd, "w") as out:
            out.write("%s:%s\n" % (USERNAME, bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(4)).decode()))
        conf = os.path.join(self.dir, "sushy.conf")
        with open(conf, "w") as out:
            out.write("SUSHY_EMULATOR_AUTH_FILE = %r\n" % htpasswd)
            out.write("SUSHY_EMULATOR_STATE_DIR = %r\n" % os.path.join(self.dir, "state"))
            out.write("SUSHY_EMULATOR_FAKE_SYSTEMS = %r\n" % [{
                "uuid": "27946b59-9e44-4fa7-8e91-%012d" % self.port, "name": "m%d" % self.port,
                "power_state": self.initial_power,
                "nics": [{"mac": "52:54:00:00:00:01", "ip": "198.51.100.10"}]}])
        log = os.path.join(self.dir, "sushy.log")
        cert, key = self.certificate
        with open(log, "w") as out:
            self.process = subprocess.Popen(
                [venv_tool("sushy-emulator"), "--fake", "--config", conf, "-i", "127.0.0.1",
                 "-p", str(self.port), "--ssl-certificate", cert, "--ssl-key", key],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        _wait_for(lambda: _tcp_open(self.port), "sushy-emulator on port %d" % self.port, self.process, log)
        return self

    def stop(self):
        _stop(self.process)
