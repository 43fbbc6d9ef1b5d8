"""Shared leases: DORA/s with the PostgreSQL lease database vs memfile on the same node, and the
failover time distribution (primary crash -> standby promoted -> first lease served again).

Both on tests/integration/leases/leases_lab.py: two Kea nodes in namespaces, PostgreSQL 15 primary +
synchronous standby (Debian clusters, set up by playbooks/bringup.yml's database plays), Kea configured
by kea_config, libpq following the writable server (PGTARGETSESSIONATTRS=read-write).

    python benchmarks/kea_leases.py dora [--rounds 4] [--seconds 5] [--rates 1000 1250 ... 4000] [--clients 150]
                                         [--threads 8] [--synchronous-commit on remote_write]
    python benchmarks/kea_leases.py writes [--rounds 4] [--seconds 8] [--leases 200] [--connections 8]
    python benchmarks/kea_leases.py failover [--runs 5]

dora: perfdhcp relays DORAs for --clients distinct clients (a rack's worth; each client's packets are
handled one at a time by Kea, so a handful of clients would measure one client's round trip, not the server)
to node q1. The embedded SoT with rack12's IPv4 network widened to 198.51.100.0/24 (a 191-address pool), so
every client keeps its lease and every ACK writes it (the lease is updated). Each mode's capacity is the
highest DORA/s over a ramp of offered rates (stopped once a rate completes less than 90 % of what was
offered): a fixed offered rate would cap the faster mode at that rate. Rounds alternate memfile / postgresql
(ABBA), the server durable (fsync on, synchronous commit to the standby) with leases_lab.TUNING, once per
synchronous_commit value (on: the standby flushed the commit; remote_write: the standby wrote it, so only a
crash of both machines' operating systems loses it, not the primary's loss); the ratio is taken between
each mode's best round and printed with the mean ratio.
writes: lease updates/s on the primary alone (pgbench, Kea's UPDATE of a renewed lease, as the lease user),
ABBA with Kea 2.2's isJsonSupported() as the kea_hostsdb role leaves it and as Kea ships it.
failover: a loop leases new DHCPv6 clients through both nodes; the primary is killed
(pg_ctlcluster stop -m immediate), the standby promoted with the kea_db_replication role's promote
tasks; the outage (crash to the first lease of an exchange started after it) is printed with the
promotion's own time, measured in the same run, as the baseline.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "leases"))

import leases_lab  # noqa: E402  (first: it puts the collection and the Kea test helpers on the path)
import lease_clients  # noqa: E402
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot  # noqa: E402

GIADDR, LINK6 = "198.51.100.1", "2001:db8:13::1"
# rack12's IPv4 network for the DORA benchmark: room for a rack's worth of clients, each keeping its lease.
WIDE_RACK12 = {"prefix": "198.51.100.0/24", "gateway": GIADDR, "pool": "198.51.100.64-198.51.100.254"}


def perfdhcp(netns, clients, rate, seconds):
    proc = subprocess.run(["ip", "netns", "exec", netns, "perfdhcp", "-4", "-l", GIADDR, "-L", "67",
                           "-R", str(clients), "-r", str(rate), "-p", str(seconds), "-W", "300000",
                           leases_lab.kea_lab.ANYCAST4], capture_output=True, text=True, timeout=seconds + 60,
                          check=False)
    match = re.search(r"Rate: ([0-9.]+)", proc.stdout)
    if not match:
        raise RuntimeError("perfdhcp gave no rate: %s %s" % (proc.stdout[-500:], proc.stderr[-500:]))
    return float(match.group(1)), [int(d) for d in re.findall(r"drops: (\d+)", proc.stdout)]


def load_average():
    with open("/proc/loadavg", encoding="ascii") as handle:
        return handle.read().split()[0]


def set_synchronous_commit(lab, value):
    """The primary's synchronous_commit, reloaded: Kea's open sessions take it at their next transaction."""
    with lab.primary.connect(dbname="postgres", autocommit=True) as connection:
        connection.execute("ALTER SYSTEM SET synchronous_commit = '%s'" % value)  # one of the argument's choices
        connection.execute("SELECT pg_reload_conf()")


PGBENCH = "/usr/lib/postgresql/%s/bin/pgbench" % leases_lab.VERSION
# The kea_hostsdb role's fix of Kea 2.2's trigger check, and the check as Kea ships it (--as-shipped).
JSON_CHECK = os.path.join(REPO, "roles", "kea_hostsdb", "files", "json_supported.sql")
REMEMBERED = "get_session_value('kea.json_supported') IS NULL"
AS_SHIPPED = "get_session_value('json_supported') IS NULL"


def set_json_check(lab, as_shipped):
    """Kea's isJsonSupported() as the role leaves it, or as Kea 2.2 ships it (never remembering its answer)."""
    with open(JSON_CHECK, encoding="utf-8") as handle:
        fixed = handle.read()
    if REMEMBERED not in fixed:
        raise RuntimeError("%s no longer holds %s" % (JSON_CHECK, REMEMBERED))
    with lab.primary.connect(autocommit=True) as connection:
        connection.execute(fixed.replace(REMEMBERED, AS_SHIPPED) if as_shipped else fixed)


