#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done on the controller by plugins/action/netbox_export.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: netbox_export
short_description: Write the networks and machines of the source of truth from NetBox
description:
  - Reads devices, interfaces, IP addresses, prefixes and IP ranges from NetBox in bulk (GraphQL), maps them to SoT
    networks and machines
    (the table of C(docs/netbox.md)) and writes them as one SoT file, O(dest), to review and commit like any
    other SoT file. The fabric, the DHCP nodes and the profiles stay in the other files of the SoT directory.
  - The result is validated together with the other files of the SoT directory, exactly as the SoT loader
    validates files. Every problem is reported at once, each with the URL of the NetBox object to fix; then
    nothing is written.
  - When NetBox cannot be read (down, slow, token refused) the task fails with that reason and nothing is written.
  - Runs on the controller (action plugin). Check mode reports whether O(dest) would change; with C(--diff) it
    shows how.
version_added: 1.1.0
author: netboot.fleet developers (@netboot-fleet)
options:
  token:
    description:
      - NetBox API token (v2 C(nbt_...) tokens are sent as Bearer, older ones as Token). Defaults to the
        environment variable E(NETBOX_TOKEN) of the controller. Keep it in ansible-vault or the environment.
    type: str
  dest:
    description: The SoT file to write, inside the SoT directory O(sot).
    type: path
    required: true
  sot:
    description:
      - The SoT directory whose other files (fabric, DHCP nodes, profiles) are validated together with O(dest).
        Defaults to the directory of O(dest).
    type: path
extends_documentation_fragment:
  - netboot.fleet.netbox
  - netboot.fleet.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  diff_mode:
    support: full
requirements:
  - netaddr
  - PyYAML
"""

EXAMPLES = r"""
- name: Write the machines and networks of the SoT from NetBox (token from NETBOX_TOKEN)
  netboot.fleet.netbox_export:
    url: https://netbox.example.net
    dest: inventory/sot/netbox.yml
    device_roles: [server]
  run_once: true

- name: Show what NetBox would change in the SoT, writing nothing
  netboot.fleet.netbox_export:
    url: https://netbox.example.net
    token: "{{ vault_netbox_token }}"
    dest: inventory/sot/netbox.yml
  check_mode: true
  diff: true
"""

RETURN = r"""
dest:
  description: The SoT file written (or that would be written in check mode).
  returned: success
  type: str
machines:
  description: Number of machines exported.
  returned: success
  type: int
networks:
  description: Number of networks exported.
  returned: success
  type: int
requests:
  description: HTTP requests made to NetBox.
  returned: always
  type: int
problems:
  description: Every problem found, each naming the NetBox URL of the object, the record and the field.
  returned: failure
  type: list
  elements: str
"""
