# -*- coding: utf-8 -*-
"""playbooks/bringup.yml against the bring-up lab: real BMCs, Kea, nginx and tftpd; machines that
boot only when their BMC was told to boot them from the network; a report built from what the
servers logged. The tests run in order on one lab (module fixture)."""

import datetime
import os
import re
import threading
import time

import pytest

import bringup_lab

STAGES = "validate,power,wait"


def text(done):
    """The run's output with the callback's line wrapping undone."""
    return " ".join(done.stdout.split())


def rows(report):
    return {row["name"]: row for row in report["machines"]}


def test_check_mode_changes_nothing_and_reports_the_plan(lab):
    done = lab.playbook("--tags", STAGES, "--check")
    # A BMC that does not answer is a finding in check mode too.
    assert done.returncode == 2, done.stdout[-4000:] + done.stderr[-2000:]
    assert "1 of 4 machines failed (m-deadbmc)" in text(done)
    for name in lab.sims:
        assert lab.power_calls(name) == [], name                 # neither boot device nor power sent
    assert lab.read("machines.log") == ""                         # so nothing booted
    assert lab.read("kea", "kea-leases4.csv").count("\n") <= 1   # header only
    names = lab.reports()
    assert len(names) == 3 and all(name.endswith(("-check.json", "-check.html", "-check.events.jsonl"))
                                   for name in names), names
    assert "latest.json" not in names                             # a check does not replace the last real report
    report = lab.report([name for name in names if name.endswith(".json")][0])
    assert report["run"]["check_mode"] is True and report["run"]["wait"]["ran"] is False
    machines = rows(report)
    assert machines["m-bios"]["status"] == "planned"
    assert machines["m-bios"]["reason"] == "would set the next boot to network and send power 'on' (now off)"
    assert machines["m-deadbmc"]["status"] == "failed" and machines["m-deadbmc"]["stage"] == "boot_device"
    assert "bring-up (CHECK MODE, nothing changed): 4 machines" in text(done)


def test_bringup_takes_each_machine_to_its_own_disk(lab):
    done = lab.playbook("--tags", STAGES)
    # Two machines fail (a BMC that does not answer, a missing kernel): the run fails, after the report.
    assert done.returncode == 2, done.stdout[-4000:] + done.stderr[-2000:]
    assert "2 of 4 machines failed (m-deadbmc, m-noscript)" in text(done)
    assert "bring-up: 4 machines, 2 installed (2 booted from disk, 0 left alone), 2 failed" in text(done)
    report = lab.report("latest.json")
    assert os.path.islink(lab.path("reports", "latest.html"))
    assert report["run"]["stages"] == ["validate", "boot_device", "power", "wait"]
    machines = rows(report)
    assert [row["name"] for row in report["machines"]][:2] == ["m-deadbmc", "m-noscript"]   # failed on top

    for name, loader in (("m-bios", "undionly.kpxe"), ("m-uefi", "snponly.efi")):
        row = machines[name]
        assert row["status"] == "booted", row
        steps = row["steps"]
        assert steps["power"]["detail"] == "on (was off)"
        assert steps["lease"]["detail"] == "%s (DHCPv4)" % row["ipv4"] and steps["lease"]["node"] == "dhcp-t1"
        assert steps["loader"]["detail"] == loader + " over TFTP"
        assert steps["script"]["detail"] == "ipxe/%s.ipxe" % row["mac"]
        assert {"kernel", "answer", "installed", "booted"} <= set(steps), sorted(steps)
        # In boot order; the lease file has whole seconds, so the lease may read up to 1 s early.
        assert -1 < steps["lease"]["offset"] <= steps["loader"]["offset"] <= steps["script"]["offset"] < 15
        assert steps["script"]["offset"] <= steps["installed"]["offset"] <= steps["booted"]["offset"]
        assert row["seconds_to_script"] == steps["script"]["offset"]
        # The evidence is the server's own log lines, from the machine's reserved address: its script, then
        # its callbacks (the token is its own: a forged one would not have moved it).
        log = lab.read("nginx", "netboot-pxe.log")
        assert '%s "GET /ipxe/%s.ipxe HTTP/1.1" 200' % (row["ipv4"], row["mac"]) in log
        assert re.search(r'%s "GET /callback/%s/\S+/installed HTTP/1.1" 204' % (re.escape(row["ipv4"]), name), log)
        assert re.search(r'%s "GET /callback/%s/\S+/booted HTTP/1.1" 204' % (re.escape(row["ipv4"]), name), log)
        # Network for the installer, then its own disk (ipmi_sim keeps "disk" as "default").
        calls = lab.power_calls(name)
        assert calls[:2] == ["set boot pxe", "set power 1"] and "set boot default" in calls[2:], calls

    noscript = machines["m-noscript"]
    # Failed after its script, on its kernel (the lifecycle names the last step reached or the refused one).
    assert noscript["status"] == "failed" and noscript["stage"] in ("script", "kernel"), noscript
    assert "nokernel/linux" in noscript["reason"] and "404" in noscript["reason"], noscript["reason"]
    assert noscript["attempts"] == 2  # bringup_retries 1: one power cycle after the first 404
    assert noscript["steps"]["lease"]["detail"] == "198.51.100.12 (DHCPv4)"

    dead = machines["m-deadbmc"]
    assert (dead["status"], dead["stage"]) == ("failed", "boot_device") and dead["reason"]
    assert bringup_lab.PASSWORD not in done.stdout + lab.read("reports", "latest.json") + lab.read("reports", "latest.html")

    html = lab.read("reports", "latest.html")
    assert html.index(">m-deadbmc<") < html.index(">m-noscript<") < html.index(">m-bios<")
    assert 'class="dot k-script"' in html


