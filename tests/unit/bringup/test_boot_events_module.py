# -*- coding: utf-8 -*-
"""The boot_events module's log reading: a large access log is entered by bisection, not read whole, and
with a cursor directory each poll reads only what was appended since the last (rotation included)."""

import json
import os
from unittest import mock

import pytest
from ansible.module_utils import _internal as module_utils_internal
from ansible.module_utils.testing import patch_module_args

from ansible_collections.netboot.fleet.plugins.modules import boot_events as module
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import events as boot_events
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import tail

START = 1795705200.0
LINE = '%.3f 198.51.100.%d "GET /ipxe/52:54:00:12:%02x:%02x.ipxe HTTP/1.1" 200 301 "iPXE/1.21.1"\n'


def read_http_log(path, since):
    """What a first poll (no cursor yet) reads of an nginx log."""
    return [line for lines in tail.new_lines(path, {}, start=module.http_start(since)) for line in lines]


def write_log(path, count, step):
    with open(path, "w", encoding="utf-8") as handle:
        for index in range(count):
            handle.write(LINE % (START + index * step, index % 250, (index >> 8) % 256, index % 256))


def test_large_log_is_bisected_and_loses_no_line(tmp_path):
    path = str(tmp_path / "access.log")
    write_log(path, 80000, 0.01)   # ~7.5 MB, 800 s of requests
    since = START + 700
    lines = read_http_log(path, since)
    assert len(lines) < 20000                         # read from near `since`, not from the start
    events = boot_events.http_events(lines, since)
    assert len(events) == 10000                       # every request at or after `since`, none lost
    assert min(event["time"] for event in events) == since


def test_small_log_is_read_whole(tmp_path):
    path = str(tmp_path / "access.log")
    write_log(path, 100, 1)
    assert len(read_http_log(path, START + 50)) == 100


def test_bisection_tolerates_lines_slightly_out_of_order(tmp_path):
    """nginx writes a line when a request ends: a long download logs after shorter later ones."""
    path = str(tmp_path / "access.log")
    write_log(path, 80000, 0.01)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(LINE % (START + 650, 1, 0, 1))  # a request that ended late, logged at the end
    lines = read_http_log(path, START + 640)
    assert sum(1 for event in boot_events.http_events(lines, START + 640)) == 16001


LEASE_HEADER = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context\n"
LEASE = "198.51.100.%d,52:54:00:12:00:%02x,,3600,%d,1,0,0,m%d,0,\n"


def run_module(args, capsys, check=False):
    with patch_module_args(dict(args, _ansible_check_mode=check)), \
            mock.patch.object(module_utils_internal, "is_controller", False):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def append(path, text):
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


def blank_out(path):
    """Overwrite what is in the file with spaces (same size, same inode): a poll that reads it again sees no event."""
    size = os.path.getsize(path)
    with open(path, "r+b") as handle:
        handle.write(b" " * (size - 1) + b"\n")


@pytest.fixture(name="node")
def node_fixture(tmp_path):
    http, leases = str(tmp_path / "netboot-pxe.log"), str(tmp_path / "kea-leases4.csv")
    args = {"since": START, "http_logs": [http], "tftp_journal": False, "lease_files4": [leases], "lease_files6": [],
            "cursor_dir": str(tmp_path / "cursors")}
    return args, http, leases


def test_a_poll_reads_only_what_was_appended_since_the_last(node, capsys):
    args, http, leases = node
    write_log(http, 3, 1)
    append(leases, LEASE_HEADER + LEASE % (10, 0, START + 3601, 0))
    first = run_module(args, capsys)
    assert len(first["scripts_fetched"]) == 3 and [e["kind"] for e in first["events"]].count("lease4") == 1
    # What was read is gone from the files: a poll that read them again would lose these events.
    blank_out(http)
    blank_out(leases)
    appended = LINE % (START + 10, 9, 0, 9)
    append(http, appended)
    append(leases, LEASE % (11, 1, START + 3611, 1))
    second = run_module(args, capsys)
    assert second["scripts_fetched"] == sorted(first["scripts_fetched"] + ["52:54:00:12:00:09"])
    assert sorted(e["key"] for e in second["events"] if e["kind"] == "lease4") == ["52:54:00:12:00:00", "52:54:00:12:00:01"]
    read = {source["source"]: source["read_bytes"] for source in second["sources"]}
    assert read == {"http": len(appended), "lease4": len(LEASE % (11, 1, START + 3611, 1))}
    assert oct(os.stat(os.path.join(args["cursor_dir"], os.listdir(args["cursor_dir"])[0])).st_mode & 0o777) == "0o600"


def test_rotated_log_is_finished_then_the_new_one_read(node, capsys):
    args, http, _leases = node
    write_log(http, 2, 1)
    run_module(args, capsys)
    append(http, LINE % (START + 5, 5, 0, 5))  # written after the poll, before the rotation
    os.rename(http, http + ".1")
    append(http, LINE % (START + 6, 6, 0, 6))
    result = run_module(args, capsys)
    assert result["scripts_fetched"] == ["52:54:00:12:00:00", "52:54:00:12:00:01", "52:54:00:12:00:05", "52:54:00:12:00:06"]


def test_kea_lease_file_cleanup_loses_no_lease(node, capsys):
    """kea-lfc moves the lease file to <file>.2 and starts a new one with its header."""
    args, _http, leases = node
    append(leases, LEASE_HEADER + LEASE % (10, 0, START + 3601, 0))
    run_module(args, capsys)
    append(leases, LEASE % (11, 1, START + 3611, 1))
    os.rename(leases, leases + ".2")
    append(leases, LEASE_HEADER + LEASE % (12, 2, START + 3612, 2))
    result = run_module(args, capsys)
    assert sorted(e["key"] for e in result["events"] if e["kind"] == "lease4") == [
        "52:54:00:12:00:00", "52:54:00:12:00:01", "52:54:00:12:00:02"]


def test_truncated_log_is_read_from_its_start(node, capsys):
    args, http, _leases = node
    write_log(http, 3, 1)
    run_module(args, capsys)
    write_log(http, 1, 1)  # copytruncate: same inode, shorter
    append(http, LINE % (START + 7, 7, 0, 7))
    assert "52:54:00:12:00:07" in run_module(args, capsys)["scripts_fetched"]


def test_check_mode_does_not_move_the_cursors(node, capsys):
    args, http, _leases = node
    write_log(http, 2, 1)
    run_module(args, capsys, check=True)
    assert not [name for name in os.listdir(args["cursor_dir"]) if name.endswith(".json")]
    assert len(run_module(args, capsys)["scripts_fetched"]) == 2


def test_a_line_being_written_waits_for_its_newline(node, capsys):
    args, http, _leases = node
    line = LINE % (START + 1, 1, 0, 1)
    append(http, line[:20])
    assert run_module(args, capsys)["scripts_fetched"] == []
    append(http, line[20:])
    assert run_module(args, capsys)["scripts_fetched"] == ["52:54:00:12:00:01"]


def test_without_a_cursor_dir_every_poll_reads_from_since(node, capsys):
    args, http, _leases = node
    del args["cursor_dir"]
    write_log(http, 2, 1)
    run_module(args, capsys)
    blank_out(http)
    assert run_module(args, capsys)["scripts_fetched"] == []