def wide_sot(directory):
    """The embedded SoT with rack12's IPv4 network widened (WIDE_RACK12), written under directory."""
    for name in os.listdir(leases_lab.kea_lab.EMBEDDED_SOT):
        with open(os.path.join(leases_lab.kea_lab.EMBEDDED_SOT, name)) as source:
            data = yaml.safe_load(source)
        for network in data.get("networks", []):
            if network["name"] == "rack12":
                network["ipv4"] = dict(WIDE_RACK12)
        with open(os.path.join(directory, name), "w") as target:
            yaml.safe_dump(data, target)
    return directory


def capacity(netns, clients, rates, seconds):
    """The highest DORA/s over offered rates, from the lowest, up to the first rate it cannot keep up with."""
    achieved = []
    for rate in rates:
        done, drops = perfdhcp(netns, clients, rate, seconds)
        achieved.append((done, rate, drops))
        if done < 0.9 * rate:
            break
    return max(achieved)


def dora(args):
    # Kea's threads wait on the database: more of them than CPUs keep commits overlapping (group commit).
    sot_dir = wide_sot(tempfile.mkdtemp(prefix="nbq-sot-"))
    lab = leases_lab.LeasesLab(sot.load(sot_dir), durable=True,
                               node_settings={"thread_pool_size": args.threads, "packet_queue_size": 256})
    # memfile, then the lease database with each synchronous_commit asked for (both wait for the standby).
    modes = ["memfile"] + ["postgresql/" + value for value in args.synchronous_commit]
    if args.as_shipped:
        modes.append("postgresql/%s/as-shipped" % args.synchronous_commit[0])
    try:
        lab.start(sot_dir)
        rates = {mode: [] for mode in modes}
        for round_number in range(1, args.rounds + 1):
            for mode in modes if round_number % 2 else modes[::-1]:
                backend, _slash, commit = mode.partition("/")
                commit, _slash, variant = commit.partition("/")
                lab.use(backend)
                if commit:
                    set_synchronous_commit(lab, commit)
                    set_json_check(lab, variant == "as-shipped")
                rate, offered, drops = capacity(lab.nodes[0].topology.cli, args.clients, args.rates, args.seconds)
                rates[mode].append(rate)
                print("round %d %-24s %7.1f DORA/s at %d/s offered (drops DO/RA %s, load average %s)"
                      % (round_number, mode, rate, offered, drops, load_average()),
                      flush=True)
        best = {mode: max(values) for mode, values in rates.items()}
        mean = {mode: statistics.mean(values) for mode, values in rates.items()}
        for mode in modes[1:]:
            print("best: %s %.1f/s, memfile %.1f/s -> ratio %.2f; mean ratio %.2f (target >= 0.5)"
                  % (mode, best[mode], best["memfile"], best[mode] / best["memfile"], mean[mode] / mean["memfile"]))
    finally:
        lab.destroy()
        shutil.rmtree(sot_dir, ignore_errors=True)


# What Kea writes when it renews a lease (pgsql_lease_mgr's UPDATE of every column), for pgbench.
LEASE_UPDATE = """\\set a random(1, %(leases)d)
UPDATE lease4 SET hwaddr = decode(lpad(to_hex(:a::int), 12, '0'), 'hex'), client_id = NULL, valid_lifetime = 3600,
    expire = now() + interval '1 hour', subnet_id = 1, fqdn_fwd = false, fqdn_rev = false, hostname = '', state = 0,
    user_context = NULL WHERE address = %(first)d + :a;
"""
FIRST_ADDRESS = int(ipaddress.IPv4Address("198.51.100.0"))


