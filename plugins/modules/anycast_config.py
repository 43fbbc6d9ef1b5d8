#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: anycast_config
short_description: Render an anycast DHCP node's BIRD2 and health-check configuration from the source of truth
version_added: 1.0.0
description:
  - Renders, on the controller, what the C(netboot.fleet.anycast_bgp) role writes on one DHCP node - the BIRD2
    configuration (static anycast routes, BFD, one eBGP session per SoT peer, an export filter that announces
    the anycast prefixes only while the health check passes), the health-check configuration of the relayed
    DHCP probe, and the interfaces Kea listens on.
  - Changes nothing anywhere; the role writes the results.
  - The renderer is C(plugins/module_utils/anycast/bird.py); its settings are the C(Settings) class there.
author:
  - netboot.fleet developers (@netboot)
extends_documentation_fragment:
  - netboot.fleet.sot
  - netboot.fleet.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
options:
  node:
    description: The DHCP node's name in the SoT's C(dhcp_nodes).
    type: str
    required: true
  settings:
    description:
      - Node settings that are not in the SoT (device, BIRD socket and log, session and BFD timers, health-check
        interval, timeout, rise and fall, probe MAC, Kea control sockets, families), typed by the C(Settings)
        class of C(plugins/module_utils/anycast/bird.py); the C(netboot.fleet.anycast_bgp) role fills them
        from its variables.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Render dhcp-a1's anycast configuration
  netboot.fleet.anycast_config:
    node: dhcp-a1
    settings:
      anycast_device: ifb0
  register: anycast
"""

RETURN = r"""
bird:
  description: The BIRD2 configuration file.
  returned: success
  type: str
healthcheck:
  description: The health loop's configuration (probes, rise/fall, files).
  returned: success
  type: dict
kea_interfaces:
  description: The interfaces Kea must listen on, per family.
  returned: success
  type: dict
  sample: {dhcp4: [anycast0, lo], dhcp6: [anycast0, lo]}
anycast:
  description: The fabric's anycast addresses.
  returned: success
  type: dict
  sample: {ipv4: 203.0.113.53, ipv6: "2001:db8:53::53"}
"""
