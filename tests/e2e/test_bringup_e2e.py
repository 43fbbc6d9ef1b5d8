"""bringup.yml end to end on the lab (issue 8, part 4).

Two machines (one BIOS, one UEFI) behind ipmi_sim BMCs are powered on by playbooks/bringup.yml,
get their reservations from Kea through the rack switch's relay and the anycast address, and fetch
their own iPXE script. Then Kea is killed on the node that served one machine and that machine is
power-cycled: it fetches its script again, served by the other node (the dead node's route was
withdrawn by its health check). Asserted on the report's JSON and, independently, on what the lab
recorded (the nginx logs the nodes write to the host, the switch's routes).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

from conftest import INVENTORY, PREFIX, REPO

from ansible_collections.netboot.fleet.plugins.module_utils.sot import cache, route

PLAYBOOK = os.path.join(REPO, "playbooks", "bringup.yml")
SOT = os.path.join(INVENTORY, "sot")
MACHINES = {"e2e-bios1": ("bios", "52:54:00:e2:00:01", "198.51.100.20"),
            "e2e-uefi1": ("uefi", "52:54:00:e2:00:02", "198.51.100.21")}
NODES = ("dhcp-a1", "dhcp-a2")
ANYCAST4 = "203.0.113.53"
# The ansible-playbook of the Python running the tests (the project's venv), else from PATH.
ANSIBLE_PLAYBOOK = (os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
                    if os.path.exists(os.path.join(os.path.dirname(sys.executable), "ansible-playbook"))
                    else shutil.which("ansible-playbook"))


def bringup(report_dir, *extra):
    """Run bringup.yml on the e2e inventory; its output goes to <report_dir>/ansible.log, each load of the SoT on
    the controller to <report_dir>/sot-loads.log. The report's JSON."""
    os.makedirs(report_dir, exist_ok=True)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
               **{cache.LOAD_LOG_ENV: os.path.join(report_dir, "sot-loads.log")})
    argv = [ANSIBLE_PLAYBOOK, "-i", INVENTORY, PLAYBOOK, "-e", "bringup_report_dir=%s" % report_dir,
            "-e", "bringup_wait_timeout=240"] + list(extra)
    started = time.monotonic()
    result = subprocess.run(argv, check=False, text=True, capture_output=True, cwd=REPO, env=env)
    with open(os.path.join(report_dir, "ansible.log"), "w") as log:
        log.write(result.stdout + result.stderr)
    print("%s: rc=%d in %.0f s, output in %s/ansible.log"
          % (" ".join(argv[4:]), result.returncode, time.monotonic() - started, report_dir))
    assert result.returncode == 0, "bringup.yml failed (%s/ansible.log):\n%s" % (report_dir, result.stdout[-6000:])
    with open(os.path.join(report_dir, "latest.json")) as report:
        return json.load(report)


def machine_rows(report):
    return {row["name"]: row for row in report["machines"]}


def script_fetches(lab_dir, node, mac, since):
    """(epoch, client address) of each GET of the machine's own script in the node's nginx log, after `since`."""
    path = os.path.join(lab_dir, "nodes", node, "log", "nginx", "netboot-pxe.log")
    wanted = ("/ipxe/%s.ipxe" % mac, "/ipxe/%s.ipxe" % mac.replace(":", "%3A"))
    fetches = []
    with open(path) as log:
        for line in log:
            fields = line.split()
            if len(fields) > 5 and fields[3] in wanted and fields[5] == "200" and float(fields[0]) >= since:
                fetches.append((float(fields[0]), fields[1]))
    return fetches


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
    uefi = rows["e2e-uefi1"]["console"]["lines"]
    assert any("Start PXE over IPv4" in line or "BdsDxe" in line for line in uefi), uefi[-20:]  # OVMF's own
    assert any("iPXE initialising devices" in line for line in uefi), uefi[-20:]               # iPXE's own
    assert "console" in rows["e2e-bios1"]  # recorded (SeaBIOS and the NIC's ROM print on VGA only)
    with open(os.path.join(report_dir, "latest.html")) as page:
        assert "<h2>Consoles</h2>" in page.read()
    with open(os.path.join(report_dir, "latest.events.jsonl")) as lines:
        events = [json.loads(line) for line in lines]
    assert {(event["machine"], event["step"]) for event in events} >= {(name, "script") for name in MACHINES}
    with open(os.path.join(report_dir, "netboot_bringup.prom")) as metrics:
        assert 'netboot_bringup_machines{status="ok"} 2\n' in metrics.read()
    for node, address in (("dhcp-a1", "192.0.2.1"), ("dhcp-a2", "192.0.2.3")):
        kea = podman("exec", "%s-%s" % (PREFIX, node), "curl", "-sf", "http://%s:9547/metrics" % address)
        assert 'kea_dhcp4_packets_sent_total{operation="ack"}' in kea
        health = podman("exec", "%s-%s" % (PREFIX, node), "curl", "-sf", "http://%s:9548/metrics" % address)
        assert 'netboot_anycast_announced{node="%s"} 1.0' % node in health


