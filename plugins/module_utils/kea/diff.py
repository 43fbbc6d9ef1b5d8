# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare a rendered Kea config with the running one, and summarise the difference.

Kea's config-get returns every parameter with its default filled in (and option data with
code/space/csv-format), so the running config is compared *through the shape of the
rendered one*: a key the renderer does not set is Kea's business. Lists of subnets,
reservations, pools and options are matched by identity, not position; client classes
keep their order (Kea evaluates them in order).

The summary counts subnets, reservations and client classes added/removed/changed, names
the global settings that changed, and lists a bounded sample: readable at 100k hosts where
a text diff of 20 MB is not. Pure: dicts in, dicts/text out.
"""

from __future__ import annotations

import ipaddress
import re

# Lists whose order carries no meaning, with the key that identifies an entry.
_UNORDERED = {
    "subnet4": ("id",), "subnet6": ("id",),
    "reservations": ("hw-address", "duid"),
    "pools": ("pool",),
    "option-data": ("space", "name", "code"),
}
# Lists the renderer leaves out when empty (Kea 2.2 rejects some empty lists): a running
# config that still has entries there differs.
_OMITTED_WHEN_EMPTY = ("client-classes",)
_COMMA = re.compile(r"\s*,\s*")
SAMPLE = 20


def same(running, desired, key=None) -> bool:
    """True when running holds everything desired sets, with the same values."""
    if isinstance(desired, dict):
        if not isinstance(running, dict):
            return False
        if any(running.get(name) and name not in desired for name in _OMITTED_WHEN_EMPTY):
            return False
        return all(name in running and same(running[name], value, name) for name, value in desired.items())
    if isinstance(desired, list):
        if not isinstance(running, list) or len(running) != len(desired):
            return False
        if key in _UNORDERED and all(isinstance(item, dict) for item in desired + running):
            index = {_identity(item, key): item for item in running}
            return all(_identity(item, key) in index and same(index[_identity(item, key)], item)
                       for item in desired)
        return all(same(have, want) for have, want in zip(running, desired))
    if key == "data" and isinstance(desired, str) and isinstance(running, str):
        # Kea keeps option data as written; "a, b" and "a,b" are the same option.
        return _COMMA.sub(",", running.strip()).lower() == _COMMA.sub(",", desired.strip()).lower()
    if key == "pool" and isinstance(desired, str) and isinstance(running, str):
        # Kea prints a DHCPv6 range that is a whole prefix as the prefix.
        return _pool_range(running) == _pool_range(desired)
    if isinstance(desired, str) and isinstance(running, str) and key in ("hw-address", "duid"):
        return running.lower() == desired.lower()
    return running == desired and type(running) is type(desired)


def _pool_range(pool):
    """(first, last) of a Kea pool written as "first-last" or "prefix/len"; the text if neither."""
    try:
        if "-" in pool:
            first, last = pool.split("-")
            return int(ipaddress.ip_address(first.strip())), int(ipaddress.ip_address(last.strip()))
        network = ipaddress.ip_network(pool.strip(), strict=False)
        return int(network[0]), int(network[-1])
    except ValueError:
        return pool


def _identity(item, key):
    fields = _UNORDERED[key]
    if key == "option-data":
        # Kea fills in "space" and "code"; the renderer names options (space dhcp4/dhcp6 implied).
        return (item.get("space") if "space" in item and item.get("space") not in ("dhcp4", "dhcp6") else "",
                item.get("name") or item.get("code"))
    if key == "pools":
        return _pool_range(item.get("pool", ""))
    for field in fields:
        if field in item:
            return (field, str(item[field]).lower())
    return None


def summarize(running: dict | None, desired: dict) -> dict:
    """What applying desired changes in running, as counts and samples.

    running None (nothing readable) counts everything as added.
    """
    family = next(iter(desired))
    want = desired[family]
    have = (running or {}).get(family) or {}
    subnet_key = "subnet4" if family == "Dhcp4" else "subnet6"

    have_subnets = {s.get("id"): s for s in have.get(subnet_key, [])}
    want_subnets = {s.get("id"): s for s in want.get(subnet_key, [])}
    subnets = _compare(have_subnets, want_subnets, lambda h, w: same(_without(h, "reservations"),
                                                                     _without(w, "reservations")))

    have_res, want_res = _reservations(have_subnets), _reservations(want_subnets)
    reservations = _compare(have_res, want_res, same)

    have_classes = {c.get("name"): c for c in have.get("client-classes", [])}
    want_classes = {c.get("name"): c for c in want.get("client-classes", [])}
    classes = _compare(have_classes, want_classes, same)
    if [c.get("name") for c in have.get("client-classes", [])] != list(want_classes) and not any(classes.values()):
        classes["changed"] = ["(evaluation order)"]

    settings = sorted(name for name, value in want.items()
                      if name not in (subnet_key, "client-classes") and not same(have.get(name), value, name))
    return {
        "family": family,
        "subnets": _named(subnets, lambda ident, sub: "%s (%s)" % (sub["subnet"], _network(sub)),
                          have_subnets, want_subnets),
        "reservations": _named(reservations, _describe_reservation, have_res, want_res),
        "client_classes": {kind: sorted(str(name) for name in names) for kind, names in classes.items()},
        "settings_changed": settings,
    }


def counts(config: dict) -> dict:
    """Subnets, reservations and client classes in a rendered or running config."""
    body = next(iter(config.values()))
    subnets = body.get("subnet4", body.get("subnet6", []))
    return {"subnets": len(subnets),
            "reservations": sum(len(subnet.get("reservations", ())) for subnet in subnets),
            "client_classes": len(body.get("client-classes", ()))}


def changed(summary: dict) -> bool:
    return bool(summary["settings_changed"]) or any(
        _count(summary[kind][change]) for kind in ("subnets", "reservations", "client_classes")
        for change in ("added", "removed", "changed"))


def render_text(summary: dict, sample: int = SAMPLE) -> str:
    """A few lines a person can read: totals first, then at most `sample` entries per change."""
    def total(kind):
        part = summary[kind]
        return "+%d -%d ~%d" % tuple(_count(part[change]) for change in ("added", "removed", "changed"))
    lines = ["%s: subnets %s, reservations %s, client classes %s, settings changed: %s" % (
        summary["family"], total("subnets"), total("reservations"), total("client_classes"),
        ", ".join(summary["settings_changed"]) or "none")]
    for kind, label in (("subnets", "subnet"), ("reservations", "reservation"), ("client_classes", "client class")):
        for change, mark in (("added", "+"), ("removed", "-"), ("changed", "~")):
            entries = summary[kind][change]
            shown = entries if isinstance(entries, list) else entries.get("sample", [])
            lines.extend("  %s %s %s" % (mark, label, entry) for entry in shown[:sample])
            hidden = _count(entries) - min(len(shown), sample)
            if hidden > 0:
                lines.append("  %s ... and %d more %s(s) %s" % (mark, hidden, label, change))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------

def _without(mapping, key):
    return {name: value for name, value in mapping.items() if name != key}


def _network(subnet):
    return (subnet.get("user-context") or {}).get("network", "id %s" % subnet.get("id"))


def _reservations(subnets):
    """(subnet id, identifier) -> reservation with its subnet prefix for the summary."""
    found = {}
    for ident, subnet in subnets.items():
        for reservation in subnet.get("reservations", []):
            key = reservation.get("hw-address") or reservation.get("duid")
            found[(ident, str(key).lower())] = dict(reservation, _subnet=subnet.get("subnet"))
    return found


def _describe_reservation(key, reservation):
    address = reservation.get("ip-address") or ", ".join(reservation.get("ip-addresses", []))
    return "%s (%s) %s in %s" % (reservation.get("hostname") or "-", key[1], address or "-", reservation["_subnet"])


def _compare(have, want, equal):
    added = [key for key in want if key not in have]
    removed = [key for key in have if key not in want]
    changed_keys = [key for key in want if key in have and not equal(have[key], want[key])]
    return {"added": added, "removed": removed, "changed": changed_keys}


def _named(result, describe, have, want):
    """Counts plus a sorted, bounded sample of descriptions."""
    out = {}
    for change, keys in result.items():
        source = have if change == "removed" else want
        names = sorted(describe(key, source[key]) for key in keys)
        out[change] = {"count": len(keys), "sample": names[:SAMPLE]}
    return out


def _count(entries):
    return entries["count"] if isinstance(entries, dict) else len(entries)
