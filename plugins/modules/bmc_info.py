#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done on the controller by plugins/action/bmc_info.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: bmc_info
short_description: Read what machines' BMCs report (power, boot device, identity, firmware, inventory, health)
version_added: 0.1.0
description:
  - Reads each requested part from the BMC. A part the BMC does not offer is listed in RV(unsupported)
    with the BMC's answer instead of failing the task.
  - Runs on the Ansible controller with pyghmi; the BMC comes from the machine's hostvars.
options:
  gather:
    description:
      - Parts to read.
    type: list
    elements: str
    choices: [power, boot, device, firmware, inventory, health]
    default: [power, boot, device, firmware, inventory, health]
extends_documentation_fragment:
  - netboot.fleet.bmc
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    support: full
seealso:
  - module: netboot.fleet.ipmi_power
  - module: netboot.fleet.ipmi_boot
author:
  - netboot.fleet developers (@netboot)
"""

EXAMPLES = r"""
- name: Everything the BMCs of rack 12 report
  netboot.fleet.bmc_info:
  register: bmc

- name: Only identity and firmware, quickly
  netboot.fleet.bmc_info:
    gather: [device, firmware]
    timeout: 3
"""

RETURN = r"""
power_state:
  description: Current power state.
  returned: when power is gathered
  type: str
  sample: "on"
boot:
  description: Boot override (see netboot.fleet.ipmi_boot's RV(netboot.fleet.ipmi_boot#module:previous)).
  returned: when boot is gathered and supported
  type: dict
  sample: {device: network, persistent: false, mode: uefi, valid: true}
device:
  description: BMC identity. IPMI Get Device ID fields, or Redfish system and manager fields.
  returned: when device is gathered and supported
  type: dict
  sample: {device_id: 32, firmware_version: "9.08", manufacturer_id: 4753, product_id: 3842}
firmware:
  description: Firmware components and versions, as pyghmi reports them.
  returned: when firmware is gathered and supported
  type: dict
  sample: {BMC Version: {version: "9.8"}}
inventory:
  description: FRU / hardware inventory by component, as pyghmi reports it.
  returned: when inventory is gathered and supported
  type: dict
health:
  description: Overall health (ok, warning, critical, failed) and the sensor readings behind it.
  returned: when health is gathered and supported
  type: dict
  sample: {status: ok, bad_readings: []}
unsupported:
  description: Parts this BMC does not offer, with its answer.
  returned: success
  type: dict
  sample: {inventory: "read inventory on BMC IPMI 192.0.2.201:623: not supported by this BMC: Invalid data field in request (completion code 0xCC)"}
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
