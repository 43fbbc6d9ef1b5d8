# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What machines did on a DHCP/PXE node since a point in time: boot events from its logs.

Pure: log lines and lease-file texts in, events out; no file or process access (the
boot_events module reads the files). Every event is a plain dict:

  {"time": <epoch seconds>, "kind": <KIND>, "key": <what it belongs to>,
   "client": <client address or None>, "detail": <file/path/lease address>, "status": <int or None>}

  kind    key                      from
  lease4  MAC (lower-case colon)   Kea memfile lease4 CSV (time = expire - valid_lifetime)
  lease6  DUID (lower-case colon)  Kea memfile lease6 CSV; "mac" holds the lease's hwaddr if any
  lease4/6 (the same keys)         Kea's own log (the journal): DHCP4_LEASE_ALLOC, DHCP6_LEASE_ALLOC, for leases
                                   kept in a database (shared leases), where the node has no lease file
  loader  client address           TFTP RRQ (in.tftpd syslog) or HTTP GET of a boot loader file
  entry   client address           HTTP GET ipxe/boot.ipxe (the shared iPXE entry script)
  script  MAC                      HTTP GET ipxe/<mac>.ipxe (the machine's own iPXE script)
  answer  machine name             HTTP GET installer/<name>/<file> (installer answer files)
  callback machine name            HTTP GET callback/<name>/<token>/<phase>: detail = phase, "token" = token
  file    client address           HTTP GET of any other file (kernels, initrds, images): detail = path

An HTTP event whose answer was cut short (the log's c= field empty) has "complete": False.

Only the first and the last event of each (kind, key, success) since `since` are kept: polls stay small
at 100,000 machines, a machine that first got a 404 and later its script shows both, and a retried
machine's new attempt shows its steps again.
"""

from __future__ import annotations

import csv
import json
import math
import re
from datetime import datetime, timezone
from urllib.parse import unquote, urlsplit

from ansible_collections.netboot.fleet.plugins.module_utils.pxe import layout


_MONTHS = {name: index for index, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}

# nginx "combined" (Debian's default access_log format):
#   198.51.100.10 - - [26/Nov/2026:15:00:00 +0000] "GET /ipxe/52:54:00:12:00:01.ipxe HTTP/1.1" 200 312 "-" "iPXE/1.21.1"
_COMBINED_RE = re.compile(
    r'^(?P<client>\S+) \S+ \S+ \[(?P<day>\d{2})/(?P<mon>\w{3})/(?P<year>\d{4}):(?P<hms>\d{2}:\d{2}:\d{2}) '
    r'(?P<tz>[+-]\d{4})\] "(?P<request>[^"]*)" (?P<status>\d{3}) ')
# The pxe_server role's format (layout.NGINX_LOG_FORMAT): millisecond times ($msec) first.
#   1795705293.317 198.51.100.10 "GET /ipxe/52:54:00:12:00:01.ipxe HTTP/1.1" 200 312 "iPXE/1.21.1"
_MSEC_RE = re.compile(r'^(?P<msec>\d+\.\d+) (?P<client>\S+) "(?P<request>[^"]*)" (?P<status>\d{3}) ')

# in.tftpd (tftpd-hpa, with --verbose): "RRQ from 198.51.100.10 filename undionly.kpxe"
_RRQ_RE = re.compile(r"RRQ from (?P<client>\S+) filename (?P<file>\S+)")
# Syslog file lines: RFC 3339 (rsyslog's default file format) or the classic BSD form.
_SYSLOG_ISO_RE = re.compile(r"^(?P<stamp>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})) \S+ (?P<rest>.*)$")
_SYSLOG_BSD_RE = re.compile(r"^(?P<mon>\w{3}) +(?P<day>\d{1,2}) (?P<hms>\d{2}:\d{2}:\d{2}) \S+ (?P<rest>.*)$")


# --------------------------------------------------------------------------
# Line parsers: one line in, (time, ...) or None for lines that are not ours
# --------------------------------------------------------------------------

def parse_nginx_line(line):
    """(time, client, path, status) of one access-log line in either format; None if unparsable.

    path is the URL path without the query, percent-decoded, without the leading slash.
    """
    parsed = parse_nginx_request(line)
    return parsed[:4] if parsed else None


def parse_nginx_request(line):
    """(time, client, path, status, complete) of one access-log line; complete is False only when the
    pxe_server format says nginx did not send the whole answer."""
    match = _MSEC_RE.match(line)
    if match:
        stamp = float(match.group("msec"))
    else:
        match = _COMBINED_RE.match(line)
        if not match or match.group("mon") not in _MONTHS:
            return None
        hour, minute, second = (int(part) for part in match.group("hms").split(":"))
        tz = match.group("tz")
        offset = (int(tz[1:3]) * 3600 + int(tz[3:5]) * 60) * (-1 if tz[0] == "-" else 1)
        stamp = datetime(int(match.group("year")), _MONTHS[match.group("mon")], int(match.group("day")),
                         hour, minute, second, tzinfo=timezone.utc).timestamp() - offset
    parts = match.group("request").split(" ")
    if len(parts) < 2 or parts[0] not in ("GET", "HEAD"):
        return None
    path = parts[1]
    if "?" in path or "%" in path or "://" in path:  # the common plain path skips the URL parser
        path = unquote(urlsplit(path).path)
    complete = not line.rstrip("\r\n").endswith(" c=")
    return stamp, _client(match.group("client")), path.lstrip("/"), int(match.group("status")), complete


def parse_syslog_line(line, year):
    """(time, message) of a syslog file line; BSD lines carry no year or zone: `year`, local time."""
    match = _SYSLOG_ISO_RE.match(line)
    if match:
        stamp = match.group("stamp").replace("Z", "+00:00")
        return datetime.fromisoformat(stamp).timestamp(), _message(match.group("rest"))
    match = _SYSLOG_BSD_RE.match(line)
    if match and match.group("mon") in _MONTHS:
        hour, minute, second = (int(part) for part in match.group("hms").split(":"))
        stamp = datetime(year, _MONTHS[match.group("mon")], int(match.group("day")), hour, minute, second).timestamp()
        return stamp, _message(match.group("rest"))
    return None


def parse_journal_line(line):
    """(time, message) of one `journalctl -o json` line; None for entries without a text message."""
    try:
        entry = json.loads(line)
        message = entry["MESSAGE"]
        stamp = int(entry["__REALTIME_TIMESTAMP"]) / 1e6
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(message, str):  # journald stores non-UTF-8 messages as byte lists
        return None
    return stamp, message


def _message(rest):
    """The message of 'in.tftpd[123]: RRQ ...' (the program tag stripped)."""
    tag, sep, message = rest.partition(": ")
    return message if sep and " " not in tag else rest


def _client(address):
    """Client address as the lease file spells it: IPv4-mapped IPv6 (tftpd on a v6 socket) as IPv4."""
    address = address.lower()
    return address[7:] if address.startswith("::ffff:") and "." in address else address


# --------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------

def _event(stamp, kind, key, client=None, detail="", status=None, complete=True):
    event = {"time": round(stamp, 3), "kind": kind, "key": key, "client": client, "detail": detail, "status": status}
    if not complete:
        event["complete"] = False
    return event


def http_events(lines, since):
    """Events of nginx access-log lines at or after `since`."""
    events = []
    for line in lines:
        parsed = parse_nginx_request(line)
        if parsed is None or parsed[0] < since:
            continue
        stamp, client, path, status, complete = parsed
        if path.endswith(".ipxe"):
            match = layout.SCRIPT_PATH_RE.search(path)
            if match:
                events.append(_event(stamp, "script", match.group(1), client, path, status, complete))
            elif layout.ENTRY_PATH_RE.search(path):
                events.append(_event(stamp, "entry", client, client, path, status, complete))
        elif layout.ANSWER_DIR + "/" in path:
            match = layout.ANSWER_PATH_RE.search(path)
            if match:
                events.append(_event(stamp, "answer", match.group(1), client, path, status, complete))
        elif layout.CALLBACK_DIR + "/" in path and layout.CALLBACK_PATH_RE.search(path):
            match = layout.CALLBACK_PATH_RE.search(path)
            event = _event(stamp, "callback", match.group(1), client, match.group(3), status)
            event["token"] = match.group(2)
            events.append(event)
        elif path.rpartition("/")[2] in layout.LOADER_FILES:
            events.append(_event(stamp, "loader", client, client, path, status, complete))
        elif path:
            events.append(_event(stamp, "file", client, client, path, status, complete))
    return events


def tftp_events(messages, since):
    """Events of (time, message) syslog/journal records of in.tftpd at or after `since`."""
    events = []
    for stamp, message in messages:
        if stamp < since:
            continue
        match = _RRQ_RE.search(message)
        if not match:
            continue
        filename = match.group("file").lstrip("/")
        if filename.rpartition("/")[2] in layout.LOADER_FILES:
            client = _client(match.group("client"))
            events.append(_event(stamp, "loader", client, client, filename))
    return events


# Kea's log (dhcp4/dhcp6 message files): "<packet id>: lease <address> has been allocated for <n> seconds", the id
# being "[hwtype=1 <mac>], cid=[...], tid=0x..." (v4) or "duid=[<duid>], [hwtype=1 <mac>] | [no hwaddr info], tid=..." (v6).
_KEA_ALLOC4_RE = re.compile(r"DHCP4_LEASE_ALLOC \[hwtype=\d+ (?P<mac>[0-9a-fA-F:]+)\].*?: lease (?P<address>[0-9.]+) "
                            r"has been allocated")
_KEA_ALLOC6_RE = re.compile(r"DHCP6_LEASE_ALLOC duid=\[(?P<duid>[0-9a-fA-F:]+)\], \[(?:hwtype=\d+ (?P<mac>[0-9a-fA-F:]+)|"
                            r"[^\]]*)\].*?: lease for address (?P<address>[0-9a-fA-F:]+) and iaid=")


def kea_log_events(messages, since):
    """lease4/lease6 events of Kea's "lease allocated" log messages ((time, message) pairs) at or after `since`:
    what a node leased when its leases live in a database, not in a lease file it could read."""
    events = []
    for stamp, message in messages:
        if stamp < since:
            continue
        match = _KEA_ALLOC4_RE.search(message)
        if match:
            events.append(_event(stamp, "lease4", match.group("mac").lower(), match.group("address"), match.group("address")))
            continue
        match = _KEA_ALLOC6_RE.search(message)
        if match:
            address = match.group("address").lower()
            event = _event(stamp, "lease6", match.group("duid").lower(), address, address)
            event["mac"] = (match.group("mac") or "").lower()
            events.append(event)
    return events


def lease_events(text, family, since):
    """Events of a Kea memfile lease CSV (lease4 or lease6, any Kea 2.x column set) at or after `since`.

    The header row names the columns; a lease's time is its client-last-transaction time,
    expire - valid_lifetime. Declined and expired-reclaimed rows (state != 0) are skipped.
    """
    rows = csv.reader(text.splitlines())
    header = next(rows, None)
    if not header or "address" not in header:
        return []
    column = {name: index for index, name in enumerate(header)}
    identity = "hwaddr" if family == 4 else "duid"
    since = math.floor(since)  # lease times are whole seconds
    events = []
    for row in rows:
        if len(row) < len(header) - 1:  # a line cut by a concurrent append: the next poll reads it whole
            continue
        try:
            stamp = int(row[column["expire"]]) - int(row[column["valid_lifetime"]])
            state = int(row[column["state"]]) if "state" in column and row[column["state"]] else 0
        except (ValueError, IndexError, KeyError):
            continue
        key = row[column[identity]].lower()
        if stamp < since or state != 0 or not key:
            continue
        event = _event(stamp, "lease%d" % family, key, row[column["address"]].lower(), row[column["address"]].lower())
        if family == 6:
            event["mac"] = row[column["hwaddr"]].lower() if "hwaddr" in column and len(row) > column["hwaddr"] else ""
        events.append(event)
    return events


def first_events(events):
    """The earliest and the latest event of each (kind, key, success), of each leased address, fetched file and
    callback, sorted by time, kind and key.

    Every address a machine leased is kept: its firmware and its iPXE are different DHCP clients, and a
    firmware without a stored DUID comes back as a new one, so the boot loader may be fetched from an
    address of a later lease than the first. The latest shows a step again after a retry (a new attempt
    looks at the events since it started).
    """
    first, last = {}, {}
    for event in events:
        kind = event["kind"]
        # Every leased address, every file a client fetched, every callback (one may be forged) counts.
        extra = event["client"] if kind.startswith("lease") else (
            event["detail"] if kind == "file" else (event["detail"], event["token"]) if kind == "callback" else None)
        slot = (kind, event["key"], succeeded(event), extra)
        if slot not in first or event["time"] < first[slot]["time"]:
            first[slot] = event
        if slot not in last or event["time"] > last[slot]["time"]:
            last[slot] = event
    kept = list(first.values()) + [event for slot, event in last.items() if event is not first[slot]]
    return sorted(kept, key=lambda event: (event["time"], event["kind"], event["key"], str(event["status"])))


def succeeded(event):
    """A lease or TFTP request (no status) counts; an HTTP request only with a 2xx/3xx answer sent whole."""
    return event["status"] is None or (200 <= event["status"] < 400 and event.get("complete", True))


def scripts_fetched(events):
    """MACs whose own iPXE script was served (HTTP 2xx/3xx), sorted."""
    return sorted({event["key"] for event in events if event["kind"] == "script" and succeeded(event)})
