#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done on the controller by plugins/action/bulk_power.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: bulk_power
short_description: Set the next boot device and power state of many machines from one controller task
version_added: 1.1.0
description:
  - Does for every machine of O(hosts) what M(netboot.fleet.ipmi_boot) (with O(boot_device)) and then
    M(netboot.fleet.ipmi_power) do for one, with the same per-machine results, from one task on the controller.
  - Up to O(parallel) BMCs are talked to at once, each in its own thread and session, so a BMC that does not
    answer holds one thread for its own O(timeout) and delays no other machine.
  - The threads run in forked processes of the task, at most 10 each, which the task hands the machines to one
    at a time; pyghmi's CPU per session grows with the sessions in flight in one process. A process that dies
    fails the machines it held, and only those.
  - Run it once per play (C(run_once)); Ansible's per-host machinery (a worker process per machine and
    task) is then paid once instead of per machine, which is what makes it the path for hundreds or
    thousands of BMCs. M(netboot.fleet.ipmi_power) stays the per-host module for ad-hoc use.
  - Each machine's BMC and credentials come from its own hostvars, as for the per-host modules; O(address)
    and O(port) apply to every machine and are rarely useful here.
  - A machine whose BMC fails is reported in RV(machines) and RV(failed_hosts); the task itself does not
    fail for it, so the others go on.
options:
  hosts:
    description:
      - Inventory names of the machines. Defaults to the hosts of the current play batch (C(ansible_play_batch)).
    type: list
    elements: str
  state:
    description:
      - As O(netboot.fleet.ipmi_power#module:state).
    type: str
    choices: ["on", "off", shutdown, reset, cycle, boot, status]
    default: status
  wait:
    description:
      - As O(netboot.fleet.ipmi_power#module:wait).
    type: bool
    default: true
  wait_timeout:
    description:
      - As O(netboot.fleet.ipmi_power#module:wait_timeout).
    type: int
    default: 300
  boot_device:
    description:
      - Set this next boot device first (as M(netboot.fleet.ipmi_boot), in the machine's SoT firmware mode).
        A machine whose boot device could not be set gets no power request.
    type: str
    choices: [bios, cdrom, default, disk, hd, network, none, optical, pxe, setup]
  boot_persistent:
    description:
      - Keep O(boot_device) for every boot.
    type: bool
    default: false
  parallel:
    description:
      - BMCs talked to at once.
    type: int
    default: 50
extends_documentation_fragment:
  - netboot.fleet.bmc
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    support: full
    details: Power states and boot devices are read; nothing is sent.
seealso:
  - module: netboot.fleet.ipmi_power
  - module: netboot.fleet.ipmi_boot
author:
  - netboot.fleet developers (@netboot)
"""

EXAMPLES = r"""
- name: Boot every machine of the play from the network, 100 BMCs at a time
  netboot.fleet.bulk_power:
    boot_device: network
    state: boot
    parallel: 100
  run_once: true
  register: power

- name: Machines whose BMC failed
  ansible.builtin.debug:
    msg: "{{ power.failed_hosts }}"
  run_once: true
"""

RETURN = r"""
machines:
  description:
    - One result per machine, keyed by inventory name, with the fields M(netboot.fleet.ipmi_power) returns
      (C(changed), C(previous_state), C(power_state), C(action), C(elapsed), C(bmc); C(failed), C(msg) and
      C(bmc_error) on failure), C(boot) with what M(netboot.fleet.ipmi_boot) returns when O(boot_device) is
      set, C(finished) (epoch seconds when the machine's last BMC exchange ended), and C(stage) where a machine
      failed (V(boot_device) or V(power), the step that failed; a BMC that refuses or does not answer the login
      fails the first step).
  returned: always
  type: dict
  sample:
    node01:
      changed: true
      previous_state: "off"
      power_state: "on"
      action: "on"
      elapsed: 1.204
      finished: 1765119600.25
      bmc: IPMI 192.0.2.201:623
failed_hosts:
  description: Machines whose BMC failed, sorted.
  returned: always
  type: list
  elements: str
  sample: [node07]
"""
