#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done on the controller by plugins/action/ipmi_power.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: ipmi_power
short_description: Power machines on, off, reset or cycle through their BMC (IPMI or Redfish)
version_added: 0.1.0
description:
  - Reads the machine's power state through its BMC, decides from it whether anything needs doing,
    sends one request and optionally waits until the machine has settled.
  - Runs on the Ansible controller with pyghmi; the BMC address comes from the machine's hostvars
    (C(netboot.bmc) from the C(netboot.fleet.sot) inventory), so C(ansible rack12 -m netboot.fleet.ipmi_power -a state=cycle)
    needs no O(ignore:delegate_to).
options:
  state:
    description:
      - V(on), V(off) (hard) and V(shutdown) (soft, ACPI) act only when the machine is not already in that state.
      - V(reset) and V(cycle) always act. On a machine that is off, what they do depends on the BMC.
      - V(boot) powers on a machine that is off and resets one that is on.
      - V(status) only reads.
      - Redfish BMCs that do not offer C(PowerCycle) reject V(cycle) with a message saying what they offer.
    type: str
    choices: ["on", "off", shutdown, reset, cycle, boot, status]
    default: status
  wait:
    description:
      - Wait until the power state the request leads to (on, or off for V(off)/V(shutdown)) is reached.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for that state before failing.
    type: int
    default: 300
extends_documentation_fragment:
  - netboot.fleet.bmc
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    support: full
    details: The power state is read; nothing is sent.
seealso:
  - module: netboot.fleet.ipmi_boot
  - module: netboot.fleet.bmc_info
author:
  - netboot.fleet developers (@netboot)
"""

EXAMPLES = r"""
- name: Power on every machine of the play and wait until they are on
  netboot.fleet.ipmi_power:
    state: "on"  # quoted: YAML reads a bare on/off as a boolean (accepted too)

- name: Read the power state only
  netboot.fleet.ipmi_power:
    state: status
  register: power

- name: Cycle a BMC given by address (no SoT record needed)
  netboot.fleet.ipmi_power:
    address: 192.0.2.201
    protocol: ipmi
    username: admin
    password: "{{ vault_bmc_password }}"
    state: cycle

- name: Credentials for all BMC actions of a play
  module_defaults:
    group/netboot.fleet.bmc:
      username: "{{ vault_bmc_username }}"
      password: "{{ vault_bmc_password }}"
      timeout: 5
  block:
    - name: Soft shutdown, give the OS two minutes
      netboot.fleet.ipmi_power:
        state: shutdown
        wait_timeout: 120
"""

RETURN = r"""
previous_state:
  description: Power state read before acting.
  returned: success
  type: str
  sample: "off"
power_state:
  description: Power state after acting (after waiting, if O(wait)); the previous state in check mode.
  returned: success
  type: str
  sample: "on"
action:
  description: The request sent to the BMC (or that would be sent in check mode); null when nothing was needed.
  returned: success
  type: str
  sample: "on"
elapsed:
  description: Seconds from the first read to the end of the wait.
  returned: success
  type: float
  sample: 1.023
bmc:
  description: Protocol, address and port of the BMC used (never credentials).
  returned: always
  type: str
  sample: IPMI 192.0.2.201:623
bmc_error:
  description: Kind of failure, for conditions in playbooks.
  returned: failed
  type: str
  sample: unreachable
"""
