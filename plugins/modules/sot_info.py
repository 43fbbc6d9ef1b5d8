#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

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
  - Runs where the source of truth is, normally the controller (C(localhost)).
version_added: 0.1.0
author: netboot.fleet developers (@netboot-fleet)
options:
  source:
    description:
      - Path of the source of truth. The inventory plugin sets C(netboot_sot_source) for every host.
    type: path
    required: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
requirements:
  - netaddr
  - PyYAML
"""

EXAMPLES = r"""
- name: Validate the source of truth before anything is pushed
  netboot.fleet.sot_info:
    source: "{{ netboot_sot_source }}"
  register: fleet
  delegate_to: localhost
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
problems:
  description: Every problem found, as text naming file, record and field.
  returned: failure
  type: list
  elements: str
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from ansible_collections.netboot.fleet.plugins.module_utils import sot
    IMPORT_ERROR = None
except ImportError:  # netaddr missing on the host that runs the module
    IMPORT_ERROR = traceback.format_exc()


def main():
    module = AnsibleModule(argument_spec={"source": {"type": "path", "required": True}}, supports_check_mode=True)
    if IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("netaddr"), exception=IMPORT_ERROR)
    try:
        fleet = sot.load(module.params["source"])
    except sot.SotError as exc:
        module.fail_json(msg=str(exc), problems=[str(problem) for problem in exc.problems])
    module.exit_json(changed=False, summary=sot.summary(fleet))


if __name__ == "__main__":
    main()
