"""Generate a valid, large source of truth for benchmarks.

Racks of `rack_size` machines, one network per rack. Addresses come only from the
documentation ranges: every rack gets an IPv6 /64 inside 2001:db8::/32, and up to four
racks (the /26s of 198.51.100.0/24) are dual-stack; 192.0.2.0/24 holds the DHCP nodes and
203.0.113.0/24 the anycast address. BMCs get IPv6 addresses in 2001:db8:b::/48.

    python benchmarks/sot_gen.py --machines 100000 --out /tmp/sot.json
    python benchmarks/sot_gen.py --machines 100000 --by-rack --out /tmp/sot.d
"""

import argparse
import ipaddress
import json
import os

FIRMWARES = ("bios", "uefi", "uefi-http")
# The IPv4 documentation space left for machines once nodes and anycast have theirs.
IPV4_RACK_PREFIXES = list(ipaddress.ip_network("198.51.100.0/24").subnets(new_prefix=26))
BMC_PREFIX = ipaddress.ip_network("2001:db8:b::/96")


def mac(index):
    return "52:54:%02x:%02x:%02x:%02x" % tuple(index.to_bytes(4, "big"))


def generate(machines=100000, rack_size=40, dual_stack_racks=2):
    """The SoT as a dict. dual_stack_racks racks (at most 4) also get IPv4."""
    if dual_stack_racks > len(IPV4_RACK_PREFIXES):
        raise ValueError("only %d IPv4 rack prefixes in the documentation ranges" % len(IPV4_RACK_PREFIXES))
    racks = (machines + rack_size - 1) // rack_size
    networks = []
    for rack in range(racks):
        network = {
            "name": "r%05d" % rack,
            "ipv6": {"prefix": "2001:db8:%x::/64" % (rack + 0x100), "gateway": "2001:db8:%x::1" % (rack + 0x100)},
            "dns_servers": ["2001:db8::53"],
            "domain": "r%05d.example.net" % rack,
        }
        if rack < dual_stack_racks:
            prefix = IPV4_RACK_PREFIXES[rack]
            network["ipv4"] = {"prefix": str(prefix), "gateway": str(prefix[1])}
            network["dns_servers"] = ["192.0.2.53", "2001:db8::53"]
        networks.append(network)
    machine_records = []
    for index in range(machines):
        rack, slot = divmod(index, rack_size)
        record = {
            "name": "m%06d" % index,
            "mac": mac(index),
            "ipv6": "2001:db8:%x::%x" % (rack + 0x100, slot + 0x10),
            "network": "r%05d" % rack,
            "rack": "r%05d" % rack,
            "profile": ("debian12", "rocky9", "ubuntu2404")[index % 3],
            # Legacy BIOS PXE is IPv4 only: IPv6-only machines boot UEFI.
            "firmware": FIRMWARES[index % 3] if rack < dual_stack_racks else FIRMWARES[1 + index % 2],
            # Canonical text (RFC 5952), as the loader keeps it.
            "bmc": {"address": str(BMC_PREFIX[index + 1]), "protocol": "ipmi"},
        }
        if rack < dual_stack_racks:
            record["ipv4"] = str(IPV4_RACK_PREFIXES[rack][slot + 10])
        machine_records.append(record)
    return {
        "fabric": {"anycast": {"ipv4": "203.0.113.53", "ipv6": "2001:db8:53::53"}, "asn": 65053},
        "dhcp_nodes": [
            {"name": "dhcp-a1", "address": "192.0.2.1", "peers": [{"address": "192.0.2.0", "asn": 65000}]},
            {"name": "dhcp-a2", "address": "192.0.2.3", "peers": [{"address": "192.0.2.2", "asn": 65000}]},
        ],
        "profiles": {
            "debian12": {"installer": "preseed", "kernel": "debian12/linux", "initrd": "debian12/initrd.gz"},
            "rocky9": {"installer": "kickstart", "kernel": "rocky9/vmlinuz", "initrd": "rocky9/initrd.img"},
            "ubuntu2404": {"installer": "autoinstall", "kernel": "ubuntu2404/vmlinuz", "initrd": "ubuntu2404/initrd"},
        },
        "networks": networks,
        "machines": machine_records,
    }


def write_sot(path, machines=100000, rack_size=40, dual_stack_racks=2):
    """Write the generated SoT as JSON (the format a large inventory export would use); return path."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(generate(machines, rack_size, dual_stack_racks), handle, separators=(",", ":"))
    return path


def split_by_rack(data):
    """{relative file name: content}: the shared records in common.json, each rack's network and machines
    in racks/<network>.json - the layout of a SoT that is edited (or exported) one rack at a time."""
    files = {"common.json": {key: data[key] for key in ("fabric", "dhcp_nodes", "profiles")}}
    racks = {network["name"]: {"networks": [network], "machines": []} for network in data["networks"]}
    for machine in data["machines"]:
        racks[machine["network"]]["machines"].append(machine)
    files.update(("racks/%s.json" % name, rack) for name, rack in racks.items())
    return files


def write_sot_tree(directory, data, only=None):
    """Write split_by_rack(data) below directory (only the files named in only, when given); return directory."""
    for name, content in split_by_rack(data).items():
        if only is not None and name not in only:
            continue
        path = os.path.join(directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(content, handle, separators=(",", ":"))
    return directory


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--machines", type=int, default=100000)
    parser.add_argument("--rack-size", type=int, default=40)
    parser.add_argument("--dual-stack-racks", type=int, default=2)
    parser.add_argument("--out", required=True)
    parser.add_argument("--by-rack", action="store_true", help="write a directory: common.json + racks/<rack>.json")
    args = parser.parse_args()
    if args.by_rack:
        print(write_sot_tree(args.out, generate(args.machines, args.rack_size, args.dual_stack_racks)))
    else:
        print(write_sot(args.out, args.machines, args.rack_size, args.dual_stack_racks))


if __name__ == "__main__":
    main()