def test_machines_fetch_their_scripts_and_survive_a_dead_kea(e2e_lab):
    test_started = time.time()
    # Reports and playbook output stay in the lab's state dir for a post-mortem (the next run replaces them).
    reports = os.path.join(e2e_lab, "reports")
    shutil.rmtree(reports, ignore_errors=True)
    cache_file = route.cache_file_of(SOT)
    if os.path.exists(cache_file):
        os.unlink(cache_file)
    # Both nodes announce the anycast address before any machine is powered on (the playbook
    # deploys them); the first run brings both machines up from power off.
    report = bringup(os.path.join(reports, "first"))
    # One full load and validation of the SoT on the controller for the whole run (inventory, validate,
    # BIRD, Kea and PXE renders of both nodes, report): every other use got it from that load.
    with open(os.path.join(reports, "first", "sot-loads.log")) as log:
        assert [line.split()[1] for line in log] == ["full"]
    rows = machine_rows(report)
    assert sorted(rows) == sorted(MACHINES)
    served_by = {}
    for name, (firmware, mac, address) in MACHINES.items():
        row = rows[name]
        assert row["firmware"] == firmware
        assert row["status"] == "ok", "%s: %s at %s: %s" % (name, row["status"], row["stage"], row["reason"])
        steps = row["steps"]
        assert {"power", "lease", "script"} <= set(steps), "%s: steps %s" % (name, sorted(steps))
        assert steps["script"]["node"] in NODES
        assert 0 < row["seconds_to_script"] < 240
        served_by[name] = steps["script"]["node"]
        # Independent evidence: the serving node's nginx saw the machine fetch its own script from its
        # reserved address (the only way to that address is Kea's reservation, through the relay).
        fetches = script_fetches(e2e_lab, served_by[name], mac, test_started)
        assert fetches and {client for dummy, client in fetches} == {address}, fetches
        print("%s (%s): script fetched %.1f s after the power command, served by %s"
              % (name, firmware, row["seconds_to_script"], served_by[name]))
    assert anycast_next_hops() == ["192.0.2.1", "192.0.2.3"], "both nodes announce the anycast address"
    check_observability(os.path.join(reports, "first"), rows)

    # Kill Kea (DHCPv4) on the node that served the BIOS machine; its health check withdraws the route.
    victim_machine = "e2e-bios1"
    dead = served_by[victim_machine]
    survivor = [node for node in NODES if node != dead][0]
    podman("exec", "%s-%s" % (PREFIX, dead), "systemctl", "kill", "--signal=SIGKILL", "kea-dhcp4-server")
    survivor_hop = {"dhcp-a1": "192.0.2.1", "dhcp-a2": "192.0.2.3"}[survivor]
    deadline = time.monotonic() + 15
    while anycast_next_hops() != [survivor_hop] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert anycast_next_hops() == [survivor_hop], "the dead node's anycast route was not withdrawn"

    cycled = time.time()
    report = bringup(os.path.join(reports, "cycle"), "--limit", victim_machine, "-e", "bringup_power_state=cycle")
    rows = machine_rows(report)
    assert sorted(rows) == [victim_machine]
    row = rows[victim_machine]
    assert row["status"] == "ok", "%s: %s at %s: %s" % (victim_machine, row["status"], row["stage"], row["reason"])
    assert row["steps"]["script"]["node"] == survivor
    assert row["steps"]["lease"]["node"] == survivor
    mac, address = MACHINES[victim_machine][1:]
    assert script_fetches(e2e_lab, survivor, mac, cycled), "the surviving node's nginx did not serve the script"
    assert not script_fetches(e2e_lab, dead, mac, cycled)
    print("%s after Kea died on %s: script fetched %.1f s after the power cycle, served by %s"
          % (victim_machine, dead, row["seconds_to_script"], survivor))
