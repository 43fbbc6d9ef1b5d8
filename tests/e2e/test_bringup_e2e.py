"""bringup.yml end to end on the lab: from power off to installed and booted from disk (issues 8 and 18).

Two machines (one BIOS, one UEFI) behind ipmi_sim BMCs, with blank disks, profile `minimal` (the lab's
minimal installer: Debian's installer kernel + a busybox initramfs):
1. bringup.yml powers them on; they get their reservations from Kea through the rack switch's relay and
   the anycast address, fetch their own iPXE script and the kernel. e2e-uefi1 fetches its answer file and
   the disk image, writes its disk, calls back "installed" with the token of its own answer file and powers
   off; the playbook switches its scripts to the local disk and powers it on; the disk boots and calls back
   "booted" - checked independently in the nodes' nginx logs (callbacks from its own address, its token) and
   its serial console. Forged callbacks for it (a made-up token, e2e-bios1's token) change nothing and are
   reported. e2e-bios1's answer file is made unreadable on both nodes once it is powered on (nginx's try_files
   answers 404; the asset sync, which rewrites a missing file, leaves a file whose content is intact): it is retried once
   (bringup_retries=1) and ends failed at "answer", with the URL.
2. The answer file is readable again, e2e-uefi1 is marked for reinstall (netboot.fleet.machine_state): a run (its
   apply re-renders e2e-uefi1's installer scripts) installs both, each booted from disk.
3. A third run leaves both alone: no power command reaches a BMC (the chassis control's call log).
4. Kea is killed on the node that served e2e-bios1, which is marked new (its scripts, not applied again, still
   boot its disk) and power-cycled with --limit: its lease and script come from the other node (the dead
   node's route was withdrawn by its health check) and it boots from its disk again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time

import yaml

from conftest import INVENTORY, PREFIX, REPO

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import callback
from ansible_collections.netboot.fleet.plugins.module_utils.sot import cache, route

PLAYBOOK = os.path.join(REPO, "playbooks", "bringup.yml")
SOT = os.path.join(INVENTORY, "sot")
with open(PLAYBOOK, encoding="utf-8") as _plays:
    POWER_PLAY = next(play["name"] for play in yaml.safe_load(_plays) if "power" in play.get("tags", []))
MACHINES = {"e2e-bios1": ("bios", "52:54:00:e2:00:01", "198.51.100.20"),
            "e2e-uefi1": ("uefi", "52:54:00:e2:00:02", "198.51.100.21")}
NODES = ("dhcp-a1", "dhcp-a2")
ANYCAST4 = "203.0.113.53"
ANSWER = "/srv/netboot-http/installer/e2e-bios1/install.conf"
BIN = os.path.dirname(sys.executable)
# The ansible-playbook of the Python running the tests (the project's venv), else from PATH.
ANSIBLE_PLAYBOOK = (os.path.join(BIN, "ansible-playbook") if os.path.exists(os.path.join(BIN, "ansible-playbook"))
                    else shutil.which("ansible-playbook"))
ANSIBLE = os.path.join(BIN, "ansible") if os.path.exists(os.path.join(BIN, "ansible")) else shutil.which("ansible")


def ansible_env(report_dir):
    return dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
                **{cache.LOAD_LOG_ENV: os.path.join(report_dir, "sot-loads.log")})


def bringup(lab_dir, report_dir, *extra, during=None, succeed=True):
    """Run bringup.yml on the e2e inventory (output in <report_dir>/ansible.log, SoT loads in sot-loads.log);
    `during` runs in a thread from the moment the power stage starts (the data is applied, no machine is powered
    yet). The report's JSON."""
    os.makedirs(report_dir, exist_ok=True)
    argv = [ANSIBLE_PLAYBOOK, "-i", INVENTORY, PLAYBOOK, "-e", "bringup_report_dir=%s" % report_dir,
            "-e", "netboot_state_dir=%s" % os.path.join(lab_dir, "controller"), "-e", "bringup_wait_timeout=900"] + list(extra)
    started = time.monotonic()
    helper = threading.Thread(target=during) if during else None
    lines = []
    with subprocess.Popen(argv, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO,
                          env=ansible_env(report_dir)) as process:
        for line in process.stdout:
            lines.append(line)
            if helper and not helper.is_alive() and line.startswith("PLAY [%s]" % POWER_PLAY):
                helper.start()
    output = "".join(lines)
    if helper and helper.is_alive():
        helper.join()
    with open(os.path.join(report_dir, "ansible.log"), "w") as log:
        log.write(output)
    print("%s: rc=%d in %.0f s, output in %s/ansible.log"
          % (" ".join(argv[4:]), process.returncode, time.monotonic() - started, report_dir))
    assert (process.returncode == 0) == succeed, "bringup.yml rc=%d (%s/ansible.log):\n%s" % (
        process.returncode, report_dir, output[-6000:])
    with open(os.path.join(report_dir, "latest.json")) as report:
        return json.load(report)


