"""NetBox at scale: our export and inventory source against netbox.netbox.nb_inventory, on the same NetBox.

    python benchmarks/netbox_scale.py --machines 10000

A real NetBox (tests/images/netbox) is seeded through its REST API with a generated fleet (sot_gen.py), in stages
of --stage machines (whole racks). The database is kept as a dump under $NBF_WORK/cache after every stage: a later
run restores it in seconds, and a seed stopped midway (it is slow: benchmarks/README.md) goes on from its last
stage. The first N machines of a larger fleet are the fleet of N, so a stage's dump is also the seeded dump of that
many machines. Then, each in its own process against the same NetBox: netboot.fleet.netbox_export's code path
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


def seeding_figures(dump: str) -> dict:
    """What seeding dump cost, summed over the runs that made it (its .json beside it)."""
    try:
        with open(dump + ".json", encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return {}


def last_stage(args) -> int:
    """The most machines of this fleet a dump of an earlier stage holds (0: none), whatever its --stage was."""
    return max((seeded for seeded in range(args.rack_size, args.machines, args.rack_size)
                if os.path.exists(seeded_dump(seeded, args.rack_size))), default=0)


def seed(args, fleet) -> dict:
    """Seeds NetBox through its API up to args.machines, a stage at a time, from the last stage's dump if there
    is one; keeps a dump (and its seeding figures) after every stage, the previous one removed."""
    seeded = last_stage(args)
    previous = seeded_dump(seeded, args.rack_size) if seeded else None
    figures = {"seed_seconds": 0.0, "seed_requests": 0}
    if previous:
        figures.update(seeding_figures(previous))  # none for a dump of an older version of this script
    networks = {network["name"]: network for network in fleet["networks"]}
    with NetBoxContainer("%s-bench-seed" % args.prefix, args.http_port, args.redis_port, dump=previous) as netbox:
        seeder = Seeder(netbox.url, netbox.token, parallel=3)
        while seeded < args.machines:
            stage = fleet["machines"][seeded:seeded + args.stage]
            stage_racks = sorted({machine["rack"] for machine in stage})
            served, started = netbox.requests_served(), time.monotonic()
            seeder.fleet([networks[rack] for rack in stage_racks], stage)
            figures["seed_seconds"] = round(figures["seed_seconds"] + time.monotonic() - started, 1)
            figures["seed_requests"] += netbox.requests_served() - served
            seeded += len(stage)
            dump = seeded_dump(seeded, args.rack_size)
            netbox.save_database(dump)
            with open(dump + ".json", "w", encoding="utf-8") as handle:
                json.dump(figures, handle)
            for stale in (previous, previous + ".json") if previous else ():
                if os.path.exists(stale):
                    os.remove(stale)
            previous = dump
            print(json.dumps(dict(figures, seeded=seeded, at=time.strftime("%H:%M:%S"))), flush=True)
    return figures


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
    parser.add_argument("--stage", type=int, default=400, help="machines seeded between two dumps (whole racks)")
    parser.add_argument("--http-port", type=int, default=22081)
    parser.add_argument("--redis-port", type=int, default=22381)
    parser.add_argument("--prefix", default="nbx", help="of the container names")
    parser.add_argument("--seed-only", action="store_true", help="seed and keep the dump, measure nothing")
    args = parser.parse_args()
    if args.stage % args.rack_size:
        parser.error("--stage must be a whole number of racks (--rack-size %d)" % args.rack_size)
    args.dump = seeded_dump(args.machines, args.rack_size)
    fleet = sot_gen.generate(args.machines, args.rack_size, dual_stack_racks=2)
    build_image()
    figures = {"machines": args.machines, "image": image()}
    if os.path.exists(args.dump):
        figures.update(seeding_figures(args.dump))
    else:
        figures.update(seed(args, fleet))
    print(json.dumps(figures), flush=True)
    if args.seed_only:
        return
    measure_all(args, fleet, figures)


def measure_all(args, fleet, figures):
    with NetBoxContainer("%s-bench-%d" % (args.prefix, args.machines), args.http_port, args.redis_port, dump=args.dump) as netbox, \
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
