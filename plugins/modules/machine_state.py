#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: machine_state
short_description: Read or set machines' provisioning states (e.g. mark installed machines for reinstall)
version_added: 1.1.0
author:
  - netboot.fleet developers (@netboot)
description:
  - Every machine of the source of truth has a provisioning state that C(playbooks/bringup.yml) moves
    along C(new), C(power), C(dhcp), C(loader), C(script), C(kernel), C(answer), C(installing),
    C(installed), C(booted) (from its own disk) or C(failed) (with the stage it did not reach, the reason
    and the attempts), each step with its time in the machine's history.
  - The states live on the controller, in one JSON file per fleet (per SoT path) in the state directory,
    written atomically under a lock, mode 0600. Runs on the controller; nothing is sent to a host.
  - An C(installed) or C(booted) machine boots its local disk (its iPXE, GRUB and pxelinux scripts say
    so) and C(bringup.yml) leaves it alone (no power command). Setting it to C(new) brings the installer
    back at the next C(bringup.yml) run (its scripts change when the PXE assets are next applied).
options:
  names:
    description:
      - Machines (names in the SoT). Default for reading - every machine. Required to set a state.
    type: list
    elements: str
    aliases: [name]
  state:
    description:
      - The state to set. Omitted - read only.
      - C(new) marks for reinstall; C(installed) or C(booted) records a machine installed by other means
        (it then boots its disk); C(failed) takes it out of the next runs' power stage until set to C(new).
    type: str
    choices: [new, installed, booted, failed]
  reason:
    description: Why, recorded in each changed machine's history.
    type: str
    default: set by hand
extends_documentation_fragment:
  - netboot.fleet.state_dir
  - netboot.fleet.sot
  - netboot.fleet.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Reports what would change and writes nothing.
  diff_mode:
    support: full
    details: Each changed machine's state before and after.
"""

EXAMPLES = r"""
- name: Mark two machines for reinstall (the next bringup.yml installs them again)
  netboot.fleet.machine_state:
    names: [web1, img-server2]
    state: new
    reason: new disk layout
  run_once: true

- name: Read every machine's state
  netboot.fleet.machine_state:
  run_once: true
  register: fleet_states
"""

RETURN = r"""
machines:
  description: Each named machine's record after the task (in check mode, what it would be).
  returned: always
  type: dict
  sample:
    web1: {state: booted, since: 1796000000.0, attempt: 1, stage: null, reason: null,
           history: [{time: 1796000000.0, state: booted, attempt: 1, detail: "callback from 198.51.100.12 (dhcp-a1)"}]}
changed_machines:
  description: Machines whose state the task set (or would set in check mode).
  returned: when state is given
  type: list
  elements: str
local_boot:
  description: When reading, the named machines that boot their local disk (C(installed) or C(booted)); a bring-up leaves them alone.
  returned: when state is not given
  type: list
  elements: str
store:
  description: The state file of this fleet on the controller.
  returned: always
  type: str
"""