def writes(args):
    """Lease updates/s (pgbench, Kea's UPDATE) with the trigger check as the role leaves it vs as Kea 2.2 ships it."""
    lab = leases_lab.LeasesLab(sot.load(leases_lab.kea_lab.EMBEDDED_SOT), durable=True)
    script = os.path.join(lab.dir, "update.sql")
    with open(script, "w", encoding="ascii") as handle:
        handle.write(LEASE_UPDATE % {"leases": args.leases, "first": FIRST_ADDRESS})
    try:
        lab.start_database(leases_lab.kea_lab.EMBEDDED_SOT)
        with lab.primary.connect() as connection:
            connection.execute("INSERT INTO lease4 (address, hwaddr, valid_lifetime, expire, subnet_id, fqdn_fwd, "
                               "fqdn_rev, hostname, state) SELECT %s + g, decode(lpad(to_hex(g), 12, '0'), 'hex'), "
                               "3600, now() + interval '1 hour', 1, false, false, '', 0 "
                               "FROM generate_series(1, %s) g", (FIRST_ADDRESS, args.leases))
        results = {"role": [], "as-shipped": []}
        for round_number in range(1, args.rounds + 1):
            for variant in ("role", "as-shipped") if round_number % 2 else ("as-shipped", "role"):
                set_json_check(lab, variant == "as-shipped")
                # The lease user, as Kea connects; its password in the environment, not the arguments.
                proc = subprocess.run([PGBENCH, "-h", lab.primary.socket_dir, "-p", str(leases_lab.PORT),
                                       "-U", "kea_leases", "-n", "-M", "prepared", "-c", str(args.connections),
                                       "-j", "2",
                                       "-T", str(args.seconds), "-f", script, "kea"],
                                      env=dict(os.environ, PGPASSWORD=lab.passwords["leases"]),
                                      capture_output=True, text=True, timeout=args.seconds + 60, check=False)
                match = re.search(r"tps = ([0-9.]+)", proc.stdout)
                if not match:
                    raise RuntimeError("pgbench gave no rate: %s" % (proc.stdout + proc.stderr)[-1000:])
                results[variant].append(float(match.group(1)))
                print("round %d %-10s %8.1f lease updates/s (load average %s)"
                      % (round_number, variant, results[variant][-1], load_average()),
                      flush=True)
        print("mean: role %.1f/s, as shipped %.1f/s -> ratio %.2f" % (
            statistics.mean(results["role"]), statistics.mean(results["as-shipped"]),
            statistics.mean(results["role"]) / statistics.mean(results["as-shipped"])))
    finally:
        lab.destroy(nodes=False)


def failover(args):
    outages, promotions = [], []
    for run in range(1, args.runs + 1):
        lab = leases_lab.LeasesLab(sot.load(leases_lab.kea_lab.EMBEDDED_SOT), lease_backend="postgresql")
        try:
            lab.start(leases_lab.kea_lab.EMBEDDED_SOT)
            with lease_clients.LeaseLoop(lab.nodes, LINK6) as loop:
                while len(loop.acks) < 20:
                    time.sleep(0.1)
                lab.primary.crash()
                crashed = time.monotonic()
                returncode, output = lab.promote_standby()
                promoted = time.monotonic()
                if returncode != 0:
                    raise RuntimeError(output[-3000:])
                deadline = time.monotonic() + 60
                while not any(ack[0] > crashed for ack in loop.acks) and time.monotonic() < deadline:
                    time.sleep(0.05)
            after = [ack[1] for ack in loop.acks if ack[0] > crashed]
            if not after:
                raise RuntimeError("run %d: no lease within 60 s of the crash" % run)
            outages.append(min(after) - crashed)
            promotions.append(promoted - crashed)
            print("run %d: outage %.2f s, promotion run (role via ansible-playbook, to its exit) %.2f s, difference %.2f s"
                  % (run, outages[-1], promotions[-1], outages[-1] - promotions[-1]), flush=True)
        finally:
            lab.destroy()
    print("outage over %d runs: min %.2f s, median %.2f s, max %.2f s; promotion median %.2f s; "
          "ratio outage/promotion %.2f" % (len(outages), min(outages), statistics.median(outages), max(outages),
                                           statistics.median(promotions),
                                           statistics.median(outages) / statistics.median(promotions)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    bench = commands.add_parser("dora")
    bench.add_argument("--rounds", type=int, default=4)
    bench.add_argument("--seconds", type=int, default=5)
    bench.add_argument("--rates", type=int, nargs="+",
                       default=[1000, 1250, 1500, 1750, 2000, 2250, 2500, 3000, 3500, 4000],
                       help="offered DORA/s, in increasing order")
    bench.add_argument("--clients", type=int, default=150)  # WIDE_RACK12's pool holds 191
    bench.add_argument("--threads", type=int, default=8)
    bench.add_argument("--synchronous-commit", nargs="+", choices=["on", "remote_write", "local", "off"],
                       default=["on", "remote_write"],
                       help="the primary's synchronous_commit values to measure, each against memfile (local and off "
                            "do not wait for the standby: bounds that show what the wait costs, not settings to run)")
    bench.add_argument("--as-shipped", action="store_true",
                       help="also measure the first synchronous_commit with Kea 2.2's lease-trigger check as shipped "
                            "(the kea_hostsdb role makes it remember its answer)")
    updates = commands.add_parser("writes")
    updates.add_argument("--rounds", type=int, default=4)
    updates.add_argument("--seconds", type=int, default=8)
    updates.add_argument("--leases", type=int, default=200)
    updates.add_argument("--connections", type=int, default=8)
    commands.add_parser("failover").add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    reason = leases_lab.missing()
    if reason:
        raise SystemExit(reason)
    {"dora": dora, "writes": writes, "failover": failover}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
