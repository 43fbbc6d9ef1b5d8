# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NetBox objects -> raw SoT records (the mapping of docs/netbox.md). Pure: no I/O.

Each record comes out with the NetBox URL of its object, so that the SoT's own validation, which runs on these
records next (export.py), names that URL in its problems; what cannot be mapped at all is reported here, one
problem per object, also with its URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

try:
    from netaddr import AddrFormatError, IPAddress, IPNetwork
except ImportError:  # pragma: no cover - reported by sot.files.read_sources
    pass

from ansible_collections.netboot.fleet.plugins.module_utils.netbox import mapping
from ansible_collections.netboot.fleet.plugins.module_utils.problems import Problem


@dataclass
class Mapped:
    """networks and machines: [(NetBox URL, raw SoT record)]; problems: [Problem] naming URLs."""
    networks: list = field(default_factory=list)
    machines: list = field(default_factory=list)
    problems: list = field(default_factory=list)


def nest(lists: dict) -> dict:
    """The flat lists read (mapping.queries) as map_netbox takes them: each device with its "interfaces", each
    interface with its "ip_addresses" and "tagged" (it carries the provisioning tag)."""
    addresses = {}
    for address in lists["ip_addresses"]:
        owner = (address.get("assigned_object") or {}).get("id")
        if owner is not None:
            addresses.setdefault(owner, []).append(address)
    tagged = {interface["id"] for interface in lists["tagged_interfaces"]}
    interfaces = {}
    for interface in lists["interfaces"]:
        interface["ip_addresses"] = addresses.get(interface["id"], [])
        interface["tagged"] = interface["id"] in tagged
        interfaces.setdefault((interface.get("device") or {}).get("id"), []).append(interface)
    for device in lists["devices"]:
        device["interfaces"] = interfaces.get(device["id"], [])
    return {"devices": lists["devices"], "prefixes": lists["prefixes"], "ip_ranges": lists["ip_ranges"]}


def map_netbox(data: dict, selection: mapping.Selection, object_url) -> Mapped:
    """data: {"devices": [...], "prefixes": [...], "ip_ranges": [...]}, devices nested (nest()): an interface's
    "tagged" says it carries selection.provisioning_tag;
    object_url(path, id) -> the NetBox URL of an object."""
    mapped = Mapped()
    networks, prefixes = _networks(data["prefixes"], data["ip_ranges"], selection, object_url, mapped.problems)
    mapped.networks = list(networks.values())
    for device in data["devices"]:
        if _selected(device, selection):
            machine = _machine(device, prefixes, selection, object_url, mapped.problems)
            if machine is not None:
                mapped.machines.append(machine)
    return mapped


def _selected(device, selection) -> bool:
    if device.get("status", "").lower() not in selection.device_statuses:
        return False
    if selection.device_roles and (device.get("role") or {}).get("slug") not in selection.device_roles:
        return False
    tags = {tag["slug"] for tag in device.get("tags") or ()}
    return all(tag in tags for tag in selection.device_tags)


def _networks(prefixes, ip_ranges, selection, object_url, problems):
    """({network name: (URL, raw network)}, [(IPNetwork, network name)] of the provisioning prefixes)."""
    ranges = [(_address(item["start_address"]), _address(item["end_address"]), item) for item in ip_ranges]
    networks, parsed = {}, []
    for prefix in prefixes:
        if (prefix.get("role") or {}).get("slug") != selection.prefix_role:
            continue
        url = object_url(mapping.PREFIX_PATH, prefix["id"])
        record = "prefix %s" % prefix["prefix"]
        custom = _custom_fields(prefix)
        missing = [name for name in ("netboot_network", "netboot_gateway") if custom.get(name) in (None, "")]
        for name in missing:
            problems.append(Problem(url, record, "custom_fields." + name, "is not set"))
        try:
            network = IPNetwork(prefix["prefix"])
        except (AddrFormatError, ValueError):
            problems.append(Problem(url, record, "prefix", "is not an IP prefix"))
            continue
        if missing:
            continue
        name = custom["netboot_network"]
        family = "ipv%d" % network.version
        subnet = {"prefix": prefix["prefix"], "gateway": str(custom["netboot_gateway"])}
        pools = ["%s-%s" % (start, end) for start, end, _item in ranges
                 if start is not None and end is not None and start in network and end in network]
        if len(pools) > 1:
            problems.append(Problem(url, record, "ip_ranges", "holds %d IP ranges (%s): a network has one pool"
                                    % (len(pools), ", ".join(pools))))
            continue
        if pools:
            subnet["pool"] = pools[0]
        dns = str(custom.get("netboot_dns_servers") or "").replace(",", " ").split()
        domain = custom.get("netboot_domain") or None
        if name not in networks:
            raw = {"name": name}
            if dns:
                raw["dns_servers"] = dns
            if domain:
                raw["domain"] = domain
            networks[name] = (url, raw)
        else:
            first_url, raw = networks[name]
            if family in raw:
                problems.append(Problem(url, record, "custom_fields.netboot_network", "network %s already has an %s "
                                        "prefix: %s" % (name, family, first_url)))
                continue
            for key, value in (("dns_servers", dns), ("domain", domain)):
                if value and raw.setdefault(key, value) != value:
                    problems.append(Problem(url, record, "custom_fields." + mapping.FIELD_NAMES[key],
                                            "differs from the other prefix of network %s: %s" % (name, first_url)))
        networks[name][1][family] = subnet
        parsed.append((network, name))
    # Longest prefix first: an address belongs to the most specific provisioning prefix holding it.
    parsed.sort(key=lambda item: -item[0].prefixlen)
    return networks, parsed


