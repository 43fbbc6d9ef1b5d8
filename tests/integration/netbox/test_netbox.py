"""NetBox as the source of truth, against a real NetBox 4.7 (tests/images/netbox, seeded through its REST API).

One container for the module (one file: pytest-xdist's loadfile keeps it in one worker, on one port set):
the embedded SoT is seeded as devices of role "server" and prefixes of role "provisioning"; bad data as devices
of role "bad" and prefixes of role "bad-provisioning", and a device with a tagged provisioning interface as role
"tagged" and prefixes of role "tagged-provisioning", each exported by a selection of its own.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading

import pytest
import yaml

from ansible_collections.netboot.fleet.plugins.module_utils.kea import config as kea
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import render as pxe
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot

from netbox_container import NetBoxContainer, build_image
from netbox_seed import Seeder

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
EMBEDDED = os.path.join(REPO, "inventory", "sot")
BIN = os.path.dirname(sys.executable)
HTTP_PORT, REDIS_PORT = 22080, 22379
DOWN_PORT, SILENT_PORT = 22098, 22099  # nothing listens / a listener that never answers
BASE_KEYS = ("fabric", "dhcp_nodes", "profiles")  # what stays in local files; NetBox holds networks and machines

BAD_NETWORKS = [{"name": "bad_net", "ipv4": {"prefix": "203.0.113.64/26", "gateway": "203.0.113.65"}}]
_BAD = {"network": "bad_net", "profile": "debian12", "firmware": "bios", "bmc": {"protocol": "ipmi"}}
BAD_MACHINES = [
    dict(_BAD, name="dup-mac-a", mac="52:54:00:99:00:01", ipv4="203.0.113.74", bmc={"protocol": "ipmi", "address": "127.0.0.2"}),
    dict(_BAD, name="dup-mac-b", mac="52:54:00:99:00:01", ipv4="203.0.113.75", bmc={"protocol": "ipmi", "address": "127.0.0.3"}),
    dict(_BAD, name="outside", mac="52:54:00:99:00:03", ipv4="203.0.113.200", bmc={"protocol": "ipmi", "address": "127.0.0.4"}),
    dict(_BAD, name="no-profile", mac="52:54:00:99:00:04", ipv4="203.0.113.76", profile=None,
         bmc={"protocol": "ipmi", "address": "127.0.0.5"}),
    dict(_BAD, name="no-oob", mac="52:54:00:99:00:05", ipv4="203.0.113.77"),
]
TAGGED_NETWORKS = [{"name": "tagged_net", "ipv4": {"prefix": "203.0.113.128/26", "gateway": "203.0.113.129"}}]
TAGGED_MACHINES = [dict(_BAD, name="tagged", network="tagged_net", mac="52:54:00:99:00:10", ipv4="203.0.113.140",
                        bmc={"protocol": "ipmi", "address": "127.0.0.10"})]


def embedded_raw():
    data = {}
    for path in sot.source_files(EMBEDDED):
        with open(path, encoding="utf-8") as handle:
            data.update(yaml.safe_load(handle))
    return data


@pytest.fixture(scope="module")
def netbox():
    missing = [tool for tool in ("podman", "debootstrap", "zstd") if not shutil.which(tool)]
    assert not missing, "missing on this host: %s (scripts/apt-packages.txt)" % ", ".join(missing)
    build_image()
    with NetBoxContainer("nbx-it", HTTP_PORT, REDIS_PORT) as container:
        print("NetBox container ready in %.1f s" % container.start_seconds)
        raw = embedded_raw()
        Seeder(container.url, container.token).fleet(raw["networks"], raw["machines"])
        bad = Seeder(container.url, container.token, prefix_role="bad-provisioning", device_role="bad")
        container.bad_ids = bad.fleet(BAD_NETWORKS, BAD_MACHINES)
        tagged = Seeder(container.url, container.token, prefix_role="tagged-provisioning", device_role="tagged")
        device, = tagged.fleet(TAGGED_NETWORKS, TAGGED_MACHINES)
        # A second interface carrying the provisioning tag: it, not eth0 (the primary IP's), is the machine's.
        tag = tagged.one("extras/tags/", {"slug": "netboot-provisioning"},
                         {"name": "netboot-provisioning", "slug": "netboot-provisioning"})
        eth1 = tagged.api("POST", "dcim/interfaces/", {"device": device, "name": "eth1", "type": "25gbase-x-sfp28",
                                                       "mac_address": "52:54:00:99:00:11", "tags": [tag]})
        tagged.api("POST", "ipam/ip-addresses/", {"address": "203.0.113.141/26", "status": "active",
                                                  "assigned_object_type": "dcim.interface",
                                                  "assigned_object_id": eth1["id"]})
        yield container


@pytest.fixture
def sot_dir(tmp_path):
    """A SoT directory holding the embedded SoT's fabric, DHCP nodes and profiles: NetBox adds the rest."""
    raw = embedded_raw()
    directory = tmp_path / "sot"
    directory.mkdir()
    (directory / "base.yml").write_text(yaml.safe_dump({key: raw[key] for key in BASE_KEYS}))
    return directory


