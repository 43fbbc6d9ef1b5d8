# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NetBox options of netbox_export and the netboot.fleet.netbox inventory source (module_utils/netbox/)."""

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  url:
    description: Base URL of NetBox, e.g. V(https://netbox.example.net).
    type: str
    required: true
  validate_certs:
    description: Whether NetBox's TLS certificate is verified. Turn it off only for a test NetBox.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each answer of NetBox.
    type: int
    default: 60
  retries:
    description:
      - How many times a request is sent again after a connection error, a timeout or an HTTP 429/502/503/504
        answer, waiting 1, 2, 4 ... seconds in between. A refused token is never retried.
    type: int
    default: 3
  page_size:
    description:
      - Objects asked for per page; one request carries a page of each list and up to 10 more.
      - Must not exceed the NetBox server's C(MAX_PAGE_SIZE) (1000 unless configured). NetBox cuts a larger
        page down to it without saying so, and a page shorter than this size ends its list.
    type: int
    default: 1000
  device_statuses:
    description: Devices in one of these statuses become machines.
    type: list
    elements: str
    default: [active, planned, staged]
  device_roles:
    description: Slugs of the device roles that become machines; empty for every role.
    type: list
    elements: str
    default: []
  device_tags:
    description: Tag slugs a device must carry (all of them) to become a machine; empty for no tag.
    type: list
    elements: str
    default: []
  prefix_role:
    description: Slug of the IPAM role of the prefixes that become networks.
    type: str
    default: provisioning
  provisioning_tag:
    description:
      - Tag slug of the interface that provisions a device (MAC and addresses). Without it, the interface that holds
        the device's primary IPv4 or IPv6 address.
    type: str
    default: netboot-provisioning
notes:
  - The mapping from NetBox objects and custom fields to the SoT is the table of the collection's C(docs/netbox.md).
  - Devices, interfaces, IP addresses, prefixes and IP ranges are read with GraphQL in pages, one request carrying
    a page of each list and up to 10 more as aliases (NetBox's default C(GRAPHQL_MAX_ALIASES)).
"""
