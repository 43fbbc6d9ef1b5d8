# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What is read from NetBox and which objects are selected: the GraphQL fields, the custom fields the mapping
uses (CUSTOM_FIELDS, the one definition the docs table and the tests' seeding read) and the selection settings.
docs/netbox.md has the mapping as a table; mapper.py applies it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# The GraphQL lists read, each whole, in pages (client.lists), and the fields read of each object. Flat lists
# joined here (mapper.nest) rather than nested ones: NetBox answers a device's nested interfaces, their tags and
# addresses with queries per device, several times slower than the flat lists. Tags are the costliest field
# NetBox resolves per object, so they are not read per interface: the interfaces carrying the provisioning tag
# come as a list of their own, filtered by NetBox (ids only); a device's tags are read only when the selection
# asks for device tags.
DEVICE_FIELDS = ("name status role { slug } rack { name } custom_fields "
                 "oob_ip { id address } primary_ip4 { id } primary_ip6 { id }")
DEVICE_TAG_FIELDS = "tags { slug }"
INTERFACE_FIELDS = "name device { id } primary_mac_address { mac_address }"
IP_ADDRESS_FIELDS = "address assigned_object { ... on InterfaceType { id } }"
PREFIX_FIELDS = "prefix role { slug } custom_fields"
IP_RANGE_FIELDS = "start_address end_address role { slug }"


def queries(selection: Selection) -> tuple:
    """What client.lists reads for this selection: (key, list name, GraphQL filter or "", fields) of each list."""
    device_fields = DEVICE_FIELDS + (" " + DEVICE_TAG_FIELDS if selection.device_tags else "")
    # json.dumps writes a valid GraphQL string literal (the same escapes), whatever the tag's name holds.
    tagged = "{tags: {slug: {exact: %s}}}" % json.dumps(selection.provisioning_tag)
    # The long lists first: a request's pages go round robin in this order.
    return (("devices", "device_list", "", device_fields), ("interfaces", "interface_list", "", INTERFACE_FIELDS),
            ("ip_addresses", "ip_address_list", "", IP_ADDRESS_FIELDS),
            ("tagged_interfaces", "interface_list", tagged, ""), ("prefixes", "prefix_list", "", PREFIX_FIELDS),
            ("ip_ranges", "ip_range_list", "", IP_RANGE_FIELDS))


# The NetBox page of each kind of object (client.object_url).
DEVICE_PATH = "dcim/devices"
INTERFACE_PATH = "dcim/interfaces"
PREFIX_PATH = "ipam/prefixes"
IP_RANGE_PATH = "ipam/ip-ranges"
IP_ADDRESS_PATH = "ipam/ip-addresses"


@dataclass(frozen=True)
class CustomField:
    """A NetBox custom field the mapping reads. kind: NetBox's type; choices for a selection."""
    name: str
    object_type: str
    kind: str
    sot_field: str
    required: bool
    choices: tuple = ()
    description: str = ""


CUSTOM_FIELDS = (
    CustomField("netboot_profile", "dcim.device", "text", "profile", True, description="SoT profile name"),
    CustomField("netboot_firmware", "dcim.device", "select", "firmware", True, ("bios", "uefi", "uefi-http")),
    CustomField("netboot_bmc_protocol", "dcim.device", "select", "bmc.protocol", True, ("ipmi", "redfish")),
    CustomField("netboot_bmc_port", "dcim.device", "integer", "bmc.port", False,
                description="BMC port when not the protocol's default"),
    CustomField("netboot_duid", "dcim.device", "text", "duid", False, description="DHCPv6 DUID"),
    CustomField("netboot_labels", "dcim.device", "json", "labels", False, description="free labels"),
    CustomField("netboot_network", "ipam.prefix", "text", "name", True,
                description="SoT network the prefix belongs to (an IPv4 and an IPv6 prefix may share it)"),
    CustomField("netboot_gateway", "ipam.prefix", "text", "ipv4/ipv6.gateway", True,
                description="the rack switch's relay address in this prefix"),
    CustomField("netboot_dns_servers", "ipam.prefix", "text", "dns_servers", False,
                description="DNS servers, separated by commas or spaces"),
    CustomField("netboot_domain", "ipam.prefix", "text", "domain", False),
)
FIELD_NAMES = {custom.sot_field: custom.name for custom in CUSTOM_FIELDS}


@dataclass(frozen=True)
class Selection:
    """Which NetBox objects become SoT records; also the argument spec of these options (settings.py)."""
    device_statuses: tuple = ("active", "planned", "staged")
    device_roles: tuple = ()
    device_tags: tuple = ()
    prefix_role: str = "provisioning"
    provisioning_tag: str = "netboot-provisioning"

    @classmethod
    def from_options(cls, options: dict) -> "Selection":
        return cls(**{name: tuple(options[name]) if isinstance(options[name], list) else options[name]
                      for name in cls.__dataclass_fields__})
