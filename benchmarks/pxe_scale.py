"""PXE assets at scale: render + sync for N machines (default 100,000) into a local directory.

Runs, in one process, against one generated SoT (benchmarks/sot_gen.py):
  1. first run       empty roots -> every file written
  2. no-change run   same SoT -> target: zero writes
  3. one-change run  one machine's address changed -> target: only its files written
and baselines measured in the same run:
  - floor:         plain Python writing the same 300,001 files (same sizes, same directory layout,
                   os.open/os.write, one mkdir per directory) into an empty tree: what the kernel and
                   the disk cost here and now, measured right before the first run and again after
                   the sync runs (nothing is deleted in between: on this ext4 without a journal, file
                   creation within 30 s of a large delete is several times slower, the inode
                   allocator skips recently freed inodes);
  - naive render:  a Jinja2 Environment + template compile per machine (how a per-host
                   `template` task renders), on a sample of machines, extrapolated per machine;
  - full rewrite:  render everything and atomically rewrite every file (no compare, no manifest),
                   what a "regenerate all" sync does on every change.
Anchor (same machine, from the issue): Cobbler 3.3.10 full sync 5,000 systems 73 s (~13 ms/system),
adding one system 5.3 s.

    python benchmarks/pxe_scale.py                 # 100,000 machines
    python benchmarks/pxe_scale.py --machines 5000 --workers 1
"""

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "collections"))
sys.path.insert(0, HERE)

from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import sync as asset_sync  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import layout  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.pxe import render as pxe  # noqa: E402

import sot_gen  # noqa: E402

COBBLER_MS_PER_SYSTEM = 73000.0 / 5000
COBBLER_ADD_ONE_S = 5.3


def snapshot(roots):
    """{(root, path): (inode, mtime_ns)}: a file written (atomically) gets a new inode."""
    files = {}
    for name, root in roots.items():
        for current, _dirs, names in os.walk(root):
            relative = os.path.relpath(current, root)
            for file_name in names:
                info = os.lstat(os.path.join(current, file_name))
                files[(name, os.path.join(relative, file_name))] = (info.st_ino, info.st_mtime_ns)
    return files


def written(before, after):
    return sorted(key for key, value in after.items() if before.get(key) != value)


CPU = {}  # the CPU seconds (this process and its workers) of the last timed() call


def timed(function, *args, **kwargs):
    """Wall seconds and the value. The machine is shared: CPU["last"] is the load-independent part."""
    before = os.times()
    start = time.perf_counter()
    value = function(*args, **kwargs)
    elapsed = time.perf_counter() - start
    after = os.times()
    CPU["last"] = sum(after[:4]) - sum(before[:4])
    CPU["user"] = after[0] + after[2] - before[0] - before[2]
    CPU["sys"] = after[1] + after[3] - before[1] - before[3]
    return elapsed, value


def cpu():
    return "cpu %.1f s" % CPU["last"]


def cpu_split():
    return "cpu %.1f s: user %.1f, sys %.1f" % (CPU["last"], CPU["user"], CPU["sys"])


def cpu_reference():
    """Seconds of `python3 -c 'sum(range(10**8))'` in this process, printed at the start and the end: how fast the
    shared machine runs the interpreter loop right now (4.2-4.4 s when quiet). Only a hint for this benchmark:
    rendering and file creation are allocation- and system-call-bound and do not scale with it (benchmarks/README.md)."""
    start = time.perf_counter()
    sum(range(10 ** 8))
    return time.perf_counter() - start


def inputs_digest(source, texts):
    """What the module digests: the SoT bytes, the templates (options are fixed here)."""
    digest = hashlib.sha256(json.dumps(texts, sort_keys=True).encode("utf-8"))
    with open(source, "rb") as handle:
        digest.update(handle.read())
    return digest.hexdigest()


def render_and_sync(source, fleet, texts, roots, state_file, workers):
    """The module's flow minus sot.load (timed on its own): digest, then units only when needed."""
    def units():
        templates = pxe.Templates(texts, pxe.read_profile_templates(fleet))
        return pxe.Renderer(fleet, templates).units()
    return asset_sync.sync(roots, layout.OWNED, units, state_file=state_file, workers=workers,
                           inputs=inputs_digest(source, texts))


