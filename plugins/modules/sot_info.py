#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done on the controller by plugins/action/sot_info.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: sot_info
short_description: Validate the netboot.fleet source of truth and summarise it
description:
  - Loads the source of truth (a YAML/JSON file or a directory of them) with the same loader as the
    C(netboot.fleet.sot) inventory plugin and the renderers, and returns a summary.
  - Fails with every problem found, each naming the file, the record and the field, when the source
    of truth is invalid. Nothing is changed anywhere; run it first so that nothing is pushed from a
    bad source of truth.
  - Runs on the controller, whatever host the task is for (action plugin); the load is the run's one load
    of the SoT, shared with the inventory plugin and the other modules.
version_added: 0.1.0
author: netboot.fleet developers (@netboot-fleet)
options:
  source:
    description:
      - Deprecated name of O(sot), removed in 2.0.0.
    type: path
extends_documentation_fragment:
  - netboot.fleet.sot
  - netboot.fleet.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
requirements:
  - netaddr
  - PyYAML
"""

EXAMPLES = r"""
- name: Validate the source of truth before anything is pushed (sot defaults to netboot_sot_source)
  netboot.fleet.sot_info:
  register: fleet
  run_once: true

- name: Show what is about to be brought up
  ansible.builtin.debug:
    msg: "{{ fleet.summary.machines }} machines on {{ fleet.summary.networks | length }} networks"
"""

RETURN = r"""
summary:
  description: Counts of what the source of truth holds.
  returned: success
  type: dict
  sample:
    machines: 4
    dhcp_nodes: [dhcp-a1, dhcp-a2]
    anycast: {ipv4: 203.0.113.53, ipv6: "2001:db8:53::53"}
    asn: 65053
    networks:
      rack12: {ipv4: 198.51.100.0/26, ipv6: "2001:db8:12::/64", machines: 3}
    profiles: {debian12: 2}
    firmware: {bios: 1, uefi: 2, uefi-http: 1}
    sources: [/srv/sot/fabric.yml]
dhcp_nodes:
  description:
    - The DHCP nodes, C(name) and C(address) (the address Ansible reaches the node at, as the inventory plugin's
      C(ansible_host)). A slice of C(playbooks/bringup.yml) observes with it the nodes its inventory does not hold.
  returned: success
  type: list
  elements: dict
  sample: [{name: dhcp-a1, address: 192.0.2.1}, {name: dhcp-a2, address: 192.0.2.2}]
problems:
  description: Every problem found, as text naming file, record and field.
  returned: failure
  type: list
  elements: str
"""