def mark_for_reinstall(lab_dir, *names, installed=True):
    """machine_state state=new for the machines; `installed`: they were installed, so that is a change."""
    result = subprocess.run(
        [ANSIBLE, "-i", INVENTORY, "localhost", "-m", "netboot.fleet.machine_state",
         "-a", json.dumps({"sot": SOT, "names": list(names), "state": "new", "reason": "e2e reinstall",
                           "state_dir": os.path.join(lab_dir, "controller")})],
        check=False, text=True, capture_output=True, cwd=REPO, env=ansible_env(lab_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    assert not installed or "CHANGED" in result.stdout, result.stdout


def machine_rows(report):
    return {row["name"]: row for row in report["machines"]}


def nginx_lines(lab_dir, node, since, contains):
    """(epoch, client, path, status) of the node's access-log lines after `since` whose path contains `contains`."""
    lines = []
    with open(os.path.join(lab_dir, "nodes", node, "log", "nginx", "netboot-pxe.log")) as log:
        for line in log:
            fields = line.split()
            if len(fields) > 5 and contains in fields[3] and float(fields[0]) >= since:
                lines.append((float(fields[0]), fields[1], fields[3], fields[5]))
    return lines


def all_nodes(lab_dir, since, contains):
    return sorted(line for node in NODES for line in nginx_lines(lab_dir, node, since, contains))


def script_fetches(lab_dir, node, mac, since):
    return [(stamp, client) for stamp, client, path, status in nginx_lines(lab_dir, node, since, "/ipxe/")
            if path in ("/ipxe/%s.ipxe" % mac, "/ipxe/%s.ipxe" % mac.replace(":", "%3A")) and status == "200"]


def power_calls(lab_dir, name, since):
    """The chassis control's `set` calls (power, reset, boot device) for the machine after `since`."""
    path = os.path.join(lab_dir, "machines", name, "calls.log")
    with open(path) as log:
        return [line.strip() for line in log if float(line.split()[0]) >= since and line.split()[1] == "set"]


def serial_markers(lab_dir, name):
    with open(os.path.join(lab_dir, "machines", name, "serial.log"), "rb") as serial:
        return [line.decode("utf-8", "replace").strip() for line in serial if b"netboot.fleet:" in line]


def anycast_next_hops():
    """Next hops of the anycast /32 in the rack switch's kernel table."""
    out = subprocess.run(["ip", "-n", PREFIX + "-tor", "-4", "route", "show", ANYCAST4], check=True, text=True,
                         capture_output=True).stdout
    hops = []
    for line in out.splitlines():
        words = line.split()
        if "via" in words:
            hops.append(words[words.index("via") + 1])
    return sorted(hops)


def podman(*args):
    env = dict(os.environ, CONTAINERS_CONF=os.path.join(REPO, ".ci", "podman", "containers.conf"),
               CONTAINERS_STORAGE_CONF=os.path.join(os.environ.get("NBF_WORK", "/var/tmp/netboot-fleet"),
                                                    "podman", "storage.conf"))
    return subprocess.run(["podman"] + list(args), check=True, text=True, capture_output=True, env=env).stdout


def check_observability(report_dir, rows):
    """The consoles recorded through the BMCs' Serial-over-LAN, the events and metrics beside the report,
    and both nodes' exporters."""
    assert "console" in rows["e2e-uefi1"] and "console" in rows["e2e-bios1"]
    # Every recorded line is in the page (the row has only the last ones: the installed system's by now).
    with open(os.path.join(report_dir, "latest.html")) as page:
        html = page.read()
    assert "<h2>Consoles</h2>" in html
    # The machine's own serial lines, through its BMC (firmware and iPXE lines: tests/integration/bmc/test_bmc_console.py,
    # whose VM waits for the SOL connection; here it may come after the firmware's first lines).
    assert "iPXE" in html or "netboot.fleet: e2e-uefi1" in html
    with open(os.path.join(report_dir, "latest.events.jsonl")) as lines:
        events = [json.loads(line) for line in lines]
    assert {(event["machine"], event["step"]) for event in events} >= {(name, "script") for name in MACHINES}
    with open(os.path.join(report_dir, "netboot_bringup.prom")) as metrics:
        assert 'netboot_bringup_machines{status="booted"} 2\n' in metrics.read()
    for node, address in (("dhcp-a1", "192.0.2.1"), ("dhcp-a2", "192.0.2.3")):
        kea = podman("exec", "%s-%s" % (PREFIX, node), "curl", "-sf", "http://%s:9547/metrics" % address)
        assert 'kea_dhcp4_packets_sent_total{operation="ack"}' in kea
        health = podman("exec", "%s-%s" % (PREFIX, node), "curl", "-sf", "http://%s:9548/metrics" % address)
        assert 'netboot_anycast_announced{node="%s"} 1.0' % node in health


def assert_booted(lab_dir, rows, name, since):
    firmware, mac, address = MACHINES[name]
    row = rows[name]
    assert row["firmware"] == firmware
    assert row["status"] == "booted", "%s: %s at %s: %s" % (name, row["status"], row["stage"], row["reason"])
    assert {"power", "lease", "script", "kernel", "answer", "installing", "installed", "booted"} <= set(row["steps"]), \
        "%s: steps %s" % (name, sorted(row["steps"]))
    # Independent evidence: its own callbacks, from its reserved address, each with its own token.
    key = callback.load_key(os.path.join(lab_dir, "controller", callback.KEY_FILE), create=False)
    token = callback.token(key, name, mac)
    for phase in ("installed", "booted"):
        calls = all_nodes(lab_dir, since, "/callback/%s/%s/%s" % (name, token, phase))
        assert [(client, status) for _stamp, client, _path, status in calls][:1] == [(address, "204")], (phase, calls)
    assert any("%s booted from disk" % name in marker for marker in serial_markers(lab_dir, name))
    print("%s (%s): booted from disk %.1f s after the power command (attempt %d); script %.1f s, answer %.1f s, "
          "installed %.1f s" % (name, firmware, row["seconds_to_booted"], row["attempts"], row["steps"]["script"]["offset"],
                                row["steps"]["answer"]["offset"], row["steps"]["installed"]["offset"]))


def test_machines_install_boot_from_disk_retry_and_survive_a_dead_kea(e2e_lab):
    lab_dir = e2e_lab
    reports = os.path.join(lab_dir, "reports")
    shutil.rmtree(reports, ignore_errors=True)
    cache_file = route.cache_file_of(SOT)
    if os.path.exists(cache_file):
        os.unlink(cache_file)

    # 1. From power off: e2e-uefi1 to booted from disk, e2e-bios1 retried and failed at its answer file.
    first = time.time()

    def meanwhile():
        # The apply stage wrote the answer files; no machine is powered on yet, so none could fetch one.
        for node in NODES:
            podman("exec", "%s-%s" % (PREFIX, node), "chmod", "000", ANSWER)
        # Forged callbacks count from the first power command on (older log lines are not this run's).
        deadline = time.monotonic() + 900
        while not power_calls(lab_dir, "e2e-uefi1", first) and time.monotonic() < deadline:
            time.sleep(0.5)
        key = callback.load_key(os.path.join(lab_dir, "controller", callback.KEY_FILE), create=False)
        for token in ("0" * 32, callback.token(key, "e2e-bios1", MACHINES["e2e-bios1"][1])):
            subprocess.run(["ip", "netns", "exec", PREFIX + "-tor", "curl", "-s", "-o", "/dev/null", "-m", "5",
                            "http://%s/callback/e2e-uefi1/%s/installed" % (ANYCAST4, token)], check=False)

    report = bringup(lab_dir, os.path.join(reports, "first"), "-e", "bringup_retries=1", during=meanwhile, succeed=False)
    # One full load and validation of the SoT on the controller for the whole run (inventory, validate,
    # BIRD, Kea and PXE renders of both nodes, every wait round, report).
    with open(os.path.join(reports, "first", "sot-loads.log")) as log:
        assert [line.split()[1] for line in log] == ["full"]
    rows = machine_rows(report)
    assert sorted(rows) == sorted(MACHINES)
    assert_booted(lab_dir, rows, "e2e-uefi1", first)
    bios = rows["e2e-bios1"]
    assert (bios["status"], bios["stage"], bios["attempts"]) == ("failed", "answer", 2), bios
    assert "/installer/e2e-bios1/install.conf" in bios["reason"] and "404" in bios["reason"], bios["reason"]
    assert len([line for line in all_nodes(lab_dir, first, "/installer/e2e-bios1/install.conf") if line[3] == "404"]) == 2
    assert report["summary"]["installed"] == 1
    forged = report["forged_callbacks"]
    assert sorted(entry["machine"] for entry in forged) == ["e2e-uefi1", "e2e-uefi1"], forged
    installed_at = rows["e2e-uefi1"]["steps"]["installed"]["time"]
    assert all(entry["time"] < installed_at for entry in forged), (forged, installed_at)
    print("forged callbacks ignored: %s" % forged)
    assert anycast_next_hops() == ["192.0.2.1", "192.0.2.3"], "both nodes announce the anycast address"

    # 2. The answer file back, e2e-uefi1 marked for reinstall: both install and boot from disk.
    for node in NODES:
        podman("exec", "%s-%s" % (PREFIX, node), "chmod", "644", ANSWER)
    mark_for_reinstall(lab_dir, "e2e-uefi1")
    second = time.time()
    report = bringup(lab_dir, os.path.join(reports, "second"), "--skip-tags", "deploy")
    second_rows = machine_rows(report)
    for name in MACHINES:
        assert_booted(lab_dir, second_rows, name, second)
    assert report["summary"]["installed"] == 2
    check_observability(os.path.join(reports, "second"), second_rows)

    # 3. Installed machines are left alone: no power command, no reinstall.
    third = time.time()
    report = bringup(lab_dir, os.path.join(reports, "third"), "--skip-tags", "deploy")
    assert {name: row["status"] for name, row in machine_rows(report).items()} == dict.fromkeys(MACHINES, "left_alone")
    for name in MACHINES:
        assert power_calls(lab_dir, name, third) == [], name
    assert not all_nodes(lab_dir, third, "/installer/")

    # 4. Kea dies on the node that served e2e-bios1: cycled, it boots through the other node.
    victim_machine = "e2e-bios1"
    dead = second_rows[victim_machine]["steps"]["script"]["node"]
    survivor = [node for node in NODES if node != dead][0]
    podman("exec", "%s-%s" % (PREFIX, dead), "systemctl", "kill", "--signal=SIGKILL", "kea-dhcp4-server")
    survivor_hop = {"dhcp-a1": "192.0.2.1", "dhcp-a2": "192.0.2.3"}[survivor]
    deadline = time.monotonic() + 15
    while anycast_next_hops() != [survivor_hop] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert anycast_next_hops() == [survivor_hop], "the dead node's anycast route was not withdrawn"

    mark_for_reinstall(lab_dir, victim_machine)
    cycled = time.time()
    report = bringup(lab_dir, os.path.join(reports, "cycle"), "--limit", victim_machine, "-e", "bringup_power_state=cycle")
    rows = machine_rows(report)
    assert sorted(rows) == [victim_machine]
    row = rows[victim_machine]
    assert row["status"] == "booted", "%s: %s at %s: %s" % (victim_machine, row["status"], row["stage"], row["reason"])
    assert row["steps"]["script"]["node"] == survivor
    assert row["steps"]["lease"]["node"] == survivor
    mac = MACHINES[victim_machine][1]
    assert script_fetches(lab_dir, survivor, mac, cycled), "the surviving node's nginx did not serve the script"
    assert not script_fetches(lab_dir, dead, mac, cycled)
    print("%s after Kea died on %s: booted from disk %.1f s after the power cycle, served by %s"
          % (victim_machine, dead, row["seconds_to_booted"], survivor))
