"""How the SoT loader and the netboot.fleet.sot inventory plugin scale, against baselines in the same run.

Generates a valid SoT (racks of 40, a network per rack), then measures wall time and peak RSS of:
  - the loader alone (load + validate, no Ansible);
  - `ansible-inventory --graph` and `--list` with the plugin, with a floor plugin that only does
    add_host + one set_variable per host (benchmarks/floor_plugin/: the same per-host dict as the
    plugin's, and the cyclic garbage collector paused as in the plugin), and with a static YAML
    inventory holding the same hosts and variables.
Prints the ratios plugin / floor. Targets (issue 2): loader <= 3 s; plugin <= 1.3x the floor for
--graph and --list; <= 1 GB.

    python benchmarks/inventory_scale.py                 # 100,000 machines
    python benchmarks/inventory_scale.py --machines 20000 --static-timeout 120
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "collections"))

from sot_gen import write_sot  # noqa: E402  (benchmarks/ is not a package)

# Times sot.load itself: interpreter start, imports and freeing everything at exit are not the loader's work.
LOADER = """
import sys, time
sys.path.insert(0, {collections!r})
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot
wall, cpu = time.perf_counter(), time.process_time()
fleet = sot.load({source!r})
print(time.perf_counter() - wall, time.process_time() - cpu, len(fleet.machines))
"""
# The loader's own baseline: only parsing the same file, no records, no validation.
JSON_ONLY = """
import json
with open({source!r}, encoding="utf-8") as handle:
    print(len(json.load(handle)["machines"]))
"""


def run(argv, timeout, env=None, output=None):
    """(wall seconds, peak RSS in MB, exit status, CPU seconds) of one command; status None if it timed out.
    output: a file for the command's standard output (else it is discarded)."""
    started = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        process = subprocess.Popen(argv, stdout=output or devnull, stderr=subprocess.PIPE, env=env, cwd=REPO)
    deadline = started + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            elapsed = time.perf_counter() - started
            if status:
                sys.stderr.write(process.stderr.read().decode(errors="replace")[-2000:])
            return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime
        if time.perf_counter() > deadline:
            process.kill()
            process.wait()
            return timeout, None, None, None
        time.sleep(0.05)


def static_inventory(sot_path, out_path):
    """The same hosts, groups and variables as the plugin gives, as a static YAML inventory."""
    from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot
    fleet = sot.load(sot_path)
    networks = {}
    for machine in fleet.machines:
        networks.setdefault(machine.network, {})[machine.name] = {
            "ansible_host": machine.address, "netboot": machine.as_dict()}
    inventory = {"all": {"children": {
        "dhcp_nodes": {"hosts": {n.name: {"ansible_host": n.address, "netboot": n.as_dict()} for n in fleet.dhcp_nodes}},
        "machines": {"children": {name: {"hosts": hosts} for name, hosts in networks.items()}},
    }}}
    with open(out_path, "w", encoding="utf-8") as handle:
        yaml.dump(inventory, handle, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper))


