#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done on the controller by plugins/action/bringup_progress.py.

from __future__ import annotations

DOCUMENTATION = r"""
module: bringup_progress
short_description: One round of the bring-up's wait stage - boot events to machine states to what to do next
version_added: 1.1.0
author:
  - netboot.fleet developers (@netboot)
description:
  - Used by C(playbooks/bringup.yml). Starts this run's attempt for every machine the power stage powered
    (or fails it at the power stage), then moves each machine's provisioning state (see
    M(netboot.fleet.machine_state)) along what the DHCP nodes observed since its attempt started
    (M(netboot.fleet.boot_events) results) - lease, boot loader, own iPXE script, kernel, answer file, the
    installer's further fetches, the install-done callback and the first-boot callback.
  - A callback counts only with the token of that machine's own answer file (an HMAC of its name and MAC
    with the controller's key); one with another token changes nothing and is reported in RV(forged) and as
    a warning.
  - A request of a step answered with an HTTP error (403, 404, 5xx) or cut short fails the attempt at that
    step, with the URL. So does a step not reached within its timeout. A failed attempt is retried (RV(retry)
    - the playbook sets the next boot to network and powers the machine on or resets it) while the machine
    has retries left, then the machine is C(failed) with the stage and the reason.
  - Runs on the controller; the rules live in C(plugins/module_utils/bringup/lifecycle.py) and C(rounds.py).
options:
  machines:
    description: Names of the machines in scope.
    type: list
    elements: str
    required: true
  run:
    description: Identifies this run (its start time); records of another run start a new attempt 1.
    type: str
    required: true
  power:
    description: Per machine name, the power stage's outcome (C(ok), C(sent), C(action), C(previous_state), C(stage), C(msg)).
    type: dict
    default: {}
  observations:
    description: The results of M(netboot.fleet.boot_events), one per DHCP node (looped, C(item) is the node).
    type: list
    elements: dict
    default: []
  timeouts:
    description:
      - Seconds per stage, counted from the last step reached - C(lease) (power to DHCP lease), C(script)
        (lease to own iPXE script), C(answer) (script to answer file), C(installed) (answer file to the
        install-done callback), C(booted) (installed to the first-boot callback).
      - Defaults 120, 120, 240, 1800 and 300.
    type: dict
    default: {}
  retries:
    description: Power cycles after a failed attempt, per machine and run.
    type: int
    default: 2
extends_documentation_fragment:
  - netboot.fleet.state_dir
  - netboot.fleet.sot
  - netboot.fleet.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: none
    details: The wait stage does not run in check mode.
"""

EXAMPLES = r"""
- name: One round of the wait stage
  netboot.fleet.bringup_progress:
    machines: "{{ bringup_scope }}"
    run: "{{ bringup_started }}"
    observations: "{{ bringup_round.results }}"
    retries: 2
    timeouts: {answer: 300}
  register: bringup_progress
"""

RETURN = r"""
states:
  description: Per machine, C(state), C(attempt), and for failed machines C(stage) and C(reason).
  returned: always
  type: dict
retry:
  description: Machines whose attempt failed and that get another one (power on or reset, next boot network).
  returned: always
  type: list
  elements: str
boot_local:
  description:
    - Machines that just called back installed, and installed ones whose first boot from disk is retried -
      render their local-boot scripts, set their next boot to the disk, then power them on (or reset them).
  returned: always
  type: list
  elements: str
pending:
  description: Machines still on their way (neither booted from disk nor failed).
  returned: always
  type: list
  elements: str
failed_machines:
  description: Machines failed for this run.
  returned: always
  type: list
  elements: str
forged:
  description: Callbacks naming a machine of the scope with a token that is not its own - C(machine), C(time), C(client), C(phase), C(node).
  returned: always
  type: list
  elements: dict
"""
