# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NetBox -> one SoT file: read (client), map (mapper), validate with the rest of the SoT directory, render.

    text, fleet = export.export(client, selection, sot_dir, dest)

Nothing is written here: the caller writes text (write_file) only when this raised nothing, so an invalid or
unreadable NetBox never leaves a partial SoT behind.
"""

from __future__ import annotations

import os

try:
    import yaml
except ImportError:  # reported by export() with an install hint
    yaml = None

from ansible_collections.netboot.fleet.plugins.module_utils.atomic_file import replace_text
from ansible_collections.netboot.fleet.plugins.module_utils.netbox import mapping
from ansible_collections.netboot.fleet.plugins.module_utils.netbox.mapper import map_netbox, nest
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot

# The order of a machine's fields in the written file: the order of the hand-written SoT.
MACHINE_ORDER = ("name", "mac", "ipv4", "ipv6", "duid", "network", "rack", "profile", "firmware", "bmc", "labels")
NETWORK_ORDER = ("name", "ipv4", "ipv6", "dns_servers", "domain")
HEADER = "# Written by netboot.fleet from NetBox (%s): change the data there, not here.\n"


def read_netbox(client, selection: mapping.Selection) -> dict:
    """{"devices": [...], "prefixes": [...], "ip_ranges": [...]}: every GraphQL list read whole, and the devices'
    interfaces and addresses nested in them."""
    return nest(client.lists(mapping.queries(selection)))


def export(client, selection: mapping.Selection, sot_dir: str, dest: str) -> tuple:
    """(text of the SoT file dest, the validated SoT of sot_dir with dest replaced by it).

    Raises client.NetBoxError when NetBox cannot be read, sot.SotError listing every problem (each with its
    NetBox URL) when what it holds does not map or does not validate together with the other files of sot_dir."""
    if not (sot.HAS_YAML and sot.HAS_NETADDR):
        raise ImportError("netboot.fleet needs the Python libraries netaddr and PyYAML (pip install netaddr pyyaml)")
    mapped = map_netbox(read_netbox(client, selection), selection, client.object_url)
    return document(mapped, client.base_url), validated(mapped, sot_dir, dest)


def validated(mapped, sot_dir: str, dest: str):
    """The SoT of sot_dir's other files and the mapped records, validated as one; each record is its own source
    (its NetBox URL), so that every problem names the object to fix."""
    dest = os.path.abspath(dest)
    others = []
    if os.path.exists(sot_dir):
        others = [sot.read_source(path) for path in sot.source_files(sot_dir) if os.path.abspath(path) != dest]
    contents = others + [(url, None, {"networks": [raw]}, []) for url, raw in mapped.networks]
    contents += [(url, None, {"machines": [raw]}, []) for url, raw in mapped.machines]
    try:
        result = sot.validate(sot_dir, contents)
    except sot.SotError as exc:
        raise sot.SotError(mapped.problems + exc.problems) from None
    if mapped.problems:
        raise sot.SotError(mapped.problems)
    return result.sot()


def document(mapped, url: str) -> str:
    """The SoT file's text: networks and machines sorted by name, fields in the hand-written order."""
    networks = sorted((_ordered(raw, NETWORK_ORDER) for _url, raw in mapped.networks), key=lambda raw: raw["name"])
    machines = sorted((_ordered(raw, MACHINE_ORDER) for _url, raw in mapped.machines), key=lambda raw: raw["name"])
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    body = yaml.dump({"networks": networks, "machines": machines}, Dumper=dumper, sort_keys=False,
                     default_flow_style=False, width=120)
    return HEADER % url + "---\n" + body


def _ordered(raw: dict, order: tuple) -> dict:
    return {key: raw[key] for key in order if key in raw}


def write_file(path: str, text: str) -> bool:
    """Writes text to path atomically (a reader sees the old file or the new one); False if it was already so."""
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text:
                return False
    except FileNotFoundError:
        pass
    replace_text(path, text)
    return True
