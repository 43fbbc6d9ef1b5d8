# -*- coding: utf-8 -*-
"""The observer's parsing: nginx access logs, in.tftpd syslog/journal records, Kea lease files."""

import time

import pytest

from bringup_testlib import data
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import events as boot_events

SINCE = 1795705200.0  # 2026-11-26T15:00:00Z

NGINX_CASES = [
    # (line, expected (time, client, path, status) or None)
    ('1795705213.317 198.51.100.10 "GET /ipxe/52:54:00:12:00:01.ipxe HTTP/1.1" 200 301 "iPXE/1.21.1"',
     (1795705213.317, "198.51.100.10", "ipxe/52:54:00:12:00:01.ipxe", 200)),
    ('1795705213.317 2001:DB8:12::10 "GET /ipxe/52%3a54%3a00%3a12%3a00%3a01.ipxe?x=1 HTTP/1.1" 404 1 "iPXE"',
     (1795705213.317, "2001:db8:12::10", "ipxe/52:54:00:12:00:01.ipxe", 404)),
    ('198.51.100.11 - - [26/Nov/2026:16:00:22 +0100] "GET /ipxe/boot.ipxe HTTP/1.1" 200 612 "-" "iPXE"',
     (1795705222.0, "198.51.100.11", "ipxe/boot.ipxe", 200)),
    ('198.51.100.11 - - [26/Nov/2026:09:30:22 -0530] "HEAD /snponly.efi HTTP/1.1" 200 0 "-" "-"',
     (1795705222.0, "198.51.100.11", "snponly.efi", 200)),
    ('::ffff:198.51.100.11 - - [26/Nov/2026:15:00:22 +0000] "GET / HTTP/1.0" 200 0 "-" "-"',
     (1795705222.0, "198.51.100.11", "", 200)),
    ('198.51.100.11 - - [26/Nov/2026:15:00:22 +0000] "POST /ipxe/boot.ipxe HTTP/1.1" 405 0 "-" "-"', None),
    ('198.51.100.11 - - [26/Nov/2026:15:00:22 +0000] "\\x16\\x03\\x01" 400 0 "-" "-"', None),
    ('198.51.100.11 - - [26/Foo/2026:15:00:22 +0000] "GET / HTTP/1.1" 200 0 "-" "-"', None),
    ("not a log line", None),
    ("", None),
]


@pytest.mark.parametrize("line,expected", NGINX_CASES)
def test_parse_nginx_line(line, expected):
    assert boot_events.parse_nginx_line(line) == expected


