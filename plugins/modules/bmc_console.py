#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done on the controller by plugins/action/bmc_console.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: bmc_console
short_description: Record machines' serial consoles through their BMCs (IPMI Serial-over-LAN)
version_added: 1.1.0
description:
  - With O(state=recording), logs in to the machine's BMC (a refused login fails the task) and starts a recorder process
    on the controller that activates the BMC's Serial-over-LAN payload (pyghmi) and appends everything the console prints
    to C(<dest>/<name>.log) (mode 0600), reconnecting if the session breaks, until it is stopped or O(max_seconds) pass.
    Start it before the power command to see the firmware's own lines.
  - With O(state=stopped), stops the recorder and returns the console's last lines (control sequences removed). No BMC
    exchange, so a BMC that went away still gives what was recorded.
  - The credentials reach the recorder on its standard input, never in its arguments; they never appear in results.
  - Runs on the Ansible controller; the recorder lives in C(plugins/module_utils/bmc/console.py).
options:
  state:
    description:
      - V(recording) starts the recorder (unchanged when it already runs); V(stopped) stops it and returns the lines.
    type: str
    choices: [recording, stopped]
    default: recording
  dest:
    description: Controller directory of the recordings (created 0700).
    type: path
    default: /var/tmp/netboot-fleet/consoles
  name:
    description: Name of the recording (C(<name>.log), C(<name>.pid)). Defaults to C(inventory_hostname).
    type: str
  max_seconds:
    description: The recorder stops by itself after this many seconds.
    type: float
    default: 3600
  lines:
    description: How many of the last console lines O(state=stopped) returns.
    type: int
    default: 20
extends_documentation_fragment:
  - netboot.fleet.bmc
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - IPMI only (Redfish BMCs have no Serial-over-LAN here).
  - A BMC takes one Serial-over-LAN session at a time; the recorder takes it over from any other.
seealso:
  - module: netboot.fleet.ipmi_power
  - module: netboot.fleet.bringup_report
author:
  - netboot.fleet developers (@netboot)
"""

EXAMPLES = r"""
- name: Record the consoles during the boot
  netboot.fleet.bmc_console:
    state: recording
    dest: /var/tmp/netboot-fleet/reports/consoles

- name: Power on
  netboot.fleet.ipmi_power:
    state: "on"

- name: Stop recording and show the last lines
  netboot.fleet.bmc_console:
    state: stopped
    dest: /var/tmp/netboot-fleet/reports/consoles
  register: console

- name: Print them
  ansible.builtin.debug:
    msg: "{{ console.lines }}"
"""

RETURN = r"""
path:
  description: The recording on the controller (raw console bytes).
  returned: always
  type: str
  sample: /var/tmp/netboot-fleet/consoles/web1.log
pid:
  description: The recorder's process id.
  returned: when a recorder was started
  type: int
line_count:
  description: Lines recorded.
  returned: when O(state=stopped)
  type: int
lines:
  description: The last O(lines) lines, control sequences removed.
  returned: when O(state=stopped)
  type: list
  elements: str
  sample: ["iPXE initialising devices...ok", "Configuring (net0 52:54:00:12:00:02)... ok"]
errors:
  description: The recorder's last messages about the BMC session (login refused, SOL not available ...).
  returned: when O(state=stopped)
  type: list
  elements: str
bmc:
  description: The BMC recorded from.
  returned: when O(state=recording)
  type: str
  sample: IPMI 127.0.0.1:16231
"""
