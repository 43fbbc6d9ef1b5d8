# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which boot events are whose: one machine's steps from every DHCP node's events (bringup/events.py).

Any anycast node may have served any step, so events are indexed across nodes:
  lease      first lease4 of its MAC, or lease6 of its DUID or hwaddr
  loader     first boot-loader fetch (TFTP or HTTP) from any of its addresses (SoT or leased)
  script     first successful fetch of ipxe/<mac>.ipxe
  kernel     first fetch of its profile's kernel from one of its addresses
  answer     first successful fetch of installer/<name>/...
  installing a file fetched from one of its addresses after its answer file (the installer at work)
  installed, booted   its callbacks, with the token of its own answer file (others are forged)
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import callback
from ansible_collections.netboot.fleet.plugins.module_utils.bringup.events import succeeded


def earliest(candidates):
    """The earliest (event, node) pair, ties broken by node name; None if there is none."""
    return min(candidates, key=lambda pair: (pair[0]["time"], pair[1]), default=None)


def duid_mac(duid):
    """The MAC inside a DUID-LLT (type 1) or DUID-LL (type 3) of Ethernet (hardware type 1), else None."""
    octets = (duid or "").split(":")
    if octets[:4] == ["00", "01", "00", "01"] and len(octets) == 14:
        return ":".join(octets[8:])
    if octets[:4] == ["00", "03", "00", "01"] and len(octets) == 10:
        return ":".join(octets[4:])
    return None


class Index:
    """Every node's events, indexed by (kind, key) -> [(event, node)]. observations: [{"node", "events"}]."""

    def __init__(self, observations):
        self.by_key = {}
        self.lease6_by_mac = {}
        for observation in observations:
            node = observation["node"]
            for event in observation.get("events") or []:
                self.by_key.setdefault((event["kind"], event["key"]), []).append((event, node))
                if event["kind"] == "lease6":
                    for mac in {event.get("mac"), duid_mac(event["key"])} - {None, ""}:
                        self.lease6_by_mac.setdefault(mac, []).append((event, node))

    def get(self, kind, key, ok=None, since=None):
        found = self.by_key.get((kind, key), [])
        return [pair for pair in found if (ok is None or succeeded(pair[0]) == ok)
                and (since is None or pair[0]["time"] >= since)]


def leases(machine, index, since=None):
    found = index.get("lease4", machine["mac"], since=since)
    if machine.get("duid"):
        found += index.get("lease6", machine["duid"], since=since)
    found += [pair for pair in index.lease6_by_mac.get(machine["mac"], [])
              if pair not in found and (since is None or pair[0]["time"] >= since)]
    return found


def addresses(machine, lease_pairs):
    return sorted({address for address in (machine.get("ipv4"), machine.get("ipv6")) if address}
                  | {pair[0]["client"] for pair in lease_pairs})


def machine_events(machine, index):
    """{step: (event, node)} of one machine from every node's events (the report's first-seen steps)."""
    found = {}
    lease_pairs = leases(machine, index)
    lease = earliest(lease_pairs)
    if lease:
        found["lease"] = lease
    clients = addresses(machine, lease_pairs)
    loader = earliest(pair for address in clients for pair in index.get("loader", address, ok=True))
    if loader:
        found["loader"] = loader
    script = earliest(index.get("script", machine["mac"], ok=True))
    if script:
        found["script"] = script
    answer = earliest(index.get("answer", machine["name"], ok=True))
    if answer:
        found["answer"] = answer
    found["_script_refused"] = earliest(index.get("script", machine["mac"], ok=False))
    found["_entry"] = earliest(pair for address in clients for pair in index.get("entry", address, ok=True))
    return found


def url_path(path):
    """A profile's kernel/initrd as the access log has it: the URL's path, or the HTTP-root-relative path."""
    return (urlsplit(path).path if "://" in path else path).lstrip("/")


def _refusal(pair):
    event, node = pair
    if 200 <= (event["status"] or 200) < 400:
        return event["time"], "GET /%s was cut short (%s)" % (event["detail"], node)
    return event["time"], "GET /%s answered HTTP %s by %s" % (event["detail"], event["status"], node)


def attempt_steps(machine, profile, index, since, key):
    """(seen, refused, forged) of one attempt of a machine, from `since` on.

    seen, refused: {lifecycle state: (time, detail)}: the first success of each step, and the first
    failed request of a step (an HTTP error, or an answer cut short); forged: callbacks naming this machine
    with another token, as (time, client, phase) tuples.
    """
    seen, refused = {}, {}

    def take(step, pair, detail=None):
        if pair:
            seen[step] = (pair[0]["time"], detail or "%s (%s)" % (pair[0]["detail"], pair[1]))

    lease_pairs = leases(machine, index, since)
    take("dhcp", earliest(lease_pairs))
    clients = addresses(machine, lease_pairs)
    take("loader", earliest(pair for address in clients for pair in index.get("loader", address, ok=True, since=since)))
    take("script", earliest(index.get("script", machine["mac"], ok=True, since=since)))
    script_refused = earliest(index.get("script", machine["mac"], ok=False, since=since))
    if script_refused:
        refused["script"] = _refusal(script_refused)
    files = [pair for address in clients for pair in index.get("file", address, since=since)]
    boot_files = {url_path(profile["kernel"]), url_path(profile["initrd"])}
    for step, wanted in (("kernel", boot_files),):
        take(step, earliest(pair for pair in files if pair[0]["detail"] in wanted and succeeded(pair[0])))
        bad = earliest(pair for pair in files if pair[0]["detail"] in wanted and not succeeded(pair[0]))
        if bad:
            refused[step] = _refusal(bad)
    take("answer", earliest(index.get("answer", machine["name"], ok=True, since=since)))
    answer_refused = earliest(index.get("answer", machine["name"], ok=False, since=since))
    if answer_refused:
        refused["answer"] = _refusal(answer_refused)
    if "answer" in seen:
        after = seen["answer"][0]
        take("installing", earliest(pair for pair in files if pair[0]["time"] >= after
                                    and pair[0]["detail"] not in boot_files and succeeded(pair[0])))
        bad = earliest(pair for pair in files if pair[0]["time"] >= after and not succeeded(pair[0]))
        if bad:
            refused["installing"] = _refusal(bad)
    forged = []
    for phase in ("installed", "booted"):
        calls = [pair for pair in index.get("callback", machine["name"], since=since) if pair[0]["detail"] == phase]
        good = [pair for pair in calls if callback.valid(key, machine["name"], machine["mac"], pair[0].get("token"))]
        forged += [(pair[0]["time"], pair[0]["client"], phase, pair[1]) for pair in calls if pair not in good]
        first = earliest(good)
        if first:
            seen[phase] = (first[0]["time"], "callback from %s (%s)" % (first[0]["client"], first[1]))
    return seen, refused, sorted(forged)