def test_installed_machines_are_left_alone(lab):
    lab.power_off_all()
    calls = dict((name, len(lab.power_calls(name))) for name in ("m-bios", "m-uefi"))
    done = lab.playbook("--tags", STAGES, "--limit", "rack_t1")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert {row["name"]: row["status"] for row in lab.report("latest.json")["machines"]} == \
        {"m-bios": "left_alone", "m-uefi": "left_alone"}
    assert all(lab.power_calls(name)[count:] == [] for name, count in calls.items())  # no BMC command at all


def test_limit_to_a_rack(lab):
    lab.reinstall_all()
    done = lab.playbook("--tags", STAGES, "--limit", "rack_t1")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    report = lab.report("latest.json")
    assert sorted(rows(report)) == ["m-bios", "m-uefi"]
    assert report["summary"]["counts"]["booted"] == 2 and report["run"]["limit"] == "rack_t1"
    assert "bring-up: 2 machines, 2 installed (2 booted from disk, 0 left alone), 0 failed" in text(done)
    assert "m-noscript" not in done.stdout.split("PLAY [Report]")[1].split("PLAY RECAP")[0]


def report_time(text_time):
    return datetime.datetime.strptime(text_time, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


def test_fetches_before_the_power_command_do_not_count(lab):
    """A machine still looping in iPXE from an earlier boot fetches its script while the run starts.
    Those fetches say nothing about this bring-up: the report counts the first one after the power command."""
    lab.reinstall_all()
    name, mac, address = bringup_lab.MACHINES[0][:3]
    bmc_calls_before = len(lab.read("bmc", name, "calls.log").splitlines())
    looping = threading.Event()

    def loop_in_ipxe():
        # Until the run's first BMC call for this machine (the boot device, just before the power command).
        while looping.is_set() and len(lab.read("bmc", name, "calls.log").splitlines()) == bmc_calls_before:
            lab.ns("curl", "-s", "-o", "/dev/null", "-m", "2", "--interface", address,
                   "http://%s/ipxe/%s.ipxe" % (bringup_lab.PXE_IPV4, mac), check=False)
            time.sleep(0.2)

    looping.set()
    loop = threading.Thread(target=loop_in_ipxe)
    loop.start()
    try:
        done = lab.playbook("--tags", STAGES, "--limit", name)
    finally:
        looping.clear()
        loop.join()
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    report = lab.report("latest.json")
    row = rows(report)[name]
    assert row["status"] == "booted", row
    started, powered = report_time(report["run"]["started"]), report_time(row["steps"]["power"]["time"])
    fetches = [float(line.split()[0]) for line in lab.read("nginx", "netboot-pxe.log").splitlines()
               if '%s "GET /ipxe/%s.ipxe HTTP/1.1" 200' % (address, mac) in line]
    stale = [fetched for fetched in fetches if started <= fetched < powered]
    assert stale, "the looping machine fetched nothing between the run's start and the power command: nothing was tested"
    counted = report_time(row["steps"]["script"]["time"])
    assert counted > stale[0] and row["steps"]["script"]["offset"] > -1, (stale, counted, row["steps"])
    assert [fetched for fetched in fetches if fetched >= powered], "the machine did not boot after the power command"


@pytest.mark.parametrize("tags", ["report"])
def test_report_alone_lists_the_scope_as_not_started(lab, tags):
    lab.reinstall_all()  # installed machines would be listed as left alone
    done = lab.playbook("--tags", tags)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    report = lab.report("latest.json")
    assert {row["status"] for row in report["machines"]} == {"not_started"}
    assert report["run"]["stages"] == []


def test_a_failed_dhcp_node_is_reported_and_the_machines_go_on(lab):
    """The deploy stage fails on the node (a role argument the role refuses: nothing is changed on this host)."""
    lab.reinstall_all()
    done = lab.playbook("--tags", "deploy,power,wait", "--limit", "rack_t1:dhcp_nodes",
                        extra={"bringup_anycast_bgp": False, "kea_dhcp_families": ["dhcp5"]})
    assert done.returncode == 2, done.stdout[-4000:] + done.stderr[-2000:]
    report = lab.report("latest.json")
    node = report["nodes"][0]
    assert (node["name"], node["ok"], node["stage"]) == ("dhcp-t1", False, "deploy")
    assert "dhcp5" in node["reason"] or "kea_dhcp_families" in node["reason"], node["reason"]
    assert report["run"]["stages"] == ["deploy", "boot_device", "power", "wait"]
    assert {row["name"]: row["status"] for row in report["machines"]} == {"m-bios": "booted", "m-uefi": "booted"}
    assert "DHCP nodes failed: dhcp-t1" in text(done)
