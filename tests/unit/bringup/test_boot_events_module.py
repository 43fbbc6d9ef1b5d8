# -*- coding: utf-8 -*-
"""The boot_events module's log reading: a large access log is entered by bisection, not read whole."""

from ansible_collections.netboot.fleet.plugins.modules import boot_events as module
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import events as boot_events

START = 1795705200.0
LINE = '%.3f 198.51.100.%d "GET /ipxe/52:54:00:12:%02x:%02x.ipxe HTTP/1.1" 200 301 "iPXE/1.21.1"\n'


def write_log(path, count, step):
    with open(path, "w", encoding="utf-8") as handle:
        for index in range(count):
            handle.write(LINE % (START + index * step, index % 250, (index >> 8) % 256, index % 256))


def test_large_log_is_bisected_and_loses_no_line(tmp_path):
    path = str(tmp_path / "access.log")
    write_log(path, 80000, 0.01)   # ~7.5 MB, 800 s of requests
    since = START + 700
    lines = module.read_http_log(path, since)
    assert len(lines) < 20000                         # read from near `since`, not from the start
    events = boot_events.http_events(lines, since)
    assert len(events) == 10000                       # every request at or after `since`, none lost
    assert min(event["time"] for event in events) == since


def test_small_log_is_read_whole(tmp_path):
    path = str(tmp_path / "access.log")
    write_log(path, 100, 1)
    assert len(module.read_http_log(path, START + 50)) == 100


def test_bisection_tolerates_lines_slightly_out_of_order(tmp_path):
    """nginx writes a line when a request ends: a long download logs after shorter later ones."""
    path = str(tmp_path / "access.log")
    write_log(path, 80000, 0.01)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(LINE % (START + 650, 1, 0, 1))  # a request that ended late, logged at the end
    lines = module.read_http_log(path, START + 640)
    assert sum(1 for event in boot_events.http_events(lines, START + 640)) == 16001
