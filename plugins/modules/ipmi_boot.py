#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done on the controller by plugins/action/ipmi_boot.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: ipmi_boot
short_description: Choose the next boot device of machines through their BMC (IPMI or Redfish)
version_added: 0.1.0
description:
  - Sets the boot device override (network/PXE, disk, CD-ROM, BIOS setup, or none) for the next boot or for good,
    in UEFI or legacy mode.
  - Idempotent where the BMC reports its boot flags as valid. Where it does not (IPMI boot flags without the
    valid bit, as OpenIPMI's simulator answers), the current setting is unknown, so the setting is sent,
    reported as changed and a warning says why.
  - Runs on the Ansible controller with pyghmi; the BMC comes from the machine's hostvars.
options:
  device:
    description:
      - V(network) (alias V(pxe)), V(disk) (alias V(hd)), V(cdrom) (alias V(optical)), V(bios) (alias V(setup)) for
        the firmware setup screen, or V(default) (alias V(none)) to remove any override.
    type: str
    required: true
    choices: [bios, cdrom, default, disk, hd, network, none, optical, pxe, setup]
  persistent:
    description:
      - Keep the device for every boot instead of the next one only. Many BMCs ignore it.
    type: bool
    default: false
  mode:
    description:
      - UEFI or legacy (BIOS) boot. Defaults to the machine's C(netboot.firmware) from the SoT
        (V(legacy) for C(bios), V(uefi) for C(uefi) and C(uefi-http)), else V(uefi).
    type: str
    choices: [uefi, legacy]
extends_documentation_fragment:
  - netboot.fleet.bmc
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    support: full
    details: The boot flags are read; nothing is sent.
seealso:
  - module: netboot.fleet.ipmi_power
author:
  - netboot.fleet developers (@netboot)
"""

EXAMPLES = r"""
- name: Network boot once, then reboot into the installer
  block:
    - name: Next boot from the network
      netboot.fleet.ipmi_boot:
        device: network
    - name: Boot (on if off, reset if on)
      netboot.fleet.ipmi_power:
        state: boot

- name: Always boot from disk, legacy BIOS
  netboot.fleet.ipmi_boot:
    device: disk
    persistent: true
    mode: legacy
"""

RETURN = r"""
previous:
  description: Boot override the BMC reported before acting.
  returned: success
  type: dict
  contains:
    device:
      description: network, disk, cdrom, bios, default or a BMC-specific name.
      type: str
    persistent:
      description: Whether the override applies to every boot.
      type: bool
    mode:
      description: uefi, legacy, or null when the BMC does not say.
      type: str
    valid:
      description: Whether the BMC marks the boot flags valid; when false the values above are not reliable.
      type: bool
  sample: {device: default, persistent: true, mode: null, valid: false}
boot:
  description: Boot override requested.
  returned: success
  type: dict
  sample: {device: network, persistent: false, mode: uefi}
bmc:
  description: Protocol, address and port of the BMC used (never credentials).
  returned: always
  type: str
  sample: IPMI 192.0.2.201:623
bmc_error:
  description: Kind of failure, for conditions in playbooks.
  returned: failed
  type: str
  sample: auth
"""
