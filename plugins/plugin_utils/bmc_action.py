# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared flow of the BMC action plugins (ipmi_power, ipmi_boot, bmc_info).

They run pyghmi in the Ansible worker on the controller: the machine itself
has no OS yet, so there is no connection to it and no module is shipped.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.netboot.fleet.plugins.module_utils.bmc.client import (
    PROTOCOLS, BmcClient, BmcError, target_from)

display = Display()

# Options every BMC action takes (documented in doc_fragments/bmc.py).
CONNECTION_ARGS = dict(
    address=dict(type="str"),
    protocol=dict(type="str", choices=list(PROTOCOLS)),
    port=dict(type="int"),
    username=dict(type="str", aliases=["user"]),
    password=dict(type="str", no_log=True),
    timeout=dict(type="float", default=10),
    retries=dict(type="int", default=1),
    validate_certs=dict(type="bool"),
)
# Host variables the actions read (templated: they often point into a vault).
HOSTVARS = ("netboot", "netboot_bmc_username", "netboot_bmc_password", "netboot_bmc_validate_certs")
MASK = "********"


def scrub(value, secrets):
    """Replace every secret inside strings of a result: the last guard before display/logs."""
    if isinstance(value, dict):
        return dict((k, scrub(v, secrets)) for k, v in value.items())
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
    return value


def bmc_hostvars(templar, variables):
    """The machine variables a BMC action reads, templated (they often point into a vault)."""
    hostvars = dict((name, templar.template(variables.get(name))) for name in HOSTVARS)
    if hostvars["netboot_bmc_password"] is not None:
        hostvars["netboot_bmc_password"] = str(hostvars["netboot_bmc_password"])  # a vaulted value
    return hostvars


def run_on_bmc(act, args, hostvars, host=None):
    """Find one machine's BMC, run `act(client, args, hostvars)` in a session, explain failures.

    The whole result of one machine: what the per-host actions return and what
    the bulk action returns for each of its machines, so both say the same.
    """
    result = {}
    secrets = set(s for s in (args.get("password"), hostvars["netboot_bmc_password"]) if s)
    try:
        target = target_from(args, hostvars)
        display.vvv("BMC %r for %s" % (target, host))
        result["bmc"] = target.describe()
        with BmcClient(target) as client:
            client.connect()  # so a refused login says "login", not the first read
            result.update(act(client, args, hostvars))
    except BmcError as error:
        result.update(failed=True, msg=error.message, bmc_error=error.kind)
    if not result.get("warnings"):
        result.pop("warnings", None)
    return scrub(result, secrets)


class BmcAction(ActionBase):
    """Validate options, find the BMC from hostvars, run `act` with a client, explain failures."""

    _requires_connection = False
    TRANSFERS_FILES = False
    ARGS = {}  # the action's own options

    def act(self, client, args, hostvars):
        raise NotImplementedError

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=dict(CONNECTION_ARGS, **self.ARGS))
        # Delegated to a machine (the bring-up's wait stage power-cycles machines from one task): that machine's BMC.
        machine_vars = task_vars
        if self._task.delegate_to:
            machine_vars = (task_vars.get("ansible_delegated_vars") or {}).get(self._task.delegate_to) or task_vars
        hostvars = bmc_hostvars(self._templar, machine_vars)
        result.update(run_on_bmc(self.act, args, hostvars, task_vars.get("inventory_hostname")))
        return result