def write_inputs(workdir, machines):
    """The generated SoT and the three inventory sources the benchmark compares."""
    sot_path = write_sot(os.path.join(workdir, "sot.json"), machines)
    with open(os.path.join(workdir, "fleet.sot.yml"), "w", encoding="utf-8") as handle:
        json.dump({"plugin": "netboot.fleet.sot", "source": sot_path}, handle)
    with open(os.path.join(workdir, "fleet.floor.yml"), "w", encoding="utf-8") as handle:
        json.dump({"plugin": "floor", "source": sot_path}, handle)
    static_inventory(sot_path, os.path.join(workdir, "static.yml"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--machines", type=int, default=100000)
    parser.add_argument("--timeout", type=float, default=900, help="per ansible-inventory run (s)")
    parser.add_argument("--static-timeout", type=float, default=300,
                        help="per static-YAML run (s); at 100k it is known not to finish in 20 min")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--write-inputs", nargs=2, metavar=("WORKDIR", "MACHINES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_inputs:
        write_inputs(args.write_inputs[0], int(args.write_inputs[1]))
        return 0

    workdir = args.workdir or tempfile.mkdtemp(prefix="nbf-inventory-scale-")
    os.makedirs(workdir, exist_ok=True)
    # In a child process: Linux reports a child's peak RSS as at least what its parent had when it
    # forked, so this process must stay small for the RSS figures to mean anything.
    subprocess.run([sys.executable, __file__, "--write-inputs", workdir, str(args.machines)], check=True)
    sot_path = os.path.join(workdir, "sot.json")

    env = dict(os.environ, ANSIBLE_INVENTORY_PLUGINS=os.path.join(HERE, "floor_plugin"),
               ANSIBLE_INVENTORY_ENABLED="netboot.fleet.sot,floor,yaml", ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
    inventory_cli = os.path.join(os.path.dirname(sys.executable), "ansible-inventory")
    print("netboot.fleet inventory scale: %d machines, %s (%s)" % (
        args.machines, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), workdir), flush=True)

    # Each figure is printed as soon as it is measured: a 100k run takes long on a shared machine.
    def show(label, result):
        seconds, rss, status, cpu = result
        if seconds is None:
            print("  %-22s %s" % (label, status), flush=True)
        elif status is None:
            print("  %-22s did not finish in %.0f s" % (label, seconds), flush=True)
        else:
            failure = "" if status == 0 else "  exit %s" % status
            print("  %-22s %7.2f s  %6.0f MB  (CPU %.2f s)%s" % (label, seconds, rss, cpu, failure), flush=True)

    results = {}
    # The machine is shared: a fixed amount of pure-Python work tells how fast the CPU is during this run.
    results["reference"] = run([sys.executable, "-c", "sum(range(10**8))"], args.timeout)
    show("sum(range(10**8))", results["reference"])
    loader = [sys.executable, "-c", LOADER.format(collections=os.path.join(REPO, "collections"), source=sot_path)]
    with tempfile.TemporaryFile() as output:
        results["loader"] = run(loader, args.timeout, output=output)
        output.seek(0)
        load_wall, load_cpu = (float(value) for value in output.read().split()[:2])
    show("loader process", results["loader"])
    print("  %-22s %7.2f s            (CPU %.2f s)" % ("sot.load in it", load_wall, load_cpu), flush=True)
    results["json"] = run([sys.executable, "-c", JSON_ONLY.format(source=sot_path)], args.timeout)
    show("json.load alone", results["json"])
    # Interleave plugin and floor so that a noisy neighbour hurts both alike.
    for mode in ("--graph", "--list"):
        for name, path, timeout in (("floor", "fleet.floor.yml", args.timeout),
                                    ("plugin", "fleet.sot.yml", args.timeout),
                                    ("static", "static.yml", args.static_timeout)):
            if name == "static" and mode == "--list" and results[("static", "--graph")][2] is None:
                results[(name, mode)] = (None, None, "skipped: --graph did not finish", None)
                continue
            results[(name, mode)] = run([inventory_cli, "-i", os.path.join(workdir, path), mode], timeout, env)
            show("%s %s" % (name, mode), results[(name, mode)])

    failed = [key for key, value in results.items() if value[2] not in (0, None) and value[0] is not None]
    for mode in ("--graph", "--list"):
        plugin, floor = results[("plugin", mode)], results[("floor", mode)]
        if plugin[2] == 0 and floor[2] == 0:
            ratio = plugin[0] / floor[0]
            print("  ratio plugin/floor %-7s %.2fx time (%.2fx CPU), %.2fx RSS  (target <= 1.3x, <= 1024 MB: %s)" % (
                mode, ratio, plugin[3] / floor[3], plugin[1] / floor[1],
                "met" if ratio <= 1.3 and plugin[1] <= 1024 else "MISSED"))
    print("  loader alone (sot.load) %.2f s, its process %.2f s = %.1fx the json.load process (target <= 3 s: %s); "
          "sum(range(10**8)) %.2f s in this run (4.2 s on a quiet machine)"
          % (load_wall, results["loader"][0], results["loader"][0] / results["json"][0],
             "met" if load_wall <= 3 else "MISSED", results["reference"][0]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
