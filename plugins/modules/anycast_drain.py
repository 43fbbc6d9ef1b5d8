#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: anycast_drain
short_description: Take an anycast DHCP node out of service (withdraw its BGP route) or put it back
description:
  - Drains or undrains a DHCP node set up by the C(netboot.fleet.anycast_bgp) role. The node's
    health loop (C(dhcp_probe.py watch)) owns the BGP announcement; this module asks it through
    a drain file and waits, on the loop's status file, until the route is withdrawn or announced.
  - O(state=drained) withdraws the anycast routes at once. Kea keeps running, so exchanges
    already in flight to the node are still answered; O(settle) gives them time to finish.
  - O(state=active) removes the drain. The loop announces again only after the local DHCP probe
    has passed its C(rise) count; if the probe keeps failing the module fails after O(timeout)
    with the probe's reason, and the node stays withdrawn.
  - A drain survives reboots and restarts of the loop (the drain file is on disk).
version_added: 0.1.0
author: netboot.fleet developers (@netboot-fleet)
options:
  state:
    description: V(drained) to withdraw the node's routes, V(active) to announce them again once healthy.
    type: str
    choices: [drained, active]
    required: true
  note:
    description: Why the node is drained (kept in the drain file for the next operator).
    type: str
    default: ""
  wait:
    description: Wait until the health loop reports the wanted state (withdrawn, or announced).
    type: bool
    default: true
  timeout:
    description: Seconds to wait for the wanted state before failing.
    type: float
    default: 30
  settle:
    description: Seconds to wait after a withdrawal, for exchanges in flight to the node to finish.
    type: float
    default: 1.0
  drain_file:
    description: The drain file the health loop checks (role variable C(anycast_bgp_drain_file)).
    type: path
    default: /var/lib/netboot-anycast/drained
  status_file:
    description: The health loop's status file (role variable C(anycast_bgp_status_file)).
    type: path
    default: /run/netboot-anycast/status.json
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports whether the drain state would change and the node's current status; changes and waits for nothing.
  diff_mode:
    support: full
    details: Shows the drain state before and after.
  platform:
    platforms: posix
seealso:
  - name: The anycast_bgp role
    description: Sets up the anycast device, BIRD and the health loop this module talks to.
    link: https://github.com/netboot/fleet/tree/main/roles/anycast_bgp
"""

EXAMPLES = r"""
- name: Take the node out of service before maintenance
  netboot.fleet.anycast_drain:
    state: drained
    note: "kernel upgrade, ticket OPS-1234"

- name: Put it back (only announced once the local DHCP probe passes)
  netboot.fleet.anycast_drain:
    state: active
    timeout: 60
"""

RETURN = r"""
announced:
  description: Whether the node announces the anycast routes now (per the health loop).
  returned: success
  type: bool
  sample: false
drained:
  description: Whether the node is drained now.
  returned: success
  type: bool
  sample: true
reason:
  description: "The health loop's reason for the current state: V(healthy), V(drained), or V(unhealthy) followed by the failing check."
  returned: when the health loop has written its status
  type: str
  sample: drained
checks:
  description: The checks of the loop's last round (check, ok, detail, seconds, address).
  returned: when the health loop has written its status
  type: list
  elements: dict
waited:
  description: Seconds spent waiting for the health loop.
  returned: success
  type: float
  sample: 0.41
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netboot.fleet.plugins.module_utils.anycast import state as anycast_state


def main():
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": [anycast_state.DRAINED, anycast_state.ACTIVE], "required": True},
            "note": {"type": "str", "default": ""},
            "wait": {"type": "bool", "default": True},
            "timeout": {"type": "float", "default": 30.0},
            "settle": {"type": "float", "default": 1.0},
            "drain_file": {"type": "path", "default": "/var/lib/netboot-anycast/drained"},
            "status_file": {"type": "path", "default": "/run/netboot-anycast/status.json"},
        },
        supports_check_mode=True,
    )
    params = module.params
    want_drained = params["state"] == anycast_state.DRAINED
    try:
        outcome = anycast_state.ensure(params["state"], params["drain_file"], params["status_file"], note=params["note"],
                                       wait=params["wait"], timeout=params["timeout"], settle=params["settle"],
                                       check_mode=module.check_mode)
    except anycast_state.AnycastStateError as exc:
        status = exc.status or {}
        module.fail_json(msg=str(exc), reason=status.get("reason"), checks=status.get("checks", []))
    except OSError as exc:
        module.fail_json(msg="cannot change the drain file %s: %s" % (params["drain_file"], exc))
    status = outcome["status"] or {}
    result = {
        "changed": outcome["changed"],
        "announced": status.get("state") == "announced",
        # In check mode nothing changed: the node is still in the other state when a change was due.
        "drained": want_drained if not (module.check_mode and outcome["changed"]) else not want_drained,
        "waited": outcome["waited"],
    }
    if outcome["status"] is not None:
        result["reason"] = status.get("reason")
        result["checks"] = status.get("checks", [])
    if module._diff:
        before = not want_drained if outcome["changed"] else want_drained
        result["diff"] = {"before": {"drained": before}, "after": {"drained": want_drained}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
