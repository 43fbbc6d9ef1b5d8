# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kea's PostgreSQL host database: the json mode's reservations as rows, read, diffed, written.

Pure part: a reservation exactly as plugins/module_utils/kea/config.py renders it into a subnet
(hw-address/duid, ip-address(es), hostname, next-server, boot-file-name, option-data, ...)
becomes one Host: one row of Kea's own ``hosts`` table plus its ``ipv6_reservations`` and
``dhcp4_options``/``dhcp6_options`` rows. Both modes therefore serve the same answers from one
renderer. hosts_from_config() -> dict of Host by key; diff() -> Changes.

I/O part: HostsDatabase (psycopg 3) checks ``schema_version``, reads every host, and applies a
Changes in one transaction (deletes, updates, inserts; COPY for bulk inserts) that commits all
or nothing. Kea reads the tables per request, so a commit is served at once, without a reload.

Ownership: the source of truth owns the host rows of the families it syncs (and subnet-less
"global" rows, which the rendered configs never use); anything else there is deleted.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from collections import namedtuple

from ansible_collections.netboot.fleet.plugins.module_utils.gc_pause import cyclic_gc_paused
from ansible_collections.netboot.fleet.plugins.module_utils.kea.families import FAMILY_KEYS

try:
    import psycopg
    from psycopg import sql
    HAS_PSYCOPG = True
except ImportError:  # reported by the module with an install hint
    HAS_PSYCOPG = False

# schema_version.version -> the Kea release that creates it. Only schemas whose host tables
# were tested here are accepted: a newer Kea may add columns the sync would not fill.
SUPPORTED_SCHEMAS = {13: "Kea 2.2 (Debian 12)"}

# host_identifier_type and dhcp_option_scope rows created by kea-admin db-init.
IDENTIFIER_TYPES = {"hw-address": 0, "duid": 1, "circuit-id": 2, "client-id": 3, "flex-id": 4}
IDENTIFIER_NAMES = {value: key for key, value in IDENTIFIER_TYPES.items()}
SCOPE_HOST = 3
# ipv6_reservations.type
IPV6_ADDRESS, IPV6_PREFIX = 0, 2

# Option names the renderer may use in a reservation, with their codes (Kea's standard
# definitions). The database stores codes; an unknown name is reported, not guessed.
OPTION_CODES = {
    "dhcp4": {"subnet-mask": 1, "time-offset": 2, "routers": 3, "domain-name-servers": 6, "host-name": 12,
              "domain-name": 15, "ntp-servers": 42, "vendor-encapsulated-options": 43,
              "dhcp-server-identifier": 54, "vendor-class-identifier": 60, "tftp-server-name": 66,
              "boot-file-name": 67, "user-class": 77, "domain-search": 119},
    "dhcp6": {"dns-servers": 23, "domain-search": 24, "sntp-servers": 31, "ntp-server": 56,
              "bootfile-url": 59, "bootfile-param": 60},
}

# One reservation. Key fields first: (subnet4, subnet6, identifier_type, identifier) is what
# Kea looks a client up by; everything else is compared to decide on an update.
Host = namedtuple("Host", [
    "subnet4", "subnet6", "identifier_type", "identifier",
    "ipv4_address", "hostname", "client_classes4", "client_classes6", "next_server", "server_hostname",
    "boot_file_name", "user_context", "addresses", "options4", "options6",
])
# An option row: (code, space, formatted_value, value (bytes or None), persistent).
# An address row: (address text, prefix_len, type, iaid or None).
Changes = namedtuple("Changes", ["insert", "update", "delete", "unchanged"])

_HOST_COLUMNS = ("dhcp4_subnet_id", "dhcp6_subnet_id", "dhcp_identifier_type", "dhcp_identifier",
                 "ipv4_address", "hostname", "dhcp4_client_classes", "dhcp6_client_classes",
                 "dhcp4_next_server", "dhcp4_server_hostname", "dhcp4_boot_file_name", "user_context")
_SCALARS = len(_HOST_COLUMNS)
SAMPLE = 20


class HostsDbError(Exception):
    """Anything that stops a sync. Nothing was written when it is raised."""


class HostsDbConnectionError(HostsDbError):
    """The database could not be reached, or the connection was lost."""


class SchemaError(HostsDbError):
    """The database has no Kea schema, or one this code does not know."""