def playbook(tmp_path, netbox, task_args, token=None, check=False):
    """Runs netbox_export once through ansible-playbook (the token only in the environment): (the process, the
    task's result)."""
    book = tmp_path / "export.yml"
    book.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "export", "netboot.fleet.netbox_export": task_args, "register": "exported", "ignore_errors": True},
        {"ansible.builtin.copy": {"content": "{{ exported | to_json }}", "dest": str(tmp_path / "result.json")},
         "check_mode": False}]}]))
    command = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", str(book),
               "-e", "ansible_python_interpreter=%s" % sys.executable]
    if check:
        command += ["--check", "--diff"]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               NETBOX_TOKEN=token if token is not None else netbox.token)
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert netbox.token not in result.stdout + result.stderr
    return result, json.loads((tmp_path / "result.json").read_text())


def renders(fleet):
    """Everything the renderers make of a SoT: Kea Dhcp4/Dhcp6 and every PXE file."""
    out = {family: kea.dumps(kea.render(fleet, family), pretty=True) for family in kea.FAMILIES}
    templates = pxe.Templates(pxe.read_templates(), pxe.read_profile_templates(fleet))
    out["pxe"] = pxe.Renderer(fleet, templates).render_all()
    return out


def test_embedded_sot_exports_back_to_the_same_renders(netbox, sot_dir, tmp_path):
    dest = sot_dir / "netbox.yml"
    _result, answer = playbook(tmp_path, netbox, {"url": netbox.url, "dest": str(dest), "device_roles": ["server"]})
    assert not answer.get("failed"), answer
    assert answer["changed"] and answer["machines"] == 4 and answer["networks"] == 2
    assert answer["requests"] == 1  # every list in one GraphQL request
    exported = sot.load(str(sot_dir))
    assert [machine.name for machine in exported.machines] == [machine.name for machine in sot.load(EMBEDDED).machines]
    assert renders(exported) == renders(sot.load(EMBEDDED))

    # Again: nothing changes. In check mode after a hand edit: the diff shows it, the file stays as edited.
    _result, answer = playbook(tmp_path, netbox, {"url": netbox.url, "dest": str(dest), "device_roles": ["server"]})
    assert not answer.get("failed") and not answer["changed"], answer
    edited = dest.read_text().replace("profile: minimal", "profile: debian12", 1)
    assert edited != dest.read_text()
    dest.write_text(edited)
    result, answer = playbook(tmp_path, netbox, {"url": netbox.url, "dest": str(dest), "device_roles": ["server"]},
                              check=True)
    assert answer["changed"] and not answer.get("failed"), answer
    assert "-  profile: debian12\n+  profile: minimal" in result.stdout
    assert dest.read_text() == edited


def test_bad_data_one_problem_per_object_with_its_url_nothing_written(netbox, sot_dir, tmp_path):
    dest = sot_dir / "netbox.yml"
    _result, answer = playbook(tmp_path, netbox, {"url": netbox.url, "dest": str(dest), "device_roles": ["bad"],
                                                  "prefix_role": "bad-provisioning"})
    assert answer["failed"]
    problems = answer["problems"]
    device = {machine["name"]: "%s/dcim/devices/%d/" % (netbox.url, ident)
              for machine, ident in zip(BAD_MACHINES, netbox.bad_ids)}
    assert len(problems) == 4, problems
    expected = [
        (device["dup-mac-b"], "mac", "is also used by", "dup-mac-a"),
        ("/ipam/ip-addresses/", "203.0.113.200", "outside every prefix with role bad-provisioning", "outside"),
        (device["no-profile"], "custom_fields.netboot_profile", "is not set", ""),
        (device["no-oob"], "oob_ip", "is not set", ""),
    ]
    for url, field, message, other in expected:
        assert any(url in problem and field in problem and message in problem and other in problem
                   for problem in problems), (url, field, problems)
    assert not dest.exists()


def test_the_tagged_interface_is_the_provisioning_one(netbox, sot_dir, tmp_path):
    dest = sot_dir / "netbox.yml"
    _result, answer = playbook(tmp_path, netbox, {"url": netbox.url, "dest": str(dest), "device_roles": ["tagged"],
                                                  "prefix_role": "tagged-provisioning"})
    assert not answer.get("failed"), answer
    machine, = yaml.safe_load(dest.read_text())["machines"]
    assert (machine["name"], machine["mac"], machine["ipv4"]) == ("tagged", "52:54:00:99:00:11", "203.0.113.141")


