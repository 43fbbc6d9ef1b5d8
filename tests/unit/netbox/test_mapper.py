"""The NetBox -> SoT mapping on GraphQL-shaped data (the real NetBox path: tests/integration/netbox/)."""

import copy

from ansible_collections.netboot.fleet.plugins.module_utils.netbox import export
from ansible_collections.netboot.fleet.plugins.module_utils.netbox.mapper import map_netbox, nest
from ansible_collections.netboot.fleet.plugins.module_utils.netbox.mapping import Selection


def url(path, ident):
    return "https://nb.example.net/%s/%s/" % (path, ident)


def prefix(ident, cidr, network, gateway, **custom):
    return {"id": str(ident), "prefix": cidr, "role": {"slug": "provisioning"},
            "custom_fields": dict(netboot_network=network, netboot_gateway=gateway, **custom)}


def device(ident, name, addresses, oob="192.0.2.100/32", **custom):
    fields = {"netboot_profile": "debian12", "netboot_firmware": {"value": "uefi", "label": "UEFI"},
              "netboot_bmc_protocol": "ipmi", "netboot_bmc_port": None}
    fields.update(custom)
    return {
        "id": str(ident), "name": name, "status": "ACTIVE", "role": {"slug": "server"}, "tags": [],
        "rack": {"name": "r12"}, "custom_fields": fields,
        "oob_ip": {"id": "900", "address": oob} if oob else None,
        "primary_ip4": {"id": "%d0" % ident}, "primary_ip6": None,
        "interfaces": [
            {"id": "%d1" % ident, "name": "bmc", "tagged": False, "primary_mac_address": None, "ip_addresses": []},
            {"id": "%d2" % ident, "name": "eth0", "tagged": False, "primary_mac_address": {"mac_address": "52:54:00:AB:00:%02X" % ident},
             "ip_addresses": [{"id": "%d%d" % (ident, index), "address": address} for index, address in enumerate(addresses)]},
        ],
    }


DATA = {
    "prefixes": [
        prefix(1, "198.51.100.0/26", "rack12", "198.51.100.1", netboot_dns_servers="192.0.2.53, 2001:db8::53",
               netboot_domain="rack12.example.net"),
        prefix(2, "2001:db8:12::/64", "rack12", "2001:db8:12::1", netboot_domain="rack12.example.net"),
        {"id": "3", "prefix": "203.0.113.0/24", "role": {"slug": "other"}, "custom_fields": {}},
    ],
    "ip_ranges": [{"id": "1", "start_address": "198.51.100.50/26", "end_address": "198.51.100.60/26", "role": None}],
    "devices": [device(1, "web1", ["198.51.100.12/26", "2001:db8:12::12/64"])],
}


def test_a_device_and_two_prefixes_map_to_one_machine_and_one_dual_stack_network():
    mapped = map_netbox(DATA, Selection(), url)
    assert mapped.problems == []
    assert mapped.networks == [("https://nb.example.net/ipam/prefixes/1/", {
        "name": "rack12", "dns_servers": ["192.0.2.53", "2001:db8::53"], "domain": "rack12.example.net",
        "ipv4": {"prefix": "198.51.100.0/26", "gateway": "198.51.100.1", "pool": "198.51.100.50-198.51.100.60"},
        "ipv6": {"prefix": "2001:db8:12::/64", "gateway": "2001:db8:12::1"}})]
    assert mapped.machines == [("https://nb.example.net/dcim/devices/1/", {
        "name": "web1", "mac": "52:54:00:ab:00:01", "ipv4": "198.51.100.12", "ipv6": "2001:db8:12::12",
        "network": "rack12", "rack": "r12", "profile": "debian12", "firmware": "uefi",
        "bmc": {"address": "192.0.2.100", "protocol": "ipmi"}})]
    text = export.document(mapped, "https://nb.example.net")
    assert text.startswith("# Written by netboot.fleet from NetBox (https://nb.example.net)")