def _machine(device, prefixes, selection, object_url, problems):
    """(URL, raw machine) of one device, or None after reporting why it cannot be mapped."""
    url = object_url(mapping.DEVICE_PATH, device["id"])
    name = device.get("name") or ""
    record = "device %s" % (name or device["id"])
    found = len(problems)
    custom = _custom_fields(device)
    for custom_field in mapping.CUSTOM_FIELDS:
        if custom_field.object_type == "dcim.device" and custom_field.required and custom.get(custom_field.name) in (None, ""):
            problems.append(Problem(url, record, "custom_fields." + custom_field.name, "is not set"))
    oob = (device.get("oob_ip") or {}).get("address")
    if not oob:
        problems.append(Problem(url, record, "oob_ip", "is not set (it is the BMC's address)"))
    interface = _provisioning_interface(device)
    if interface is None:
        problems.append(Problem(url, record, "interfaces", "none is tagged %s and none holds the primary IP"
                                % selection.provisioning_tag))
        return None
    interface_url = object_url(mapping.INTERFACE_PATH, interface["id"])
    interface_record = "interface %s %s" % (name, interface.get("name"))
    mac = (interface.get("primary_mac_address") or {}).get("mac_address")
    if not mac:
        problems.append(Problem(interface_url, interface_record, "primary_mac_address", "is not set"))
    addresses, networks = {}, set()
    for address in interface.get("ip_addresses") or ():
        ip_url = object_url(mapping.IP_ADDRESS_PATH, address["id"])
        value = _address(address["address"])
        if value is None:
            problems.append(Problem(ip_url, "IP address %s" % address["address"], "address", "is not an IP address"))
            continue
        family = "ipv%d" % value.version
        network = next((network_name for prefix, network_name in prefixes if value in prefix), None)
        if network is None:
            problems.append(Problem(ip_url, "IP address %s" % address["address"], "address",
                                    "of %s is outside every prefix with role %s" % (interface_record, selection.prefix_role)))
            continue
        if family in addresses:
            problems.append(Problem(interface_url, interface_record, "ip_addresses",
                                    "holds two %s addresses in provisioning prefixes (%s, %s)"
                                    % (family, addresses[family], value)))
            continue
        addresses[family] = str(value)
        networks.add(network)
    if len(networks) > 1:
        problems.append(Problem(interface_url, interface_record, "ip_addresses",
                                "addresses are in different networks (%s)" % ", ".join(sorted(networks))))
    elif not networks and len(problems) == found:
        problems.append(Problem(interface_url, interface_record, "ip_addresses",
                                "no address in a prefix with role %s" % selection.prefix_role))
    if len(problems) > found:
        return None
    machine = {"name": name, "mac": mac.lower()}
    machine.update(addresses)
    if custom.get("netboot_duid"):
        machine["duid"] = custom["netboot_duid"]
    machine["network"] = networks.pop()
    if device.get("rack"):
        machine["rack"] = device["rack"]["name"]
    machine["profile"] = custom["netboot_profile"]
    machine["firmware"] = custom["netboot_firmware"]
    bmc = {"address": str(_address(oob)), "protocol": custom["netboot_bmc_protocol"]}
    if custom.get("netboot_bmc_port") is not None:
        bmc["port"] = custom["netboot_bmc_port"]
    machine["bmc"] = bmc
    if custom.get("netboot_labels"):
        machine["labels"] = custom["netboot_labels"]
    return url, machine


def _custom_fields(item) -> dict:
    """The object's custom fields, a selection's {"value", "label"} read as its value."""
    return {name: value["value"] if isinstance(value, dict) and set(value) == {"value", "label"} else value
            for name, value in (item.get("custom_fields") or {}).items()}


def _provisioning_interface(device):
    """The interface tagged for provisioning, else the one holding the device's primary IP."""
    interfaces = device.get("interfaces") or ()
    for interface in interfaces:
        if interface.get("tagged"):
            return interface
    primary = {(device.get(key) or {}).get("id") for key in ("primary_ip4", "primary_ip6")} - {None}
    for interface in interfaces:
        if any(address["id"] in primary for address in interface.get("ip_addresses") or ()):
            return interface
    return None


def _address(text):
    """The IPAddress of "address/length" or "address", or None."""
    try:
        return IPAddress(str(text).split("/", 1)[0])
    except (AddrFormatError, ValueError, TypeError):
        return None
