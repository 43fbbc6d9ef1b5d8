"""NetBox at scale: our export and inventory source against netbox.netbox.nb_inventory, on the same NetBox.

    python benchmarks/netbox_scale.py --machines 10000

A real NetBox (tests/images/netbox) is seeded through its REST API with a generated fleet (sot_gen.py); the
seeded database is kept as a dump under $NBF_WORK/cache, so a later run restores it in seconds instead of
seeding again. Then, each in its own process against the same NetBox: netboot.fleet.netbox_export's code path
(export.py), `ansible-inventory --list` with our inventory source (netboot.fleet.netbox), and the same with
netbox.netbox.nb_inventory (the usual configuration: interfaces, config context, custom fields). For each:
requests NetBox served (its access log), wall and CPU seconds (user + system of the process). Prints the
ratios nb_inventory / ours.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
INVENTORY = os.path.join(os.path.dirname(sys.executable), "ansible-inventory")
REPO = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(REPO, "tests"), HERE, os.path.join(REPO, "collections")]

import sot_gen  # noqa: E402
from netbox_container import STATE_ROOT, NetBoxContainer, build_image, image  # noqa: E402
from netbox_seed import Seeder  # noqa: E402

EXPORT_SCRIPT = r"""
import os, sys
from ansible_collections.netboot.fleet.plugins.module_utils.netbox import client, export, mapping
connection = client.Connection(os.environ["NBX_URL"], os.environ["NETBOX_TOKEN"], timeout=600)
nb = client.NetBoxClient(connection)
text, fleet = export.export(nb, mapping.Selection(), sys.argv[1], os.path.join(sys.argv[1], "netbox.yml"))
export.write_file(os.path.join(sys.argv[1], "netbox.yml"), text)
print(len(fleet.machines), nb.requests)
"""


def seeded_dump(machines: int, rack_size: int) -> str:
    with open(os.path.join(REPO, "tests", "images", "netbox", "VERSION"), encoding="utf-8") as handle:
        version = handle.read().strip()
    return os.path.join(STATE_ROOT, "cache", "nbx-netbox-%s-seeded-%d-%d.dump" % (version, machines, rack_size))


def seed(args, fleet) -> dict:
    """Seeds a fresh NetBox through its API and keeps the database as a dump; the seeding figures."""
    with NetBoxContainer("nbx-bench-seed-%d" % args.machines, args.http_port, args.redis_port) as netbox:
        started = time.monotonic()
        Seeder(netbox.url, netbox.token, parallel=3).fleet(fleet["networks"], fleet["machines"])
        seconds = time.monotonic() - started
        served = netbox.requests_served()
        netbox.save_database(args.dump)
    return {"seed_seconds": round(seconds, 1), "seed_requests": served}


def measure(netbox, command, env) -> dict:
    """Requests served, wall and CPU seconds of one process."""
    served = netbox.requests_served()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit("%s failed (rc=%d): %s" % (command[:3], result.returncode, result.stderr[-3000:]))
    return {"requests": netbox.requests_served() - served, "wall": round(wall, 2),
            "cpu": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2),
            "output": result.stdout}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=10000)
    parser.add_argument("--rack-size", type=int, default=40)
    parser.add_argument("--http-port", type=int, default=22081)
    parser.add_argument("--redis-port", type=int, default=22381)
    parser.add_argument("--seed-only", action="store_true", help="seed and keep the dump, measure nothing")
    args = parser.parse_args()
    args.dump = seeded_dump(args.machines, args.rack_size)
    fleet = sot_gen.generate(args.machines, args.rack_size, dual_stack_racks=2)
    build_image()
    figures = {"machines": args.machines, "image": image()}
    if not os.path.exists(args.dump):
        figures.update(seed(args, fleet))
    print(json.dumps(figures), flush=True)
    if args.seed_only:
        return
    measure_all(args, fleet, figures)


def measure_all(args, fleet, figures):
    with NetBoxContainer("nbx-bench-%d" % args.machines, args.http_port, args.redis_port, dump=args.dump) as netbox, \
            tempfile.TemporaryDirectory(prefix="nbx-bench-") as work:
        figures["start_seconds"] = round(netbox.start_seconds, 1)
        env = dict(os.environ, NETBOX_TOKEN=netbox.token, NBX_URL=netbox.url,
                   PYTHONPATH=os.path.join(REPO, "collections"), ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                   ANSIBLE_INVENTORY_CACHE="False", ANSIBLE_INVENTORY_ENABLED="netboot.fleet.netbox,netbox.netbox.nb_inventory")
        # The local part (fabric, DHCP nodes, profiles): one copy the export writes beside, one the inventory reads.
        for directory in ("sot", "export-sot"):
            os.makedirs(os.path.join(work, directory))
            with open(os.path.join(work, directory, "base.json"), "w", encoding="utf-8") as handle:
                json.dump({key: fleet[key] for key in ("fabric", "dhcp_nodes", "profiles")}, handle)
        ours = os.path.join(work, "fleet.netbox.yml")
        with open(ours, "w", encoding="utf-8") as handle:
            handle.write("plugin: netboot.fleet.netbox\nurl: %s\nsot: sot/\nexport_dir: %s/export\n" % (netbox.url, work))
        theirs = os.path.join(work, "nb.yml")
        with open(theirs, "w", encoding="utf-8") as handle:
            handle.write(NB_INVENTORY % netbox.url)
        runs = {
            "export": [sys.executable, "-c", EXPORT_SCRIPT, os.path.join(work, "export-sot")],
            "inventory": [INVENTORY, "-i", ours, "--list", "--output", os.path.join(work, "ours.json")],
            "nb_inventory": [INVENTORY, "-i", theirs, "--list", "--output", os.path.join(work, "theirs.json")],
        }
        for name, command in runs.items():
            result = measure(netbox, command, env)
            result.pop("output")
            figures[name] = result
            print(name, json.dumps(result), flush=True)
        with open(os.path.join(work, "theirs.json"), encoding="utf-8") as handle:
            theirs_hosts = len(json.load(handle)["_meta"]["hostvars"])
        with open(os.path.join(work, "ours.json"), encoding="utf-8") as handle:
            ours_hosts = len(json.load(handle)["_meta"]["hostvars"])
        figures["hosts"] = {"ours": ours_hosts, "nb_inventory": theirs_hosts}
        for ours_name in ("export", "inventory"):
            figures["nb_inventory/" + ours_name] = {
                key: round(figures["nb_inventory"][key] / max(figures[ours_name][key], 0.01), 1)
                for key in ("requests", "wall", "cpu")}
    print(json.dumps(figures, indent=1))


# What nb_inventory users configure to get what the SoT needs (MACs, OOB IPs, custom fields, racks).
NB_INVENTORY = """plugin: netbox.netbox.nb_inventory
api_endpoint: %s
validate_certs: false
config_context: true
interfaces: true
fetch_all: true
racks: true
max_uri_length: 4000
group_by: [racks, device_roles]
compose:
  bmc_address: oob_ip.address
  netboot_profile: custom_fields.netboot_profile
"""

if __name__ == "__main__":
    main()