def test_every_unmappable_object_is_reported_with_its_url():
    data = copy.deepcopy(DATA)
    data["devices"] = [
        device(2, "no-profile", ["198.51.100.13/26"], netboot_profile=""),
        device(3, "no-oob", ["198.51.100.14/26"], oob=None),
        device(4, "outside", ["198.51.100.70/26"]),
        device(5, "fine", ["198.51.100.15/26"]),
    ]
    mapped = map_netbox(data, Selection(), url)
    assert [str(problem) for problem in mapped.problems] == [
        "https://nb.example.net/dcim/devices/2/: device no-profile.custom_fields.netboot_profile: is not set",
        "https://nb.example.net/dcim/devices/3/: device no-oob.oob_ip: is not set (it is the BMC's address)",
        "https://nb.example.net/ipam/ip-addresses/40/: IP address 198.51.100.70/26.address: of interface outside eth0 "
        "is outside every prefix with role provisioning",
    ]
    assert [raw["name"] for _url, raw in mapped.machines] == ["fine"]


def test_selection_by_status_role_and_tag():
    data = copy.deepcopy(DATA)
    data["devices"][0]["status"] = "OFFLINE"
    assert map_netbox(data, Selection(), url).machines == []
    data["devices"][0]["status"] = "planned"
    assert len(map_netbox(data, Selection(), url).machines) == 1
    assert map_netbox(data, Selection(device_roles=("storage",)), url).machines == []
    assert map_netbox(data, Selection(device_tags=("netboot",)), url).machines == []
    data["devices"][0]["tags"] = [{"slug": "netboot"}]
    assert len(map_netbox(data, Selection(device_tags=("netboot",)), url).machines) == 1


def test_the_tagged_interface_wins_over_the_primary_ip_one():
    data = copy.deepcopy(DATA)
    bmc, eth0 = data["devices"][0]["interfaces"]
    bmc.update(tagged=True, primary_mac_address={"mac_address": "52:54:00:ff:ff:ff"},
               ip_addresses=[{"id": "77", "address": "198.51.100.20/26"}])
    (_url, machine), = map_netbox(data, Selection(), url).machines
    assert (machine["mac"], machine["ipv4"]) == ("52:54:00:ff:ff:ff", "198.51.100.20")
    assert "ipv6" not in machine
    assert eth0["name"] == "eth0"


def test_prefix_problems_conflicting_domain_two_pools_no_network_name():
    data = copy.deepcopy(DATA)
    data["prefixes"][1]["custom_fields"]["netboot_domain"] = "other.example.net"
    data["prefixes"].append(prefix(4, "198.51.100.128/26", "rack14", "198.51.100.129"))
    data["ip_ranges"] += [{"id": "2", "start_address": "198.51.100.140/26", "end_address": "198.51.100.150/26"},
                          {"id": "3", "start_address": "198.51.100.160/26", "end_address": "198.51.100.170/26"}]
    data["prefixes"].append(prefix(5, "198.51.100.192/26", None, "198.51.100.193"))
    problems = [str(problem) for problem in map_netbox(data, Selection(), url).problems]
    assert problems == [
        "https://nb.example.net/ipam/prefixes/2/: prefix 2001:db8:12::/64.custom_fields.netboot_domain: differs "
        "from the other prefix of network rack12: https://nb.example.net/ipam/prefixes/1/",
        "https://nb.example.net/ipam/prefixes/4/: prefix 198.51.100.128/26.ip_ranges: holds 2 IP ranges "
        "(198.51.100.140-198.51.100.150, 198.51.100.160-198.51.100.170): a network has one pool",
        "https://nb.example.net/ipam/prefixes/5/: prefix 198.51.100.192/26.custom_fields.netboot_network: is not set",
    ]


def test_nest_joins_the_flat_lists_and_marks_the_tagged_interfaces():
    lists = {
        "devices": [{"id": "1", "name": "web1"}, {"id": "2", "name": "web2"}],
        "interfaces": [{"id": "10", "device": {"id": "1"}}, {"id": "11", "device": {"id": "1"}},
                       {"id": "20", "device": {"id": "2"}}],
        "tagged_interfaces": [{"id": "11"}],
        "ip_addresses": [{"id": "100", "address": "198.51.100.12/26", "assigned_object": {"id": "11"}},
                         {"id": "101", "address": "198.51.100.13/26", "assigned_object": None},
                         {"id": "102", "address": "2001:db8:12::12/64", "assigned_object": {"id": "11"}}],
        "prefixes": [], "ip_ranges": [],
    }
    devices = nest(lists)["devices"]
    assert [[(interface["id"], interface["tagged"], [address["id"] for address in interface["ip_addresses"]])
             for interface in device["interfaces"]] for device in devices] == [
        [("10", False, []), ("11", True, ["100", "102"])], [("20", False, [])]]
