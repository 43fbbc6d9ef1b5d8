"""What each fast path buys: the path it sits on, timed with the fast path and with its reference, in one run.

    python benchmarks/fast_paths.py [--machines 100000] [--runs 5]

A fast path stays only while it saves at least 20 % of its path (CONTRIBUTING.md). Each run is a new process
(no warm caches carried over); the variants alternate, and the medians of process CPU seconds are compared:

  sot.load          machines_fast (fast path)  vs every record through records.build_machine (reference)
  sot.load          the cyclic GC paused        vs not paused
  PXE render        pxe/patterns.py             vs Jinja per machine (render.Templates.render, the reference)
  sot.route         a cached load (one file of the SoT changed) vs a full load and validation

The renders are compared byte for byte: a fast path that changes the output is a bug, reported as such.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "collections"))
sys.path.insert(0, HERE)

VARIANTS = {
    "sot.load": ("fast", "reference"),
    "sot.load gc": ("paused", "not-paused"),
    "pxe render": ("patterns", "jinja"),
    "route": ("cached", "full"),
}


def measure(path, variant, source):
    """One timing in this process: (CPU seconds, digest of the output)."""
    from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot
    from ansible_collections.netboot.fleet.plugins.module_utils.pxe import render as pxe
    from ansible_collections.netboot.fleet.plugins.module_utils.sot import cache, loader, route

    if path == "sot.load" and variant == "reference":
        loader.fast_machine_builder = lambda networks, profile_names: (lambda raw, source: None)
    if path == "sot.load gc" and variant == "not-paused":
        loader.cyclic_gc_paused = contextlib.nullcontext
    if path == "pxe render":
        fleet = sot.load(source)
        templates = pxe.Templates(pxe.read_templates())
        if variant == "jinja":
            templates.patterns.tests = {}
        start = time.process_time()
        files = pxe.Renderer(fleet, templates).render_all()
        seconds = time.process_time() - start
        digest = hashlib.sha256()
        for (root, name), data in sorted(files.items()):
            digest.update(("%s\0%s\0" % (root, name)).encode() + data)
        return seconds, digest.hexdigest()[:16]
    if path == "route":
        cache_dir = os.environ["FAST_PATHS_CACHE_DIR"]
        if variant == "full":
            start = time.process_time()
            fleet = sot.load(source)
        else:
            start = time.process_time()
            fleet = cache.load(source, route.cache_file_of(source, cache_dir)).sot
        return time.process_time() - start, str(len(fleet.machines))
    start = time.process_time()
    fleet = sot.load(source)
    return time.process_time() - start, str(len(fleet.machines))


def prepare_route(source, cache_dir):
    """A route cache of source, then one of its files changed (a machine renamed), as after an edit."""
    from ansible_collections.netboot.fleet.plugins.module_utils.sot import route
    route.load(source, cache_dir)
    rack = sorted(name for name in os.listdir(os.path.join(source, "racks")))[0]
    rack_file = os.path.join(source, "racks", rack)
    with open(rack_file, encoding="utf-8") as handle:
        data = json.load(handle)
    data["machines"][0]["name"] += "x"
    with open(rack_file, "w", encoding="utf-8") as handle:
        json.dump(data, handle)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--machines", type=int, default=100000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--one", nargs=3, metavar=("PATH", "VARIANT", "SOURCE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        seconds, digest = measure(*args.one)
        print(json.dumps([seconds, digest]), flush=True)
        os._exit(0)  # freeing 100k records at exit is not the path's work

    import sot_gen
    work = tempfile.mkdtemp(prefix="fast-paths-")
    try:
        source = os.path.join(work, "sot")
        sot_gen.write_sot_tree(source, sot_gen.generate(args.machines))
        env = dict(os.environ, FAST_PATHS_CACHE_DIR=os.path.join(work, "cache"))
        os.environ.update(env)
        prepare_route(source, env["FAST_PATHS_CACHE_DIR"])
        print("fast paths: %d machines, %d runs each, %s, load average %s" % (
            args.machines, args.runs, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            " ".join("%.1f" % value for value in os.getloadavg())), flush=True)
        for path, variants in VARIANTS.items():
            times, digests = {variant: [] for variant in variants}, {variant: set() for variant in variants}
            for _run in range(args.runs):
                for variant in variants:
                    out = subprocess.run([sys.executable, __file__, "--one", path, variant, source], env=env,
                                         check=True, capture_output=True, text=True).stdout
                    seconds, digest = json.loads(out.strip().splitlines()[-1])
                    times[variant].append(seconds)
                    digests[variant].add(digest)
            fast, reference = (statistics.median(times[variant]) for variant in variants)
            same = digests[variants[0]] == digests[variants[1]] and len(digests[variants[0]]) == 1
            saved = (reference - fast) / reference if reference else 0.0
            print("%-12s %-9s %.3f CPU s  %-10s %.3f CPU s  saves %5.1f %% of the path  %s  output %s" % (
                path, variants[0], fast, variants[1], reference, 100 * saved,
                "KEEP (>= 20 %)" if saved >= 0.20 else "below 20 %", "identical" if same else "DIFFERS"),
                flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
