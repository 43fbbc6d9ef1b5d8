"""Seeding a real NetBox through its REST API (never its database) from SoT records, for the tests and the benchmark.

    seeder = Seeder(url, token)
    seeder.schema()                       # the custom fields of plugins/module_utils/netbox/mapping.py
    seeder.fleet(networks, machines)      # raw SoT records (as in the YAML files)

The mapping read in reverse: each network becomes one prefix per family with role "provisioning" (its pool an IP
range), each machine a device with a provisioning interface (its primary MAC, addresses, the primary IP) and a BMC interface
holding its OOB IP. Objects are created in bulk requests of CHUNK.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import requests

from ansible_collections.netboot.fleet.plugins.module_utils.netbox import mapping

CHUNK = 250


class SeedError(Exception):
    pass


class Seeder:
    def __init__(self, url: str, token: str, prefix_role: str = "provisioning", device_role: str = "server",
                 parallel: int = 1):
        self.url = url.rstrip("/")
        self.headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json",
                        "Accept": "application/json"}
        self.parallel = parallel  # bulk requests in flight at once (NetBox runs several workers)
        self.prefix_role = prefix_role
        self.device_role = device_role
        self.ids = {}

    def api(self, method: str, path: str, data=None, params=None):
        answer = requests.request(method, "%s/api/%s" % (self.url, path), params=params, timeout=1800,
                                  headers=self.headers, data=json.dumps(data) if data is not None else None)
        if answer.status_code >= 400:
            raise SeedError("%s %s: HTTP %d: %s" % (method, path, answer.status_code, answer.text[:800]))
        return answer.json() if answer.text else None

    def one(self, path: str, lookup: dict, payload: dict) -> int:
        """The id of the object matching lookup, created from payload when there is none."""
        found = self.api("GET", path, params=lookup)["results"]
        return (found[0] if found else self.api("POST", path, payload))["id"]

    def bulk(self, method: str, path: str, items: list) -> list:
        chunks = [items[start:start + CHUNK] for start in range(0, len(items), CHUNK)]
        with ThreadPoolExecutor(self.parallel) as pool:
            answers = list(pool.map(lambda chunk: self.api(method, path, chunk), chunks))
        return [item for answer in answers for item in answer]

    def schema(self) -> None:
        """The custom fields the mapping reads, a provisioning role and what devices need (site, type, role)."""
        for custom in mapping.CUSTOM_FIELDS:
            payload = {"name": custom.name, "type": custom.kind, "object_types": [custom.object_type],
                       "required": False, "description": custom.description}
            if custom.choices:
                payload["choice_set"] = self.one("extras/custom-field-choice-sets/", {"name": custom.name}, {
                    "name": custom.name, "extra_choices": [[choice, choice] for choice in custom.choices]})
            self.one("extras/custom-fields/", {"name": custom.name}, payload)
        self.ids["role"] = self.one("ipam/roles/", {"slug": self.prefix_role},
                                    {"name": self.prefix_role.title(), "slug": self.prefix_role})
        self.ids["site"] = self.one("dcim/sites/", {"slug": "lab"}, {"name": "Lab", "slug": "lab", "status": "active"})
        manufacturer = self.one("dcim/manufacturers/", {"slug": "generic"}, {"name": "Generic", "slug": "generic"})
        self.ids["device_type"] = self.one("dcim/device-types/", {"slug": "server"}, {
            "manufacturer": manufacturer, "model": "Server", "slug": "server", "u_height": 1})
        self.ids["device_role"] = self.one("dcim/device-roles/", {"slug": self.device_role},
                                           {"name": self.device_role.title(), "slug": self.device_role, "color": "2196f3"})

    def networks(self, networks: list) -> None:
        prefixes, ranges = [], []
        for network in networks:
            for family in ("ipv4", "ipv6"):
                subnet = network.get(family)
                if not subnet:
                    continue
                custom = {"netboot_network": network["name"], "netboot_gateway": subnet["gateway"],
                          "netboot_dns_servers": ", ".join(network.get("dns_servers", [])) or None,
                          "netboot_domain": network.get("domain")}
                prefixes.append({"prefix": subnet["prefix"], "role": self.ids["role"], "status": "active",
                                 "custom_fields": custom})
                if subnet.get("pool"):
                    start, end = subnet["pool"].split("-")
                    length = subnet["prefix"].split("/")[1]
                    ranges.append({"start_address": "%s/%s" % (start, length), "end_address": "%s/%s" % (end, length),
                                   "role": self.ids["role"], "status": "active"})
        self.bulk("POST", "ipam/prefixes/", prefixes)
        if ranges:
            self.bulk("POST", "ipam/ip-ranges/", ranges)

    def machines(self, machines: list, lengths: dict) -> list:
        """lengths: {network name: {"ipv4": prefix length, "ipv6": prefix length}}. Returns the device ids."""
        racks = {rack["name"]: rack["id"] for rack in self.api(
            "GET", "dcim/racks/", params={"site_id": self.ids["site"], "limit": 0})["results"]}
        missing = sorted({machine["rack"] for machine in machines if machine.get("rack")} - set(racks))
        racks.update((rack["name"], rack["id"]) for rack in self.bulk("POST", "dcim/racks/", [
            {"name": name, "site": self.ids["site"], "status": "active"} for name in missing]))
        devices = self.bulk("POST", "dcim/devices/", [{
            "name": machine["name"], "device_type": self.ids["device_type"], "role": self.ids["device_role"],
            "site": self.ids["site"], "rack": racks.get(machine.get("rack")), "status": "active",
            "custom_fields": {
                "netboot_profile": machine.get("profile"), "netboot_firmware": machine["firmware"],
                "netboot_bmc_protocol": machine["bmc"]["protocol"], "netboot_bmc_port": machine["bmc"].get("port"),
                "netboot_duid": machine.get("duid"), "netboot_labels": machine.get("labels")}}
            for machine in machines])
        # An interface created with mac_address gets that MAC as its primary one (no MAC object to create).
        interfaces = self.bulk("POST", "dcim/interfaces/", [
            item for machine, device in zip(machines, devices) for item in (
                {"device": device["id"], "name": "eth0", "type": "25gbase-x-sfp28", "mac_address": machine["mac"]},
                {"device": device["id"], "name": "bmc", "type": "1000base-t", "mgmt_only": True})])
        provisioning, bmc = interfaces[0::2], interfaces[1::2]
        addresses, owners = [], []  # owners: (device index, device field) of each address
        for index, (machine, interface) in enumerate(zip(machines, provisioning)):
            for family in ("ipv4", "ipv6"):
                if machine.get(family):
                    addresses.append(_address(machine[family], lengths[machine["network"]][family], interface["id"]))
                    owners.append((index, "primary_ip%s" % family[-1]))
            bmc_address = machine["bmc"].get("address")
            if bmc_address:  # a machine without one stands for a device whose OOB IP nobody set
                addresses.append(_address(bmc_address, 128 if ":" in bmc_address else 32, bmc[index]["id"]))
                owners.append((index, "oob_ip"))
        created = self.bulk("POST", "ipam/ip-addresses/", addresses)
        patches = [{"id": device["id"]} for device in devices]
        for (index, key), address in zip(owners, created):
            patches[index][key] = address["id"]
        self.bulk("PATCH", "dcim/devices/", patches)
        return [device["id"] for device in devices]

    def fleet(self, networks: list, machines: list) -> list:
        self.schema()
        self.networks(networks)
        return self.machines(machines, prefix_lengths(networks))


def prefix_lengths(networks: list) -> dict:
    """{network name: {"ipv4": prefix length, "ipv6": prefix length}} of raw SoT networks."""
    return {network["name"]: {family: int(network[family]["prefix"].split("/")[1])
                              for family in ("ipv4", "ipv6") if network.get(family)}
            for network in networks}


def _address(address: str, length: int, interface: int) -> dict:
    return {"address": "%s/%d" % (address, length), "status": "active",
            "assigned_object_type": "dcim.interface", "assigned_object_id": interface}