class StaleSyncError(HostsDbError):
    """A sync of some subnets was asked for, but the host tables are no longer as the sync it builds on
    left them: only a sync of every subnet can tell what they hold."""


# --------------------------------------------------------------------------
# Reservations (kea.py's json mode) -> Host records
# --------------------------------------------------------------------------

@cyclic_gc_paused()
def hosts_from_config(config: dict) -> dict:
    """{key: Host} for every reservation of a rendered {"Dhcp4": ...} / {"Dhcp6": ...} config."""
    family_key = next(iter(config))
    family = {key: name for name, key in FAMILY_KEYS.items()}[family_key]
    body = config[family_key]
    hosts, problems = {}, []
    for subnet in body.get("subnet4" if family == "dhcp4" else "subnet6", ()):
        for reservation in subnet.get("reservations", ()):
            try:
                host = host_from_reservation(family, subnet["id"], reservation)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            key = host_key(host)
            if key in hosts:
                problems.append("subnet %s: two reservations for %s %s" % (subnet["id"], *describe_identifier(host)))
            hosts[key] = host
    if problems:
        raise HostsDbError("cannot store these reservations in the host database:\n  - " + "\n  - ".join(problems))
    return hosts


@cyclic_gc_paused()
def keyed_reservations(reservations: dict, families) -> dict:
    """{key: (family, subnet id, reservation)} of {family: {subnet id: [reservation]}}. Cheap: no
    Host is built, so two syncs' inputs compare in a fraction of a second at 100k hosts."""
    keyed = {}
    for family in families:
        for subnet, entries in (reservations.get(family) or {}).items():
            subnet_id = int(subnet)
            for reservation in entries:
                kind = next((key for key in IDENTIFIER_TYPES if key in reservation), None)
                try:
                    identifier = bytes.fromhex(str(reservation.get(kind, "")).replace(":", "").replace("-", ""))
                except ValueError:
                    identifier = str(reservation.get(kind)).encode()  # host_from_reservation reports it
                where = (subnet_id, None) if family == "dhcp4" else (None, subnet_id)
                keyed[where + (IDENTIFIER_TYPES.get(kind, -1), identifier)] = (family, subnet_id, reservation)
    return keyed


@cyclic_gc_paused()
def hosts_for(keyed: dict, keys) -> dict:
    """{key: Host} for the given keys of keyed_reservations(); keys absent there are skipped."""
    hosts, problems = {}, []
    for key in keys:
        entry = keyed.get(key)
        if entry is None:
            continue
        try:
            hosts[key] = host_from_reservation(*entry)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise HostsDbError("cannot store these reservations in the host database:\n  - " + "\n  - ".join(problems))
    return hosts


def _changed_subnets(now: dict, before: dict, families) -> tuple:
    """The subnets whose reservation lists differ, from each side: a list comparison per
    subnet runs in C, so 100k unchanged reservations cost a few milliseconds."""
    changed_now, changed_before = {}, {}
    for family in families:
        mine, theirs = now.get(family) or {}, before.get(family) or {}
        for subnet in mine.keys() | theirs.keys():
            if mine.get(subnet) != theirs.get(subnet):
                changed_now.setdefault(family, {})[subnet] = mine.get(subnet, [])
                changed_before.setdefault(family, {})[subnet] = theirs.get(subnet, [])
    return changed_now, changed_before


def host_key(host: Host) -> tuple:
    return host[:4]


def describe_identifier(host: Host) -> tuple:
    return IDENTIFIER_NAMES.get(host.identifier_type, str(host.identifier_type)), ":".join(
        "%02x" % octet for octet in host.identifier)


_V4_KEYS = {"hw-address", "duid", "client-id", "circuit-id", "flex-id", "ip-address", "hostname", "next-server",
            "server-hostname", "boot-file-name", "client-classes", "option-data", "user-context"}
_V6_KEYS = {"hw-address", "duid", "flex-id", "ip-addresses", "prefixes", "hostname", "client-classes",
            "option-data", "user-context"}


