# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ipmi_power, ipmi_boot and bmc_info do, over a BmcClient.

Pure flow: decide from a state read before acting, act once, wait for the
machine to settle. Works on anything with BmcClient's methods, so the unit
tests drive it with a scripted fake.
"""

from __future__ import annotations

import time

from ansible_collections.netboot.fleet.plugins.module_utils.bmc.client import BmcError

POWER_STATES = ("on", "off", "shutdown", "reset", "cycle", "boot", "status")
# The power state a machine settles in after each request.
SETTLES_IN = {"on": "on", "off": "off", "shutdown": "off", "reset": "on", "cycle": "on", "boot": "on"}
# Requests whose effect is visible in the power state, so a lost answer can be
# checked by reading the state instead of sending the request again.
_CHECKABLE = ("on", "off", "shutdown")

INFO_PARTS = ("power", "boot", "device", "firmware", "inventory", "health")


def plan_power(state, current):
    """The request that takes a machine in power state `current` to `state`; None if nothing to do."""
    if state == "status":
        return None
    if state == "on":
        return None if current == "on" else "on"
    if state in ("off", "shutdown"):
        return None if current == "off" else state
    if state == "boot":
        return "on" if current == "off" else "reset"
    return state  # reset and cycle always act


def wait_for_power(client, wanted, timeout, interval=1.0, clock=time.monotonic, sleep=time.sleep):
    """Poll until the machine's power state is `wanted`; BmcError('timeout') after `timeout` s."""
    deadline = clock() + timeout
    while True:
        current = client.power_state()
        if current == wanted:
            return current
        remaining = deadline - clock()
        if remaining <= 0:
            raise BmcError("timeout", "power state is still %r after waiting %d s for %r on BMC %s"
                           % (current, timeout, wanted, client.target.describe()))
        sleep(min(interval, remaining))


def send_power(client, action):
    """Send a power request once; if its answer is lost, re-read before any resend.

    A lost answer does not mean the request was lost: on/off/shutdown are
    resent only while the state shows they have not happened; reset and
    cycle cannot be checked that way and are never resent.
    """
    attempts = 1 + client.target.retries
    for attempt in range(1, attempts + 1):
        try:
            client.request_power(action)
            return
        except BmcError as error:
            if not error.transient or attempt == attempts:
                raise
            if action not in _CHECKABLE:
                raise BmcError(error.kind, "%s; not resent, since the first %s may have happened: "
                                           "check the machine before trying again" % (error.message, action))
            if client.power_state() == SETTLES_IN[action]:
                return


def set_power(client, state, wait=True, wait_timeout=300, check_mode=False,
              interval=1.0, clock=time.monotonic, sleep=time.sleep):
    """ipmi_power: read, decide, act once, optionally wait. Returns the task result fields."""
    started = clock()
    previous = client.power_state()
    action = plan_power(state, previous)
    result = {"changed": action is not None, "previous_state": previous, "power_state": previous,
              "action": action}
    if action is not None and not check_mode:
        send_power(client, action)
        if wait:
            try:
                result["power_state"] = wait_for_power(client, SETTLES_IN[action], wait_timeout,
                                                       interval=interval, clock=clock, sleep=sleep)
            except BmcError as error:
                if action != "shutdown":
                    raise
                raise BmcError(error.kind, "%s; a soft shutdown needs a running OS that acts on the ACPI power "
                                           "button: use state=off to cut the power" % error.message)
        else:
            result["power_state"] = client.power_state()
    result["elapsed"] = round(clock() - started, 3)
    return result


def boot_mode_for(firmware):
    """Boot mode for a SoT firmware value (bios | uefi | uefi-http); UEFI when unknown."""
    return "legacy" if firmware == "bios" else "uefi"


def boot_matches(current, device, persistent, mode):
    if current["device"] != device:
        return False
    if device == "default":
        return True  # no override: persistence and mode do not apply
    return (current["persistent"] == persistent
            and (current["mode"] is None or current["mode"] == mode))


def set_boot(client, device, persistent, mode, check_mode=False):
    """ipmi_boot: compare with what the BMC reports, set only when different (or unknowable)."""
    current = client.boot_override()
    wanted = {"device": device, "persistent": persistent, "mode": mode}
    result = {"previous": current, "boot": wanted, "warnings": []}
    if current["valid"] and boot_matches(current, device, persistent, mode):
        result["changed"] = False
        return result
    if not current["valid"]:
        result["warnings"].append(
            "BMC %s does not mark its boot flags valid (it reads back %r), so the current setting is "
            "unknown: the boot device was set again and reported as changed"
            % (client.target.describe(), current["device"]))
    if not check_mode:
        client.set_boot_override(device, persistent, mode == "uefi")
    result["changed"] = True
    return result


def gather_info(client, parts=INFO_PARTS):
    """bmc_info: each part the BMC offers; parts it does not offer are listed, not fatal."""
    readers = {
        "power": ("power_state", client.power_state),
        "boot": ("boot", client.boot_override),
        "device": ("device", client.identity),
        "firmware": ("firmware", client.firmware),
        "inventory": ("inventory", client.inventory),
        "health": ("health", client.health),
    }
    info = {"unsupported": {}}
    for part in parts:
        key, read = readers[part]
        try:
            info[key] = read()
        except BmcError as error:
            if error.kind not in ("unsupported", "refused"):
                raise
            info["unsupported"][part] = error.message
    return info