@pytest.fixture
def silent_listener():
    """A TCP listener that accepts and never answers: a NetBox too slow to answer in time."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", SILENT_PORT))
    server.listen(8)
    accepted, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except socket.timeout:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % SILENT_PORT
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


@pytest.mark.parametrize("case", ["down", "wrong-token", "slow"])
def test_netbox_unusable_clear_error_and_the_sot_untouched(netbox, sot_dir, tmp_path, case, request):
    dest = sot_dir / "netbox.yml"
    dest.write_text("# the SoT as it was\nmachines: []\n")
    url, token = netbox.url, None
    if case == "down":
        url = "http://127.0.0.1:%d" % DOWN_PORT
    elif case == "wrong-token":
        token = "nbt_wrongkey.wrongsecret0123456789"
    else:
        url = request.getfixturevalue("silent_listener")
    result, answer = playbook(tmp_path, netbox, {"url": url, "dest": str(dest), "timeout": 2, "retries": 1},
                              token=token)
    assert answer["failed"]
    expected = {"down": "cannot be reached: Connection refused (2 attempts)",
                "wrong-token": "refused the token: it answered HTTP 403",
                "slow": "did not answer within 2 s (2 attempts)"}[case]
    assert answer["msg"].startswith("NetBox at %s " % url) and expected in answer["msg"], answer
    assert "Traceback" not in result.stdout + result.stderr
    if token:
        assert token not in result.stdout + result.stderr
    assert dest.read_text() == "# the SoT as it was\nmachines: []\n"


def plain(value):
    """ansible-inventory --list shows each string of an inventory plugin as {"__ansible_unsafe": string}."""
    if isinstance(value, dict):
        return value["__ansible_unsafe"] if set(value) == {"__ansible_unsafe"} else {k: plain(v) for k, v in value.items()}
    return value


def test_inventory_source_end_to_end_to_the_rendered_kea_config(netbox, sot_dir, tmp_path):
    config = tmp_path / "fleet.netbox.yml"
    config.write_text(yaml.safe_dump({
        "plugin": "netboot.fleet.netbox", "url": netbox.url, "sot": str(sot_dir), "device_roles": ["server"],
        "export_dir": str(tmp_path / "export"), "cache": True, "cache_plugin": "ansible.builtin.jsonfile",
        "cache_connection": str(tmp_path / "cache")}))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), NETBOX_TOKEN=netbox.token)
    served = netbox.requests_served()
    inventory = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", str(config), "--list"], env=env,
                               capture_output=True, text=True, timeout=300, check=False)
    assert inventory.returncode == 0, inventory.stderr
    assert netbox.requests_served() - served == 1
    hostvars = json.loads(inventory.stdout)["_meta"]["hostvars"]
    assert sorted(hostvars) == ["dhcp-a1", "dhcp-a2", "img-server1", "img-server2", "v6-worker1", "web1"]
    assert plain(hostvars["web1"]["netboot"]["bmc"]) == {"address": "127.0.0.1", "protocol": "ipmi", "port": 16233}

    # The renderers' route: kea_config renders from netboot_sot_source on the controller.
    book = tmp_path / "render.yml"
    book.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"netboot.fleet.sot_info": {}, "register": "fleet"},
        {"ansible.builtin.copy": {"content": "{{ netboot_sot_source }}", "dest": str(tmp_path / "source")}}]}]))
    run = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(config), "-i", "localhost,", "-c", "local",
                          str(book), "-e", "ansible_python_interpreter=%s" % sys.executable], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    fleet = sot.load((tmp_path / "source").read_text())
    with open(os.path.join(REPO, "tests", "unit", "kea", "golden", "dhcp4.json"), encoding="utf-8") as handle:
        assert kea.dumps(kea.render(fleet, "dhcp4"), pretty=True) == handle.read()
    # The playbook's inventory came from Ansible's inventory cache: NetBox was not asked again.
    assert netbox.requests_served() - served == 1

    # bringup.yml from the same inventory, its controller stages in check mode: the SoT NetBox gave is the one it
    # validates and reports on (the stages on the DHCP nodes and BMCs run on the lab, from files, in e2e).
    bringup = subprocess.run([
        os.path.join(BIN, "ansible-playbook"), "-i", str(config), os.path.join(REPO, "playbooks", "bringup.yml"),
        "--tags", "validate", "--check", "-e", "ansible_python_interpreter=%s" % sys.executable,
        "-e", "bringup_report_dir=%s" % (tmp_path / "reports"), "-e", "netboot_state_dir=%s" % (tmp_path / "state")],
        env=env, capture_output=True, text=True, timeout=300, check=False)
    assert bringup.returncode == 0, bringup.stdout[-4000:] + bringup.stderr[-2000:]
    assert "4 machines, DHCP nodes dhcp-a1, dhcp-a2" in bringup.stdout, bringup.stdout[-4000:]
    report = json.loads(next((tmp_path / "reports").glob("bringup-*-check.json")).read_text())
    assert sorted(row["name"] for row in report["machines"]) == ["img-server1", "img-server2", "v6-worker1", "web1"]
    assert netbox.requests_served() - served == 1