def host_from_reservation(family: str, subnet_id: int, reservation: dict) -> Host:
    """The Host of one reservation dict; ValueError names the reservation and the field."""
    name = reservation.get("hostname") or "(no hostname)"
    unknown = sorted(set(reservation) - (_V4_KEYS if family == "dhcp4" else _V6_KEYS))
    if unknown:
        raise ValueError("reservation %s in subnet %s: %s not supported by the host database mapping"
                         % (name, subnet_id, ", ".join(unknown)))
    identifiers = [key for key in IDENTIFIER_TYPES if key in reservation]
    if len(identifiers) != 1:
        raise ValueError("reservation %s in subnet %s: needs exactly one identifier (%s), has %s"
                         % (name, subnet_id, ", ".join(IDENTIFIER_TYPES), ", ".join(identifiers) or "none"))
    try:
        identifier = bytes.fromhex(str(reservation[identifiers[0]]).replace(":", "").replace("-", ""))
    except ValueError:
        raise ValueError("reservation %s in subnet %s: %s %r is not hex octets"
                         % (name, subnet_id, identifiers[0], reservation[identifiers[0]]))
    classes = ",".join(reservation.get("client-classes", ())) or None
    context = reservation.get("user-context")
    options = _sorted_rows(_option_row(family, option, name) for option in reservation.get("option-data", ()))
    try:
        if family == "dhcp4":
            return Host(subnet_id, None, IDENTIFIER_TYPES[identifiers[0]], identifier,
                        _ipv4_int(reservation.get("ip-address")), reservation.get("hostname"), classes, None,
                        _ipv4_int(reservation.get("next-server")), reservation.get("server-hostname"),
                        reservation.get("boot-file-name"), _context_text(context), (), options, ())
        addresses = [(_ipv6_text(address), 128, IPV6_ADDRESS, None) for address in reservation.get("ip-addresses", ())]
        for prefix in reservation.get("prefixes", ()):
            network = ipaddress.IPv6Network(prefix)
            addresses.append((network.network_address.compressed, network.prefixlen, IPV6_PREFIX, None))
        return Host(None, subnet_id, IDENTIFIER_TYPES[identifiers[0]], identifier, None, reservation.get("hostname"),
                    None, classes, None, None, None, _context_text(context), _sorted_rows(addresses), (), options)
    except ValueError as exc:
        raise ValueError("reservation %s in subnet %s: %s" % (name, subnet_id, exc))


def _sorted_rows(rows) -> tuple:
    # repr as the key: rows mix None with numbers and text, which do not compare. Most hosts
    # have zero or one row per table: skip the sort there (300k calls in a 100k-host read).
    rows = tuple(rows)
    return rows if len(rows) < 2 else tuple(sorted(rows, key=repr))


def _ipv4_int(address):
    if address is None:
        return None
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET, address), "big")
    except OSError:
        raise ValueError("%r is not an IPv4 address" % address)


def _ipv6_text(address):
    # Kea writes and parses the compressed (RFC 5952) form; the input may hold any form.
    try:
        return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, address))
    except OSError:
        raise ValueError("%r is not an IPv6 address" % address)


def _context_text(context):
    return None if context is None else json.dumps(context, sort_keys=True, separators=(",", ":"))


def _option_row(family, option, name):
    space = option.get("space", family)
    code = option.get("code")
    if code is None:
        code = OPTION_CODES.get(space, {}).get(option.get("name"))
    if code is None:
        raise ValueError("reservation %s: option %r in space %s has no known code; give its code"
                         % (name, option.get("name"), space))
    persistent = bool(option.get("always-send", False))
    if option.get("csv-format", True):
        return (int(code), space, str(option.get("data", "")), None, persistent)
    return (int(code), space, None, bytes.fromhex(str(option.get("data", "")).replace(":", "").replace(" ", "")),
            persistent)


# --------------------------------------------------------------------------
# Diff
# --------------------------------------------------------------------------

def owned(host: Host, families) -> bool:
    """Rows of the synced families belong to the SoT; subnet-less rows too (never rendered)."""
    if host.subnet4 is None and host.subnet6 is None:
        return True
    return (host.subnet4 is not None and "dhcp4" in families) or (host.subnet6 is not None and "dhcp6" in families)