def naive_render_per_machine(fleet, texts, sample):
    """Baseline: a fresh Environment and compile for every machine and template."""
    start = time.perf_counter()
    for machine in fleet.machines[:sample]:
        templates = pxe.Templates(texts)  # a new Environment, every template compiled again
        pxe.Renderer(dataclasses.replace(fleet, machines=(machine,)), templates).machine_files(machine)
    return (time.perf_counter() - start) / sample


def plain_writes(files, base):
    """The floor: the rendered tree written by the simplest Python (no compare, no manifest, no temp files)."""
    made = set()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for (root, path), data in files.items():
        target = "%s/%s/%s" % (base, root, path)
        directory = target.rpartition("/")[0]
        if directory not in made:
            os.makedirs(directory, exist_ok=True)
            made.add(directory)
        handle = os.open(target, flags, 0o644)
        os.write(handle, data)
        os.close(handle)
    return len(files)


def full_rewrite(fleet, texts, roots):
    """Baseline: render everything, rewrite every file atomically (what regenerate-all does)."""
    renderer = pxe.Renderer(fleet, pxe.Templates(texts))
    tree = asset_sync.Tree(roots, layout.OWNED)
    count = 0
    for unit in renderer.units():
        for (root, path), data in unit.render().items():
            target = tree.check_path(root, path)
            tree.ensure_dir(os.path.dirname(target), False)
            tree.write(target, data)
            count += 1
    return count


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--machines", type=int, default=100000)
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--naive-sample", type=int, default=300)
    parser.add_argument("--dir", default="/var/tmp", help="where the temporary roots go (a local disk)")
    parser.add_argument("--skip-full-rewrite", action="store_true")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still clean up the temporary tree
    print("cpu reference  sum(range(10**8)) %.1f s (start)" % cpu_reference())
    work = tempfile.mkdtemp(prefix="nbp-bench-", dir=args.dir)
    try:
        source = sot_gen.write_sot(os.path.join(work, "sot.json"), args.machines)
        load_s, fleet = timed(sot.load, source)
        texts = pxe.read_templates()
        roots = {layout.TFTP: os.path.join(work, "tftp"), layout.HTTP: os.path.join(work, "http")}
        for path in roots.values():
            os.mkdir(path)
        state = os.path.join(work, "state", "pxe-assets.json")
        print("machines %d, workers %d, load average %s, SoT load %.1f s (sot.load, not part of the figures below)"
              % (len(fleet.machines), args.workers, "/".join("%.1f" % x for x in os.getloadavg()), load_s))

        # The floor right before the first run (nothing is deleted in between: see the docstring).
        tree = timed(lambda: pxe.Renderer(fleet, pxe.Templates(texts)).render_all())[1]
        render_cpu = CPU["last"]
        floor_s, floor_files = timed(plain_writes, tree, os.path.join(work, "floor-before"))
        floor_cpu, floor_sys = CPU["last"], CPU["sys"]
        print("floor before   %6.2f s  (%s) %d files: plain os.open/os.write of the rendered tree, same layout"
              % (floor_s, cpu_split(), floor_files))
        first_s, first = timed(render_and_sync, source, fleet, texts, roots, state, args.workers)
        files = first.counts["added"]
        first_cpu = dict(CPU)
        print("first run      %6.2f s  (%s) %d files written (%.1f us/file, %.3f ms/machine)  target <= 10 s"
              % (first_s, cpu_split(), files, first_s / files * 1e6, first_s / len(fleet.machines) * 1e3))

        before = snapshot(roots)
        second_s, second = timed(render_and_sync, source, fleet, texts, roots, state, args.workers)
        writes = written(before, snapshot(roots))
        print("no-change run  %6.2f s  (%s) changed=%s, %d files written, %d units rendered  target <= 3 s, 0 writes"
              % (second_s, cpu(), second.changed, len(writes), second.units_rendered))

        victim = fleet.machines[len(fleet.machines) // 2]
        moved = dataclasses.replace(victim, ipv6=victim.ipv6.rsplit("::", 1)[0] + "::fff0")  # unused in its /64
        changed_fleet = dataclasses.replace(fleet, machines=tuple(moved if m is victim else m for m in fleet.machines))
        expected = sorted(key for key, data in pxe.Renderer(changed_fleet, pxe.Templates(texts))
                          .machine_files(moved).items()
                          if data != pxe.Renderer(fleet, pxe.Templates(texts)).machine_files(victim)[key])
        changed_source = os.path.join(work, "sot-changed.json")
        with open(source) as handle:
            data = json.load(handle)
        for record in data["machines"]:
            if record["name"] == victim.name:
                record["ipv6"] = moved.ipv6
        with open(changed_source, "w") as handle:
            json.dump(data, handle, separators=(",", ":"))
        reload_s, reloaded = timed(sot.load, changed_source)
        assert reloaded.machines == tuple(dataclasses.replace(m, source=changed_source) for m in changed_fleet.machines)
        before = snapshot(roots)
        one_s, one = timed(render_and_sync, changed_source, changed_fleet, texts, roots, state, args.workers)
        writes = written(before, snapshot(roots))
        print("one-change run %6.2f s  (%s) %d files written %s (expected exactly %s: %s)"
              % (one_s, cpu(), len(writes), ["%s:%s" % key for key in writes], len(expected),
                 "OK" if [(r, os.path.normpath(p)) for r, p in writes] == expected else "MISMATCH"))
        print("               (+ %.1f s sot.load of the changed SoT in the module; the no-change run skips it)"
              % reload_s)

        after_s, _count = timed(plain_writes, tree, os.path.join(work, "floor-after"))
        del tree
        print("floor after    %6.2f s  (%s) same files again, after the sync runs" % (after_s, cpu_split()))
        floor_s = min(floor_s, after_s)
        floor_cpu = min(floor_cpu, CPU["last"])
        print("first run split render %.1f CPU s (all machines, one process, in memory); first run sys %.1f s "
              "vs floor sys %.1f s" % (render_cpu, first_cpu["sys"], floor_sys))
        print("ratios         first run / floor (the faster of the two): wall %.2fx, CPU %.2fx; "
              "render + floor = %.1f CPU s" % (first_s / floor_s, first_cpu["last"] / floor_cpu, render_cpu + floor_cpu))
        per_machine_naive = naive_render_per_machine(fleet, texts, args.naive_sample)
        renderer = pxe.Renderer(fleet, pxe.Templates(texts))
        sample = fleet.machines[:args.naive_sample * 10]
        compiled_s, _rendered = timed(lambda: [renderer.machine_files(m) for m in sample])
        per_machine_compiled = compiled_s / len(sample)
        print("render only    compile-once %.3f ms/machine vs naive compile-per-machine %.3f ms/machine "
              "(sample %d): %.1fx faster" % (per_machine_compiled * 1e3, per_machine_naive * 1e3, args.naive_sample,
                                             per_machine_naive / per_machine_compiled))
        if not args.skip_full_rewrite:
            rewrite_s, count = timed(full_rewrite, fleet, texts, roots)
            print("full rewrite   %6.2f s  (%s) %d files (baseline: regenerate everything on every change)"
                  % (rewrite_s, cpu(), count))
            print("ratios         no-change %.0fx faster than full rewrite, one-change %.0fx faster"
                  % (rewrite_s / second_s, rewrite_s / one_s))
        print("vs Cobbler     full sync %.3f ms/machine vs %.1f ms/system (%.1fx); one change %.2f s at %d machines "
              "vs %.1f s for one system added at 5,000 (%.1fx)"
              % (first_s / len(fleet.machines) * 1e3, COBBLER_MS_PER_SYSTEM,
                 COBBLER_MS_PER_SYSTEM / (first_s / len(fleet.machines) * 1e3), one_s, len(fleet.machines),
                 COBBLER_ADD_ONE_S, COBBLER_ADD_ONE_S / one_s))
        print("cpu reference  sum(range(10**8)) %.1f s (end), load average %s"
              % (cpu_reference(), "/".join("%.1f" % x for x in os.getloadavg())))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
