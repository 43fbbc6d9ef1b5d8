# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The validated fleet as typed records: what every renderer reads.

Treat the records as read-only (not frozen: frozen dataclasses cost more per record at fleet scale).
"""

from __future__ import annotations

from dataclasses import dataclass, field


FIRMWARES = ("bios", "uefi", "uefi-http")
BMC_PROTOCOLS = ("ipmi", "redfish")
# The port a BMC answers on when its record names none.
BMC_DEFAULT_PORTS = {"ipmi": 623, "redfish": 443}
INSTALLERS = ("preseed", "kickstart", "autoinstall", "minimal")
# Inventory group names the plugin creates itself; a network or rack may not take them.
RESERVED_GROUPS = ("all", "ungrouped", "machines", "dhcp_nodes")
# The groups the plugin makes per rack and per profile: rack_<rack>, profile_<profile>.
RACK_GROUP_PREFIX = "rack_"
PROFILE_GROUP_PREFIX = "profile_"
GENERATED_GROUP_PREFIXES = (RACK_GROUP_PREFIX, PROFILE_GROUP_PREFIX)


@dataclass(slots=True)
class Bmc:
    address: str
    protocol: str
    port: int | None = None

    def as_dict(self) -> dict:
        record = {"address": self.address, "protocol": self.protocol}
        if self.port is not None:
            record["port"] = self.port
        return record


@dataclass(slots=True)
class Machine:
    name: str
    mac: str
    network: str
    profile: str
    firmware: str
    bmc: Bmc
    ipv4: str | None = None
    ipv6: str | None = None
    duid: str | None = None
    rack: str | None = None
    labels: dict = field(default_factory=dict)
    source: str = ""

    @property
    def address(self) -> str:
        """The address Ansible would reach the machine at: IPv4 first."""
        return self.ipv4 or self.ipv6

    def as_dict(self) -> dict:
        """The record as plain data (the `netboot` host variable); unset optional fields are left out.

        Ansible tags every value of every host variable, so each leaf left out saves work at 100k hosts.
        """
        record = {"name": self.name, "mac": self.mac, "network": self.network, "profile": self.profile,
                  "firmware": self.firmware, "bmc": self.bmc.as_dict()}
        for key in ("ipv4", "ipv6", "duid", "rack"):
            value = getattr(self, key)
            if value is not None:
                record[key] = value
        if self.labels:
            record["labels"] = dict(self.labels)
        return record


@dataclass(slots=True)
class Subnet:
    """One address family of a network. gateway is the relay (giaddr / link-address)."""
    prefix: str
    gateway: str
    pool: str | None = None

    def as_dict(self) -> dict:
        return {"prefix": self.prefix, "gateway": self.gateway, "pool": self.pool}


@dataclass(slots=True)
class Network:
    name: str
    ipv4: Subnet | None = None
    ipv6: Subnet | None = None
    dns_servers: tuple = ()
    domain: str | None = None
    source: str = ""

    def as_dict(self) -> dict:
        return {
            "name": self.name, "domain": self.domain, "dns_servers": list(self.dns_servers),
            "ipv4": self.ipv4.as_dict() if self.ipv4 else None,
            "ipv6": self.ipv6.as_dict() if self.ipv6 else None,
        }


@dataclass(slots=True)
class Profile:
    name: str
    installer: str
    kernel: str
    initrd: str
    cmdline: str = ""
    disk: str = "/dev/sda"
    packages: tuple = ()
    template: str | None = None
    mirror: str | None = None
    proxy: str | None = None
    source: str = ""

    def as_dict(self) -> dict:
        return {
            "name": self.name, "installer": self.installer, "kernel": self.kernel,
            "initrd": self.initrd, "cmdline": self.cmdline, "disk": self.disk,
            "packages": list(self.packages), "template": self.template, "mirror": self.mirror, "proxy": self.proxy,
        }


@dataclass(slots=True)
class Peer:
    address: str
    asn: int
    name: str | None = None

    def as_dict(self) -> dict:
        return {"address": self.address, "asn": self.asn, "name": self.name}


@dataclass(slots=True)
class DhcpNode:
    name: str
    address: str
    asn: int
    peers: tuple = ()
    address6: str | None = None
    source: str = ""

    def as_dict(self) -> dict:
        return {
            "name": self.name, "address": self.address, "address6": self.address6,
            "asn": self.asn, "peers": [peer.as_dict() for peer in self.peers],
        }


@dataclass(slots=True)
class Fabric:
    anycast_ipv4: str | None
    anycast_ipv6: str | None
    asn: int
    pxe_ipv4: str | None
    pxe_ipv6: str | None
    http_port: int = 80

    def as_dict(self) -> dict:
        return {
            "anycast": {"ipv4": self.anycast_ipv4, "ipv6": self.anycast_ipv6},
            "asn": self.asn,
            "pxe": {"ipv4": self.pxe_ipv4, "ipv6": self.pxe_ipv6, "http_port": self.http_port},
        }


@dataclass
class Sot:
    """The validated fleet. Record tuples are sorted by name."""
    fabric: Fabric
    dhcp_nodes: tuple
    networks: tuple
    profiles: tuple
    machines: tuple
    sources: tuple = ()
    _networks: dict = field(init=False, repr=False)
    _profiles: dict = field(init=False, repr=False)

    def __post_init__(self):
        self._networks = {network.name: network for network in self.networks}
        self._profiles = {profile.name: profile for profile in self.profiles}

    def network(self, name: str) -> Network:
        return self._networks[name]

    def profile(self, name: str) -> Profile:
        return self._profiles[name]