@cyclic_gc_paused()
def diff(current: dict, desired: dict, families=("dhcp4", "dhcp6")) -> Changes:
    """current: {key: [(host_id, Host), ...]} as read; desired: {key: Host}.
    Returns insert [Host], update [(host_id, old, new)], delete [(host_id, Host)], unchanged count."""
    insert, update, delete, unchanged = [], [], [], 0
    for key, rows in current.items():
        rows = [row for row in rows if owned(row[1], families)]
        if not rows:
            continue
        want = desired.get(key)
        # A key is unique in Kea's schema for rows with a subnet; any surplus goes.
        keep, surplus = (rows[0], rows[1:]) if want is not None else (None, rows)
        delete.extend(surplus)
        if keep is None:
            continue
        if keep[1] == want:
            unchanged += 1
        else:
            update.append((keep[0], keep[1], want))
    insert = [host for key, host in desired.items() if not any(owned(row[1], families) for row in current.get(key, ()))]
    return Changes(sorted(insert, key=_order), sorted(update), sorted(delete), unchanged)


def _order(host):
    return (host.subnet4 or 0, host.subnet6 or 0, host.identifier_type, host.identifier)


def counts(changes: Changes, desired: int) -> dict:
    return {"desired": desired, "inserted": len(changes.insert), "updated": len(changes.update),
            "deleted": len(changes.delete), "unchanged": changes.unchanged}


def describe(host: Host) -> str:
    """hostname (identifier type value) addresses in subnet N - one line of the summary."""
    kind, value = describe_identifier(host)
    if host.subnet4 is not None:
        address = str(ipaddress.IPv4Address(host.ipv4_address)) if host.ipv4_address is not None else "-"
        where = "dhcp4 subnet %d" % host.subnet4
    else:
        address = ", ".join("%s/%d" % (row[0], row[1]) if row[2] == IPV6_PREFIX else row[0]
                            for row in host.addresses) or "-"
        where = "dhcp6 subnet %s" % host.subnet6
    return "%s (%s %s) %s in %s" % (host.hostname or "-", kind, value, address, where)


def summarize(changes: Changes) -> dict:
    """Counts and a bounded, sorted sample per change: readable at 100k hosts."""
    def part(hosts):
        names = sorted(describe(host) for host in hosts)
        return {"count": len(names), "sample": names[:SAMPLE]}
    return {"inserted": part(changes.insert), "updated": part(new for _id, _old, new in changes.update),
            "deleted": part(host for _id, host in changes.delete), "unchanged": changes.unchanged}


def render_text(summary: dict) -> str:
    totals = (summary["inserted"]["count"], summary["updated"]["count"], summary["deleted"]["count"], summary["unchanged"])
    lines = ["hosts: +%d ~%d -%d, %d unchanged" % totals]
    for kind, mark in (("inserted", "+"), ("updated", "~"), ("deleted", "-")):
        lines.extend("  %s host %s" % (mark, entry) for entry in summary[kind]["sample"])
        hidden = summary[kind]["count"] - len(summary[kind]["sample"])
        if hidden > 0:
            lines.append("  %s ... and %d more host(s) %s" % (mark, hidden, kind))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Database client
# --------------------------------------------------------------------------

def connect_params(name, host=None, port=None, user=None, password=None, sslmode=None, sslrootcert=None,
                   sslcert=None, sslkey=None, connect_timeout=10) -> dict:
    """psycopg.connect() keywords; unset ones are left to libpq (and its PG* environment)."""
    params = {"dbname": name, "host": host, "port": port, "user": user, "password": password, "sslmode": sslmode,
              "sslrootcert": sslrootcert, "sslcert": sslcert, "sslkey": sslkey, "connect_timeout": connect_timeout,
              "application_name": "netboot.fleet kea_hosts"}
    return {key: value for key, value in params.items() if value is not None}


