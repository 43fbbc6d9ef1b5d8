# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    """Connection and credential options shared by ipmi_power, ipmi_boot and bmc_info."""

    DOCUMENTATION = r"""
options:
  address:
    description:
      - BMC host name or IP address.
      - Defaults to C(netboot.bmc.address), set for each machine by the C(netboot.fleet.sot) inventory.
      - When given, the SoT BMC port is not inherited either; set O(port) if it is not the protocol default.
    type: str
  protocol:
    description:
      - How to talk to the BMC. Defaults to C(netboot.bmc.protocol), else V(ipmi).
      - V(redfish) uses HTTPS only (pyghmi's Redfish client does not speak plain HTTP).
    type: str
    choices: [ipmi, redfish]
  port:
    description:
      - BMC port. Defaults to C(netboot.bmc.port), else 623 (IPMI over UDP) or 443 (Redfish over HTTPS).
    type: int
  username:
    description:
      - BMC user. Defaults to the host variable C(netboot_bmc_username).
    type: str
    aliases: [user]
  password:
    description:
      - BMC password. Defaults to the host variable C(netboot_bmc_password), typically from a vault.
      - Never shown in results, warnings or error messages, at any verbosity.
      - Give it as a variable (C(netboot_bmc_password) from a vault, or C(-e @secrets.yml) with a vaulted file), not
        as an ad-hoc C(-a 'password=...'); Ansible itself shows an ad-hoc argument string in a failed task's origin,
        and other users see it in the process list.
    type: str
  timeout:
    description:
      - Seconds to wait for the BMC on any one exchange (login or command) before giving up on it.
    type: float
    default: 10
  retries:
    description:
      - Extra attempts after the BMC gave no answer. Logins and reads are simply repeated.
      - A power request is repeated only after the power state, read again, shows it has not happened yet;
        reset and cycle are never repeated.
    type: int
    default: 1
  validate_certs:
    description:
      - Verify the Redfish BMC's TLS certificate against the controller's CAs.
      - Defaults to the host variable C(netboot_bmc_validate_certs), else V(true).
    type: bool
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  diff_mode:
    support: none
  platform:
    platforms: all
  action_group:
    membership:
      - netboot.fleet.bmc
requirements:
  - pyghmi >= 1.5 on the Ansible controller
notes:
  - Runs on the controller, in the Ansible worker process; nothing connects to the managed machine itself,
    so no O(ignore:delegate_to) and no gathered facts are needed.
  - Options can be set for all three actions at once with C(module_defaults) and the action group
    C(group/netboot.fleet.bmc).
"""
