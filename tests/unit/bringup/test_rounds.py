# -*- coding: utf-8 -*-
"""One wait-stage round: nginx lines and leases of two nodes -> states, retries, local boot, forged callbacks."""

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import callback, events, lifecycle, rounds

T0 = 1796000000.0
KEY = "ab" * 32
MACHINE = {"name": "m1", "mac": "52:54:00:aa:00:01", "ipv4": "198.51.100.20", "ipv6": None, "duid": None,
           "profile": "minimal", "network": "rack12", "firmware": "bios"}
OTHER = {"name": "m2", "mac": "52:54:00:aa:00:02", "ipv4": "198.51.100.21", "ipv6": None, "duid": None,
         "profile": "minimal", "network": "rack12", "firmware": "uefi"}
PROFILES = {"minimal": {"kernel": "minimal/linux", "initrd": "minimal/initrd.gz"}}
POWER = {"m1": {"ok": True, "sent": T0, "action": "on", "previous_state": "off"},
         "m2": {"ok": False, "stage": "power", "msg": "BMC did not answer"}}


def line(offset, client, path, status=200, complete=True):
    return '%.3f %s "GET /%s HTTP/1.1" %d 10 "iPXE/1.21.1" c=%s' % (
        T0 + offset, client, path, status, "OK" if complete else "")


def observation(node, lines):
    return {"item": node, "events": events.first_events(events.http_events(lines, T0 - 1))}


def install_lines(token, answer_status=200, image_complete=True):
    return [
        line(5, "198.51.100.20", "ipxe/52:54:00:aa:00:01.ipxe"),
        line(6, "198.51.100.20", "minimal/linux"),
        line(7, "198.51.100.20", "minimal/initrd.gz"),
        line(30, "198.51.100.20", "installer/m1/install.conf", answer_status),
        line(31, "198.51.100.20", "minimal/disk.img.gz", complete=image_complete),
        line(50, "198.51.100.20", "callback/m1/%s/installed" % token, 204),
    ]


def one_round(records, observations, now, retries=2):
    rounds.start_run(records, [MACHINE, OTHER], "r1", POWER, now)
    return rounds.advance_all(records, [MACHINE, OTHER], PROFILES, "r1", observations, now,
                              lifecycle.Policy(retries=retries), KEY)


def test_a_whole_install_across_two_nodes_then_booted():
    token = callback.token(KEY, "m1", MACHINE["mac"])
    records = {}
    lines = install_lines(token)
    actions = one_round(records, [observation("dhcp-a1", lines[:3]), observation("dhcp-a2", lines[3:])], T0 + 51)
    assert actions["boot_local"] == ["m1"] and actions["retry"] == []
    assert records["m1"]["state"] == "installed"
    assert [entry["state"] for entry in records["m1"]["history"]] == [
        "power", "script", "kernel", "answer", "installing", "installed"]
    assert records["m2"]["state"] == "failed" and records["m2"]["stage"] == "power"
    assert actions["failed_machines"] == ["m2"] and actions["pending"] == ["m1"]
    lines.append(line(80, "198.51.100.20", "callback/m1/%s/booted" % token, 204))
    actions = one_round(records, [observation("dhcp-a1", lines)], T0 + 81)
    assert records["m1"]["state"] == "booted" and actions["pending"] == []


def test_forged_callbacks_change_nothing_and_are_reported():
    records = {}
    other_token = callback.token(KEY, "m2", OTHER["mac"])
    lines = install_lines("0" * 32)[:4] + install_lines("0" * 32)[5:] + [line(40, "198.51.100.99", "callback/m1/%s/installed" % other_token, 204)]
    actions = one_round(records, [observation("dhcp-a1", lines)], T0 + 51)
    assert records["m1"]["state"] == "answer" and actions["boot_local"] == []
    assert sorted((entry["client"], entry["phase"]) for entry in actions["forged"]) == [
        ("198.51.100.20", "installed"), ("198.51.100.99", "installed")]


def test_an_answer_file_404_is_retried_then_failed_with_the_url():
    token = callback.token(KEY, "m1", MACHINE["mac"])
    records = {}
    actions = one_round(records, [observation("dhcp-a1", install_lines(token, answer_status=404)[:4])], T0 + 31, retries=0)
    assert actions["failed_machines"] == ["m2"]  # within the grace: the installer may fetch again
    actions = one_round(records, [observation("dhcp-a1", install_lines(token, answer_status=404)[:4])], T0 + 46, retries=0)
    assert actions["failed_machines"] == ["m1", "m2"]
    assert records["m1"]["stage"] == "answer"
    assert records["m1"]["reason"] == "GET /installer/m1/install.conf answered HTTP 404 by dhcp-a1"


def test_an_image_cut_short_is_the_installing_step_failing():
    token = callback.token(KEY, "m1", MACHINE["mac"])
    records = {}
    actions = one_round(records, [observation("dhcp-a1", install_lines(token, image_complete=False)[:5])], T0 + 47)
    assert actions["retry"] == ["m1"]
    assert records["m1"]["attempt"] == 2 and records["m1"]["state"] == "power"
    assert "GET /minimal/disk.img.gz was cut short (dhcp-a1)" in records["m1"]["history"][-2]["detail"]


def test_a_retried_attempt_sees_its_own_lease_and_script_again():
    token = callback.token(KEY, "m1", MACHINE["mac"])
    records = {}
    first = install_lines(token, answer_status=404)[:4]
    again = [line(100, "198.51.100.20", "ipxe/52:54:00:aa:00:01.ipxe"), line(101, "198.51.100.20", "minimal/linux")]
    one_round(records, [observation("dhcp-a1", first)], T0 + 50)
    assert records["m1"]["attempt"] == 2
    actions = one_round(records, [observation("dhcp-a1", first + again)], T0 + 102)
    assert records["m1"]["state"] == "kernel" and actions["pending"] == ["m1"]
    assert [entry["time"] for entry in records["m1"]["history"] if entry["state"] == "script"] == [T0 + 5, T0 + 100]
