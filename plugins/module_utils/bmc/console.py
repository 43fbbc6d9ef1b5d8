# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A machine's serial console through its BMC (IPMI Serial-over-LAN, pyghmi), recorded to a file.

The bmc_console action starts one recorder process per machine on the controller and stops it
later; the recording spans the power command and the whole boot. This file is also that program:

    python3 console.py record --address 127.0.0.1 --port 623 --output /path/machine.log --max-seconds 3600
    (stdin: {"username": ..., "password": ...} as JSON - credentials never in the arguments)

Only the standard library and pyghmi (imported by the recorder only), no collection imports: it runs
as a plain file. Also: console_lines(), the readable lines of a recorded console (control sequences
removed), for the bring-up report.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

# CSI sequences (colours, cursor moves, clear screen), other two-byte escapes, and C0 controls
# except tab, newline and carriage return.
_CONTROL_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]|[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]")
STOP_TIMEOUT = 5.0
RECONNECT_DELAY = 2.0


def console_lines(data: bytes) -> list:
    """The lines a person would read on the console: escapes removed, a carriage return starting the
    line over (progress lines), blank lines dropped."""
    text = _CONTROL_RE.sub("", data.decode("utf-8", errors="replace"))
    lines = []
    for raw in text.split("\n"):
        line = raw.rstrip("\r").rsplit("\r", 1)[-1].rstrip()
        if line:
            lines.append(line)
    return lines


def read_lines(path: str) -> list:
    try:
        with open(path, "rb") as handle:
            return console_lines(handle.read())
    except OSError:
        return []


# --------------------------------------------------------------------------
# The recorder process and its control from the action plugin
# --------------------------------------------------------------------------

def process_start_time(pid: int):
    """Field 22 of /proc/<pid>/stat (tells a PID from a later process reusing it); None if gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def running_recorder(pidfile: str):
    """The PID of the recorder that pidfile names, if it is still that process; else None."""
    try:
        with open(pidfile, encoding="ascii") as handle:
            pid, started = handle.read().split()
        pid = int(pid)
    except (OSError, ValueError):
        return None
    return pid if process_start_time(pid) == started else None


def start_recorder(address: str, port: int, username: str, password: str, output: str, pidfile: str,
                   max_seconds: float) -> int:
    """Start a detached recorder appending to output; returns its PID (written to pidfile)."""
    errors = output + ".err"
    for path in (output, errors):  # the console may show secrets typed at it: 0600 like the BMC files
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    argv = [sys.executable, os.path.abspath(__file__), "record", "--address", address, "--port", str(port),
            "--output", output, "--max-seconds", str(max_seconds)]
    with open(errors, "ab") as log:
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=log, stderr=log,  # pylint: disable=consider-using-with
                                   start_new_session=True, close_fds=True)
    process.stdin.write(json.dumps({"username": username, "password": password}).encode())
    process.stdin.close()
    temporary = pidfile + ".tmp"
    with open(temporary, "w", encoding="ascii") as handle:
        handle.write("%d %s\n" % (process.pid, process_start_time(process.pid)))
    os.replace(temporary, pidfile)
    return process.pid


def stop_recorder(pidfile: str, clock=time.monotonic, sleep=time.sleep) -> bool:
    """Stop the recorder pidfile names (SIGTERM, then SIGKILL); True when one was running."""
    pid = running_recorder(pidfile)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = clock() + STOP_TIMEOUT
    while running_recorder(pidfile) and clock() < deadline:
        sleep(0.05)
    if running_recorder(pidfile):
        os.kill(pid, signal.SIGKILL)
    return True


def record(address, port, username, password, output, max_seconds, clock=time.monotonic):
    """Append the SOL output of the BMC to `output` until SIGTERM or max_seconds; reconnect when the
    session breaks (a BMC reset, the SOL payload taken over)."""
    from pyghmi.ipmi import console  # only the recorder needs pyghmi

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    deadline = clock() + max_seconds
    with open(output, "ab", buffering=0) as out:
        def handler(data):
            if isinstance(data, dict):  # pyghmi's status and errors: to stderr (the .err file)
                sys.stderr.write("%s\n" % (data.get("error") or data.get("info") or data))
                sys.stderr.flush()
            else:
                out.write(data if isinstance(data, bytes) else data.encode("utf-8", errors="replace"))

        while not stopping and clock() < deadline:
            session = console.Console(address, username, password, handler, port=port, force=True)
            while not stopping and clock() < deadline and not session.broken:
                console.Console.wait_for_rsp(0.5)
            # A broken session may fail to close; a new one follows either way.
            try:
                session.close()
            except Exception:  # pylint: disable=broad-except
                pass
            if not stopping:
                time.sleep(RECONNECT_DELAY)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="console.py", description="Record a BMC's Serial-over-LAN console.")
    commands = parser.add_subparsers(dest="command", required=True)
    recorder = commands.add_parser("record", help="credentials as JSON on stdin")
    recorder.add_argument("--address", required=True)
    recorder.add_argument("--port", type=int, default=623)
    recorder.add_argument("--output", required=True)
    recorder.add_argument("--max-seconds", type=float, default=3600.0)
    args = parser.parse_args(argv)
    credentials = json.loads(sys.stdin.read())
    record(args.address, args.port, credentials["username"], credentials["password"], args.output, args.max_seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
