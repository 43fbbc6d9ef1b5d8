# -*- coding: utf-8 -*-
"""The readable lines of a recorded serial console, and the recorder's process bookkeeping."""

import os
import subprocess
import sys

from ansible_collections.netboot.fleet.plugins.module_utils.bmc import console


def test_control_sequences_and_carriage_returns_are_removed():
    data = (b"\x1b[2J\x1b[01;01H\x1b[=3h>>Start PXE over IPv4.\r\n"
            b"\x1b[1m\x1b[37m\x1b[40miPXE 1.0.0+git\x1b[0m -- Open Source\r\n\r\n"
            b"Press ESC in 5 seconds\rPress ESC in 4 seconds\r\n\x00\x07")
    assert console.console_lines(data) == [">>Start PXE over IPv4.", "iPXE 1.0.0+git -- Open Source",
                                           "Press ESC in 4 seconds"]


def test_invalid_utf8_is_replaced_not_fatal():
    assert console.console_lines(b"caf\xe9\n") == ["caf\ufffd"]


def test_running_recorder_needs_the_same_process(tmp_path):
    pidfile = str(tmp_path / "m1.pid")
    assert console.running_recorder(pidfile) is None
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as sleeper:
        with open(pidfile, "w", encoding="ascii") as handle:
            handle.write("%d %s\n" % (sleeper.pid, console.process_start_time(sleeper.pid)))
        assert console.running_recorder(pidfile) == sleeper.pid
        assert console.stop_recorder(pidfile) is True
        sleeper.wait(5)
    assert console.running_recorder(pidfile) is None and console.stop_recorder(pidfile) is False
    with open(pidfile, "w", encoding="ascii") as handle:  # a PID reused by another process
        handle.write("%d 1\n" % os.getpid())
    assert console.running_recorder(pidfile) is None
