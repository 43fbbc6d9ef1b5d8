"""Many simulated IPMI BMCs for tests and benchmarks: pyghmi's BMC server class, many per process.

    python lab/bmc_farm.py serve --first-port P --count N --state-dir D [--dead P1,P2] [--answer-delay S]

Each BMC listens on 127.0.0.1:<port>, user/password from the environment
(NBF_FARM_USERNAME/NBF_FARM_PASSWORD, never argv), and keeps its machine's
power state and next boot device. A "dead" BMC has its port bound and never
answers, the way an unplugged or hung BMC looks from the controller. On
SIGTERM each BMC's state and the requests it was sent are written to
D/state-<first port>.json.

`Farm` starts enough serve processes for any number of BMCs and stops them by PID:
pyghmi's BMC server stops answering logins with a couple of hundred BMCs in one
process (100 per process work), and its select() loop could not go past 1,024
sockets anyway.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USERNAME_ENV = "NBF_FARM_USERNAME"
PASSWORD_ENV = "NBF_FARM_PASSWORD"
BMCS_PER_PROCESS = 100
# pyghmi's chassis control directives as power requests.
DIRECTIVES = {"power_on": "on", "power_off": "off", "power_cycle": "cycle", "power_reset": "reset",
              "power_shutdown": "shutdown"}


# RMCP+ open session status "invalid authentication algorithm" (IPMI 2.0 table 13-15).
INVALID_AUTHENTICATION_ALGORITHM = 0x11
RAKP_HMAC_SHA1 = 1


def sha1_sessions_only(serversession):
    """Make pyghmi's BMC refuse a SHA-256 session instead of answering it with SHA-1.

    pyghmi's server always grants cipher suite 3 (SHA-1) whatever was asked, and
    pyghmi's client, asking SHA-256 first, then fails on the SHA-1 sized answer; a
    refusal makes the client ask again with SHA-1, as real BMCs lead it to.
    """
    grant = serversession.ServerSession.create_open_session_response

    def create_open_session_response(self, request):
        if request[12] != RAKP_HMAC_SHA1:
            return bytearray([request[0], INVALID_AUTHENTICATION_ALGORITHM, 0, 0]) + request[4:8]
        return grant(self, request)

    serversession.ServerSession.create_open_session_response = create_open_session_response


def serve(first_port, count, state_dir, dead, answer_delay, chassis=None):
    """chassis: what the power requests drive (lab/fleet_sim.py's machines), with
    power(port, request, boot_device, bmc) and state() for the dump; None: the power state only."""
    from pyghmi.ipmi import bmc as pyghmi_bmc
    from pyghmi.ipmi.private import serversession, session

    sys.path.insert(0, os.path.join(REPO, "collections"))
    from ansible_collections.netboot.fleet.plugins.module_utils.bmc.client import fix_pyghmi_sessions

    sha1_sessions_only(serversession)
    fix_pyghmi_sessions(session)  # the server's sessions are pyghmi sessions too

    class SimulatedBmc(pyghmi_bmc.Bmc):
        def __init__(self, authdata, port):
            super().__init__(authdata, port=port, address="127.0.0.1")
            self.port = port
            self.power = "off"
            self.boot = "default"
            self.requests = []

        def get_power_state(self):
            return self.power

        def get_boot_device(self):
            return self.boot

        def set_boot_device(self, bootdevice):
            self.requests.append("boot %s" % bootdevice)
            self.boot = bootdevice

        def _power(self, request, settles_in):
            self.requests.append(request)
            time.sleep(answer_delay)
            self.power = settles_in
            if chassis is not None:
                chassis.power(self.port, request, self.boot, self)
                self.boot = "default"  # a next-boot device lasts one boot

        def power_on(self):
            self._power("on", "on")

        def power_off(self):
            self._power("off", "off")

        def power_shutdown(self):
            self._power("shutdown", "off")

        def power_reset(self):
            self._power("reset", "on")

        def power_cycle(self):
            self._power("cycle", "on")

        def is_active(self):
            return self.power == "on"

    authdata = {os.environ[USERNAME_ENV]: os.environ[PASSWORD_ENV]}
    bmcs, silent = {}, []
    for port in range(first_port, first_port + count):
        if port in dead:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", port))
            silent.append(sock)
        else:
            bmcs[port] = SimulatedBmc(authdata, port)

    def dump(*dummy):
        state = dict((str(port), {"power": bmc.power, "boot": bmc.boot, "requests": bmc.requests})
                     for port, bmc in bmcs.items())
        if chassis is not None:
            state = {"bmcs": state, "machines": chassis.state()}
        path = os.path.join(state_dir, "state-%d.json" % first_port)
        with open(path + ".tmp", "w") as handle:
            json.dump(state, handle)
        os.replace(path + ".tmp", path)
        os._exit(0)

    signal.signal(signal.SIGTERM, dump)

    def listen():
        # pyghmi's Bmc.listen dies with its thread on the first error, e.g. a queued packet it
        # hands to a ServerSession, which has no sessionless_data: drop that packet (the client
        # resends it) and go on serving.
        while True:
            try:
                session.Session.wait_for_rsp(30)
            except Exception:
                traceback.print_exc()

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    open(os.path.join(state_dir, "ready-%d" % first_port), "w").close()
    while True:
        signal.pause()


class Farm:
    """N BMCs on consecutive ports from `first_port`; `dead` ports never answer."""

    def __init__(self, state_dir, first_port, count, username, password, dead=(), answer_delay=0.0,
                 per_process=BMCS_PER_PROCESS, program=None, program_args=()):
        """program, program_args: another serve program (lab/fleet_sim.py serve) taking these options too."""
        self.state_dir, self.first_port, self.count = state_dir, first_port, count
        self.username, self.password = username, password
        self.dead, self.answer_delay = set(dead), answer_delay
        self.per_process = per_process
        self.program, self.program_args = program or os.path.abspath(__file__), list(program_args)
        self.processes = []

    @property
    def ports(self):
        return list(range(self.first_port, self.first_port + self.count))

    def start(self, timeout=60):
        os.makedirs(self.state_dir, exist_ok=True)
        env = dict(os.environ, **{USERNAME_ENV: self.username, PASSWORD_ENV: self.password})
        for first in range(self.first_port, self.first_port + self.count, self.per_process):
            count = min(self.per_process, self.first_port + self.count - first)
            for stale in ("ready-%d" % first, "state-%d.json" % first):
                if os.path.exists(os.path.join(self.state_dir, stale)):
                    os.unlink(os.path.join(self.state_dir, stale))
            argv = [sys.executable, self.program, "serve", "--first-port", str(first),
                    "--count", str(count), "--state-dir", self.state_dir, "--answer-delay", str(self.answer_delay),
                    "--dead", ",".join(str(port) for port in sorted(self.dead) if first <= port < first + count)] + self.program_args
            log = open(os.path.join(self.state_dir, "farm-%d.log" % first), "w")
            self.processes.append((first, subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)))
        deadline = time.monotonic() + timeout
        for first, process in self.processes:
            while not os.path.exists(os.path.join(self.state_dir, "ready-%d" % first)):
                if process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("BMC farm process for ports from %d did not start: see %s/farm-%d.log"
                                       % (first, self.state_dir, first))
                time.sleep(0.05)
        return self

    def stop(self):
        """Stop every process by PID; {port: {"power", "boot", "requests"}} of the live BMCs (with a chassis
        program: {"bmcs": that, "machines": what its chassis reports})."""
        states = {}
        for first, process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            path = os.path.join(self.state_dir, "state-%d.json" % first)
            if os.path.exists(path):
                with open(path) as handle:
                    dumped = json.load(handle)
                if "machines" in dumped:
                    states.setdefault("bmcs", {}).update((int(port), state) for port, state in dumped["bmcs"].items())
                    states.setdefault("machines", {}).update(dumped["machines"])
                else:
                    states.update((int(port), state) for port, state in dumped.items())
        self.processes = []
        return states


def serve_parser(description):
    """The serve command's options (lab/fleet_sim.py adds its own)."""
    parser = argparse.ArgumentParser(description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve")
    run.add_argument("--first-port", type=int, required=True)
    run.add_argument("--count", type=int, required=True)
    run.add_argument("--state-dir", required=True)
    run.add_argument("--dead", default="")
    run.add_argument("--answer-delay", type=float, default=0.0)
    return parser, run


def main(argv=None):
    parser, _run = serve_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    dead = set(int(port) for port in args.dead.split(",") if port)
    serve(args.first_port, args.count, args.state_dir, dead, args.answer_delay)


if __name__ == "__main__":
    main()
