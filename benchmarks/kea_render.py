"""Render 100,000 machines to Dhcp4 + Dhcp6 JSON (target: <= 5 s).

Generates the SoT (benchmarks/sot_gen.py when present), loads it once with sot.load, then
times kea.render + kea.dumps for both families. Baseline in the same run: json.dumps of the
finished configs alone (the floor any renderer pays to produce the text), and sot.load.

    python benchmarks/kea_render.py [--machines 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "collections"))
sys.path.insert(0, HERE)

from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.kea import config as kea  # noqa: E402

TARGET_SECONDS = 5.0


def write_generated_sot(path, machines):
    try:
        from sot_gen import write_sot
    except ImportError:
        write_sot = None
    if write_sot is not None:
        return write_sot(path, machines=machines, dual_stack_racks=4)
    # Fallback: racks of 40, IPv6 only, documentation prefixes.
    racks = (machines + 39) // 40
    data = {
        "fabric": {"anycast": {"ipv4": "203.0.113.53", "ipv6": "2001:db8:53::53"}, "asn": 65053},
        "profiles": {"p": {"installer": "preseed", "kernel": "k", "initrd": "i"}},
        "networks": [{"name": "r%05d" % r, "ipv6": {"prefix": "2001:db8:%x::/64" % (r + 0x100),
                                                    "gateway": "2001:db8:%x::1" % (r + 0x100)}}
                     for r in range(racks)],
        "machines": [{"name": "m%06d" % i, "mac": "52:54:%02x:%02x:%02x:%02x" % tuple(i.to_bytes(4, "big")),
                      "ipv6": "2001:db8:%x::%x" % (i // 40 + 0x100, i % 40 + 0x10), "network": "r%05d" % (i // 40),
                      "profile": "p", "firmware": "bios",
                      "bmc": {"address": "2001:db8:b::%x:%x" % divmod(i + 1, 0x10000), "protocol": "ipmi"}}
                     for i in range(machines)],
    }
    with open(path, "w") as handle:
        json.dump(data, handle)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--machines", type=int, default=100000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="nbk-render-") as tmp:
        path = write_generated_sot(os.path.join(tmp, "sot.json"), args.machines)
        start = time.perf_counter()
        loaded = sot.load(path)
        load_seconds = time.perf_counter() - start

    render_times, dump_times, sizes = [], [], {}
    texts = None
    for _repeat in range(args.repeat):
        start = time.perf_counter()
        configs = {family: kea.render(loaded, family) for family in kea.FAMILIES}
        rendered = {family: kea.dumps(config) for family, config in configs.items()}
        render_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        for config in configs.values():
            json.dumps(config, sort_keys=True, separators=(",", ":"))
        dump_times.append(time.perf_counter() - start)
        if texts is not None and texts != rendered:
            raise SystemExit("two renders of the same SoT differ")
        texts = rendered
    sizes = {family: len(text) for family, text in texts.items()}
    counts = {family: {"reservations": sum(len(s["reservations"]) for s in next(iter(c.values()))[
        "subnet4" if family == "dhcp4" else "subnet6"]), "subnets": len(next(iter(c.values()))[
            "subnet4" if family == "dhcp4" else "subnet6"])} for family, c in configs.items()}
    best, floor = min(render_times), min(dump_times)
    print("machines: %d  counts: %s" % (args.machines, json.dumps(counts, sort_keys=True)))
    print("sot.load: %.2f s (baseline, not part of the render)" % load_seconds)
    print("render+dumps Dhcp4+Dhcp6: best %.2f s of %s  (%.1f MB + %.1f MB)"
          % (best, ["%.2f" % t for t in render_times], sizes["dhcp4"] / 1e6, sizes["dhcp6"] / 1e6))
    print("json.dumps alone (floor): %.2f s  -> render/floor ratio %.2f" % (floor, best / floor))
    print("target %.1f s -> render/target ratio %.2f (%s)"
          % (TARGET_SECONDS, best / TARGET_SECONDS, "PASS" if best <= TARGET_SECONDS else "FAIL"))
    print("byte-identical across %d renders: yes" % args.repeat)
    return 0 if best <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