def test_parse_syslog_line_iso_and_bsd(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        lines = data("syslog.txt").splitlines()
        assert boot_events.parse_syslog_line(lines[0], 2026) == (1795705218.500123, "RRQ from 198.51.100.11 filename snponly.efi")
        assert boot_events.parse_syslog_line(lines[1], 2026) == (1795705219.0, "RRQ from 198.51.100.10 filename /undionly.kpxe")
        assert boot_events.parse_syslog_line("Foo 26 15:00:19 h x: y", 2026) is None
        assert boot_events.parse_syslog_line("garbage", 2026) is None
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_parse_journal_line():
    lines = data("dhcp-a2/journal.json").splitlines()
    assert boot_events.parse_journal_line(lines[1]) == (1795705218.5, "RRQ from ::ffff:198.51.100.11 filename snponly.efi")
    assert boot_events.parse_journal_line(lines[4]) is None          # binary message
    assert boot_events.parse_journal_line("{not json") is None
    assert boot_events.parse_journal_line('{"MESSAGE": "x"}') is None  # no time


def test_http_events_classify_and_drop_older_lines():
    events = boot_events.http_events(data("dhcp-a1/netboot-pxe.log").splitlines(), SINCE)
    assert [(event["kind"], event["key"], event["status"]) for event in events] == [
        ("entry", "198.51.100.10", 200),
        ("script", "52:54:00:12:00:01", 200),     # percent-encoded MAC decoded
        ("file", "198.51.100.10", 200),           # the installer's kernel and initrd
        ("file", "198.51.100.10", 200),
        ("loader", "198.51.100.12", 200),         # UEFI HTTP boot fetched snponly.efi over HTTP
        ("entry", "198.51.100.12", 200),
        ("script", "52:54:00:12:00:03", 404),
        ("script", "52:54:00:12:00:03", 404),
        ("answer", "img-server1", 200),
        ("callback", "img-server1", 204),         # its install-done callback, the token kept apart
        ("file", "198.51.100.10", 200),           # a fetch nginx did not finish
    ]
    assert events[-2]["detail"] == "installed" and events[-2]["token"] == "0f" * 16
    assert "complete" not in events[-3] and events[-1]["complete"] is False
    assert not boot_events.succeeded(events[-1])
    assert events[1] == {"time": 1795705213.317, "kind": "script", "key": "52:54:00:12:00:01", "client": "198.51.100.10",
                         "detail": "ipxe/52:54:00:12:00:01.ipxe", "status": 200}


def test_tftp_events_only_boot_loaders():
    records = [boot_events.parse_journal_line(line) for line in data("dhcp-a2/journal.json").splitlines()]
    events = boot_events.tftp_events([record for record in records if record], SINCE)
    assert events == [{"time": 1795705218.5, "kind": "loader", "key": "198.51.100.11", "client": "198.51.100.11",
                       "detail": "snponly.efi", "status": None}]


def test_lease4_events_from_cltt_skip_old_declined_and_cut_rows():
    events = boot_events.lease_events(data("dhcp-a1/kea-leases4.csv"), 4, SINCE)
    assert [(event["key"], event["time"], event["client"]) for event in events] == [
        ("52:54:00:12:00:01", 1795705212, "198.51.100.10"),
        ("52:54:00:12:00:03", 1795705215, "198.51.100.12"),
    ]


def test_lease6_events_carry_duid_and_hwaddr():
    events = boot_events.lease_events(data("dhcp-a1/kea-leases6.csv"), 6, SINCE)
    assert events == [{"time": 1795705214, "kind": "lease6", "key": "00:01:00:01:2e:aa:bb:cc:52:54:00:12:00:01",
                       "client": "2001:db8:12::10", "detail": "2001:db8:12::10", "status": None, "mac": ""}]


@pytest.mark.parametrize("text", ["", "address\n", "foo,bar\n1,2\n"])
def test_lease_events_without_a_usable_header(text):
    assert boot_events.lease_events(text, 4, SINCE) == []


def test_lease_times_are_whole_seconds():
    text = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context\n" \
           "198.51.100.10,52:54:00:12:00:01,,3600,1795708800,1,0,0,,0,\n"
    assert len(boot_events.lease_events(text, 4, SINCE + 0.7)) == 1


def test_first_events_keep_first_success_and_first_failure():
    events = boot_events.http_events(data("dhcp-a1/netboot-pxe.log").splitlines(), SINCE)
    events += boot_events.http_events(['1795705225.000 198.51.100.12 "GET /ipxe/52:54:00:12:00:03.ipxe HTTP/1.1" 200 1 "iPXE"'], SINCE)
    first = boot_events.first_events(list(reversed(events)))
    scripts = [(event["key"], event["status"], event["time"]) for event in first if event["kind"] == "script"]
    # The first and the last of each (kind, key, success): two 404s of web1 (its first and last), then its success.
    assert scripts == [("52:54:00:12:00:01", 200, 1795705213.317), ("52:54:00:12:00:03", 404, 1795705220.3),
                       ("52:54:00:12:00:03", 404, 1795705221.0), ("52:54:00:12:00:03", 200, 1795705225.0)]
    assert boot_events.scripts_fetched(first) == ["52:54:00:12:00:01", "52:54:00:12:00:03"]


def test_first_events_keep_every_leased_address():
    """The firmware's second lease (another IAID) fetched the loader: its address must survive."""
    header = "address,duid,valid_lifetime,expire,subnet_id,pref_lifetime,lease_type,iaid,prefix_len,fqdn_fwd,fqdn_rev," \
             "hostname,hwaddr,state,user_context,hwtype,hwaddr_source\n"
    duid = "00:01:00:01:31:e1:5a:7c:52:54:00:13:00:01"
    rows = ["2001:db8:13::142d,%s,3600,%d,1,3000,0,3141948922,128,0,0,v6-worker1,52:54:00:13:00:01,0,,1,2" % (duid, SINCE + 3611),
            "2001:db8:13::1437,%s,3600,%d,1,3000,0,321248603,128,0,0,v6-worker1,52:54:00:13:00:01,0,,1,2" % (duid, SINCE + 3618),
            "2001:db8:13::142d,%s,3600,%d,1,3000,0,3141948922,128,0,0,v6-worker1,52:54:00:13:00:01,0,,1,2" % (duid, SINCE + 3640)]
    events = boot_events.lease_events(header + "\n".join(rows) + "\n", 6, SINCE)
    leased = [(event["client"], event["time"]) for event in boot_events.first_events(events)]
    # Each address's first and last lease: a retried attempt sees its renewed lease.
    assert leased == [("2001:db8:13::142d", SINCE + 11), ("2001:db8:13::1437", SINCE + 18), ("2001:db8:13::142d", SINCE + 40)]


def test_kea_log_events_give_the_leases_a_database_keeps():
    messages = [
        (100.0, "INFO  [kea-dhcp4.leases/411.140351] DHCP4_LEASE_ALLOC [hwtype=1 52:54:00:E2:00:01], cid=[no info], "
                "tid=0x6a1b2c3d: lease 198.51.100.20 has been allocated for 3600 seconds"),
        (101.0, "INFO  [kea-dhcp6.leases/412.140352] DHCP6_LEASE_ALLOC duid=[00:03:00:01:52:54:00:e2:00:02], "
                "[hwtype=1 52:54:00:e2:00:02], tid=0x1a2b3c: lease for address 2001:db8:12::21 and iaid=1 has been "
                "allocated for 4000 seconds"),
        (102.0, "INFO  [kea-dhcp6.leases/412.140352] DHCP6_LEASE_ALLOC duid=[00:01:00:01:2e:aa:bb:cc:52:54:00:e2:00:03], "
                "[no hwaddr info], tid=0x1a2b3d: lease for address 2001:db8:13::1000 and iaid=7 has been allocated for "
                "4000 seconds"),
        (99.0, "INFO  [kea-dhcp4.leases/411.140351] DHCP4_LEASE_ALLOC [hwtype=1 52:54:00:e2:00:09], cid=[no info], "
               "tid=0x1: lease 198.51.100.29 has been allocated for 3600 seconds"),  # before `since`
        (103.0, "INFO  [kea-dhcp4.dhcp4/411.140351] DHCP4_QUERY_LABEL received query: [hwtype=1 52:54:00:e2:00:01]"),
    ]
    events = boot_events.kea_log_events(messages, 100.0)
    assert [(e["time"], e["kind"], e["key"], e["client"], e.get("mac")) for e in events] == [
        (100.0, "lease4", "52:54:00:e2:00:01", "198.51.100.20", None),
        (101.0, "lease6", "00:03:00:01:52:54:00:e2:00:02", "2001:db8:12::21", "52:54:00:e2:00:02"),
        (102.0, "lease6", "00:01:00:01:2e:aa:bb:cc:52:54:00:e2:00:03", "2001:db8:13::1000", ""),
    ]