class HostsDatabase:
    """One connection to Kea's host database. Use as a context manager."""

    def __init__(self, params: dict, lock_timeout: float = 10.0):
        if not HAS_PSYCOPG:
            raise HostsDbError("the Python library psycopg (3) is missing on this host: "
                               "apt install python3-psycopg, or pip install 'psycopg[binary]'")
        self.params = params
        self.lock_timeout = lock_timeout
        self.where = "%s on %s" % (params.get("dbname"), params.get("host", "the default socket"))
        self.connection = None
        self.has_change_counter = None  # looked up by the first fingerprint()

    def __enter__(self):
        try:
            self.connection = psycopg.connect(**self.params)
        except psycopg.Error as exc:
            raise HostsDbConnectionError("cannot connect to the host database %s: %s"
                                         % (self.where, str(exc).strip()))
        return self

    def __exit__(self, *exc_info):
        if self.connection is not None:
            self.connection.close()

    def _fail(self, step, exc):
        """A psycopg error as a HostsDbError naming the step; the transaction is rolled back."""
        text = str(exc).strip()
        if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)) and \
                (self.connection is None or self.connection.closed or self.connection.broken):
            return HostsDbConnectionError("lost the connection to the host database %s while %s; nothing was "
                                          "committed: %s" % (self.where, step, text))
        if isinstance(exc, psycopg.errors.LockNotAvailable):
            return HostsDbError("another writer (a second sync?) held the host tables of %s for longer than %g s; "
                                "nothing was written: %s" % (self.where, self.lock_timeout, text))
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            return HostsDbError("the database user %r may not do this while %s (the sync user needs SELECT, INSERT, "
                                "UPDATE, DELETE on the host tables and USAGE on their sequences): %s"
                                % (self.params.get("user"), step, text))
        return HostsDbError("the host database %s refused the change while %s; nothing was committed: %s"
                            % (self.where, step, text))

    def schema_version(self) -> tuple:
        """(major, minor) of Kea's schema; SchemaError when absent or not supported."""
        try:
            with self.connection.cursor() as cursor:
                cursor.execute("SELECT version, minor FROM schema_version")
                row = cursor.fetchone()
            self.connection.rollback()
        except psycopg.errors.UndefinedTable:
            self.connection.rollback()
            raise SchemaError("the database %s has no Kea schema (no schema_version table): initialise it with "
                              "`kea-admin db-init pgsql` (role netboot.fleet.kea_hostsdb)" % self.where)
        except psycopg.Error as exc:
            raise self._fail("reading schema_version", exc)
        supported = ", ".join("%d (%s)" % item for item in sorted(SUPPORTED_SCHEMAS.items()))
        if row is None:
            raise SchemaError("the database %s has an empty schema_version table; supported: %s" % (self.where, supported))
        if row[0] not in SUPPORTED_SCHEMAS:
            raise SchemaError("the database %s has Kea schema version %s.%s, which netboot.fleet does not know; "
                              "supported schema versions: %s" % (self.where, row[0], row[1], supported))
        return tuple(row)

    def fingerprint(self, cursor) -> str:
        """Changes whenever any row of the host tables is inserted, updated or deleted.

        With the change counter the kea_hostsdb role installs (a row bumped by a trigger on every
        statement that changes a host table), it is that one row. Without it: row counts and the sum
        of the rows' xmin (the id of the transaction that wrote each row), one scan per table."""
        if self.has_change_counter is None:
            cursor.execute("SELECT to_regclass('netboot_fleet_host_changes') IS NOT NULL")
            self.has_change_counter = cursor.fetchone()[0]
        if self.has_change_counter:
            cursor.execute("SELECT changes FROM netboot_fleet_host_changes")
            return "changes:%d" % cursor.fetchone()[0]
        tables = ("hosts", "ipv6_reservations", "dhcp4_options", "dhcp6_options")
        cursor.execute(sql.SQL("SELECT {}").format(sql.SQL(", ").join(
            sql.SQL("(SELECT count(*) || '/' || coalesce(sum(xmin::text::bigint), 0) FROM {})").format(
                sql.Identifier(table)) for table in tables)))  # one round trip
        return " ".join("%s:%s" % pair for pair in zip(tables, cursor.fetchone()))

    def sync(self, reservations: dict, families=("dhcp4", "dhcp6"), check_mode=False, previous=None, timing=None,
             before_commit=None, only_subnets_since=None) -> dict:
        """Make the host tables hold exactly these reservations, in one transaction.

        reservations: {family: {subnet id: [reservation dicts as kea.py renders them]}}.
        previous: the state this method returned last time (or None). When the tables are
        still as that sync left them (same fingerprint), only the reservations that differ
        from the previous input are looked up and written ("incremental"); otherwise every
        row is read and compared ("full").
        only_subnets_since: a fingerprint; reservations then holds only some subnets (an empty
        list empties one), and only those subnets' rows are read and written ("subnets"), provided
        the tables still have that fingerprint, else StaleSyncError.
        Returns {"changes", "desired", "mode", "state"}.

        The host tables are locked against other writers (not against Kea's reads) for the
        transaction, so two syncs never interleave. before_commit: a hook for tests."""
        timing = {} if timing is None else timing
        families = tuple(sorted(families))
        desired_count = sum(len(entries) for family in families for entries in (reservations.get(family) or {}).values())
        step, changes, mode = "locking the host table", None, "full"
        try:
            with self.connection.transaction():
                with self.connection.cursor() as cursor:
                    cursor.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(
                        sql.Literal("%dms" % int(self.lock_timeout * 1000))))
                    if not check_mode:
                        # Blocks other writers, never Kea's reads (SELECT takes ACCESS SHARE).
                        cursor.execute("LOCK TABLE hosts, ipv6_reservations, dhcp4_options, dhcp6_options "
                                       "IN SHARE ROW EXCLUSIVE MODE")
                    step = "reading the hosts"
                    start = time.monotonic()
                    fingerprint = self.fingerprint(cursor)
                    if only_subnets_since is not None:
                        if fingerprint != only_subnets_since:
                            raise StaleSyncError("the host tables of %s changed since the last sync from this "
                                                 "controller" % self.where)
                        mode = "subnets"
                        wanted = keyed_reservations(reservations, families)
                        desired = hosts_for(wanted, wanted)
                        current = self.read(cursor, subnets={family: [int(subnet) for subnet in reservations.get(family)
                                                                      or ()] for family in families})
                    elif previous and previous.get("fingerprint") == fingerprint and \
                            previous.get("database") == self.where and tuple(previous.get("families", ())) == families:
                        mode = "incremental"
                        now, before = _changed_subnets(reservations, previous.get("reservations") or {}, families)
                        wanted = keyed_reservations(now, families)
                        earlier = keyed_reservations(before, families)
                        keys = {key for key in wanted.keys() | earlier.keys() if wanted.get(key) != earlier.get(key)}
                        desired = hosts_for(wanted, keys)
                        current = self.read(cursor, identifiers=sorted({key[3] for key in keys}))
                        current = {key: rows for key, rows in current.items() if key in keys}
                    else:
                        wanted = keyed_reservations(reservations, families)
                        desired = hosts_for(wanted, wanted)
                        current = self.read(cursor)
                    timing["read"] = round(time.monotonic() - start, 3)
                    start = time.monotonic()
                    changes = diff(current, desired, families)
                    changes = changes._replace(unchanged=desired_count - len(changes.insert) - len(changes.update))
                    timing["diff"] = round(time.monotonic() - start, 3)
                    if check_mode or not (changes.insert or changes.update or changes.delete):
                        raise psycopg.Rollback()
                    step = "writing the changes"
                    start = time.monotonic()
                    self._write(cursor, changes)
                    fingerprint = self.fingerprint(cursor)
                    if before_commit is not None:
                        before_commit(self.connection)
                    timing["write"] = round(time.monotonic() - start, 3)
                    step = "committing"
                    start = time.monotonic()
            # Reached without a Rollback only: the block's exit committed.
            if step == "committing":
                timing["commit"] = round(time.monotonic() - start, 3)
        except psycopg.Error as exc:
            raise self._fail(step, exc)
        state = {"database": self.where, "families": list(families), "fingerprint": fingerprint,
                 "reservations": {family: reservations.get(family) or {} for family in families}}
        return {"changes": changes, "desired": desired_count, "mode": mode, "state": state}

    # -- reading -----------------------------------------------------------

    @staticmethod
    @cyclic_gc_paused()
    def read(cursor, identifiers=None, subnets=None) -> dict:
        """{key: [(host_id, Host), ...]} of every row in the host tables (sorted by host_id), or
        only of the hosts with one of these identifiers (bytes), or only of the hosts in these
        subnets ({"dhcp4": [id], "dhcp6": [id]})."""
        addresses, options4, options6 = {}, {}, {}
        if subnets is not None:
            scope = sql.SQL("host_id IN (SELECT host_id FROM hosts WHERE dhcp4_subnet_id = ANY(%s) "
                            "OR dhcp6_subnet_id = ANY(%s))")
            args = (subnets.get("dhcp4") or [], subnets.get("dhcp6") or [])
        elif identifiers is None:
            scope, args = sql.SQL("host_id IS NOT NULL"), ()
        else:
            scope = sql.SQL("host_id IN (SELECT host_id FROM hosts WHERE dhcp_identifier = ANY(%s))")
            args = (list(identifiers),)
        cursor.execute(sql.SQL("SELECT host_id, address, prefix_len, type, dhcp6_iaid FROM ipv6_reservations "
                               "WHERE {}").format(scope), args)
        for host_id, address, prefix_len, kind, iaid in cursor:
            addresses.setdefault(host_id, []).append((address, prefix_len, kind, iaid))
        for table, target in (("dhcp4_options", options4), ("dhcp6_options", options6)):
            cursor.execute(sql.SQL("SELECT host_id, code, space, formatted_value, value, persistent FROM {} "
                                   "WHERE {}").format(sql.Identifier(table), scope), args)
            for host_id, code, space, formatted, value, persistent in cursor:
                target.setdefault(host_id, []).append((code, space, formatted, bytes(value) if value is not None
                                                       else None, persistent))
        cursor.execute(sql.SQL("SELECT host_id, {} FROM hosts WHERE {} ORDER BY host_id").format(
            sql.SQL(", ").join(sql.Identifier(column) for column in _HOST_COLUMNS), scope), args)
        current = {}
        for row in cursor:
            host_id = row[0]
            context = row[12]
            if context is not None:
                try:
                    context = _context_text(json.loads(context))
                except ValueError:
                    pass
            host = Host(row[1], row[2], row[3], bytes(row[4]), *row[5:12], context,
                        _sorted_rows(addresses.get(host_id, ())), _sorted_rows(options4.get(host_id, ())),
                        _sorted_rows(options6.get(host_id, ())))
            current.setdefault(host_key(host), []).append((host_id, host))
        return current

    # -- writing -----------------------------------------------------------

    def _write(self, cursor, changes: Changes):
        """Deletes first, then updates, then inserts: an address that moves between machines in
        one sync is free before anyone takes it."""
        if changes.delete:
            # ipv6_reservations and host options go with their host (ON DELETE CASCADE).
            cursor.execute("DELETE FROM hosts WHERE host_id = ANY(%s)", ([host_id for host_id, _host in changes.delete],))
        if changes.update:
            self._update(cursor, changes.update)
        if changes.insert:
            cursor.execute("SELECT nextval('hosts_host_id_seq') FROM generate_series(1, %s)", (len(changes.insert),))
            ids = [row[0] for row in cursor.fetchall()]
            with cursor.copy("COPY hosts (host_id, %s) FROM STDIN" % ", ".join(_HOST_COLUMNS)) as copy:
                for host_id, host in zip(ids, changes.insert):
                    copy.write_row((host_id,) + tuple(host[:_SCALARS]))
            self._insert_children(cursor, list(zip(ids, changes.insert)))

    @staticmethod
    def _update(cursor, updates):
        columns = ", ".join("%s = %%s" % column for column in _HOST_COLUMNS[4:])
        changed_rows = [(*new[4:_SCALARS], host_id) for host_id, old, new in updates if old[4:_SCALARS] != new[4:_SCALARS]]
        if changed_rows:
            cursor.executemany("UPDATE hosts SET %s WHERE host_id = %%s" % columns, changed_rows)
        children = [(host_id, new) for host_id, old, new in updates if old[_SCALARS:] != new[_SCALARS:]]
        if children:
            ids = [host_id for host_id, _new in children]
            cursor.execute("DELETE FROM ipv6_reservations WHERE host_id = ANY(%s)", (ids,))
            cursor.execute("DELETE FROM dhcp4_options WHERE host_id = ANY(%s)", (ids,))
            cursor.execute("DELETE FROM dhcp6_options WHERE host_id = ANY(%s)", (ids,))
            HostsDatabase._insert_children(cursor, children)

    @staticmethod
    def _insert_children(cursor, hosts):
        if any(host.addresses for _id, host in hosts):
            with cursor.copy("COPY ipv6_reservations (host_id, address, prefix_len, type, dhcp6_iaid) FROM STDIN") as copy:
                for host_id, host in hosts:
                    for row in host.addresses:
                        copy.write_row((host_id,) + tuple(row))
        for table, field in (("dhcp4_options", "options4"), ("dhcp6_options", "options6")):
            if any(getattr(host, field) for _id, host in hosts):
                with cursor.copy(sql.SQL("COPY {} (host_id, scope_id, code, space, formatted_value, value, persistent) "
                                         "FROM STDIN").format(sql.Identifier(table))) as copy:
                    for host_id, host in hosts:
                        for row in getattr(host, field):
                            copy.write_row((host_id, SCOPE_HOST) + tuple(row))
