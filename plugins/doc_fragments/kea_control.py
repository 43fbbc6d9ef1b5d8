# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by the modules that talk to Kea's control channel."""

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  control_socket:
    description:
      - Unix control socket of the Kea daemon, on the managed node.
      - Defaults to the C(control-socket) of the configuration being applied, which is where the
        daemon listens once the bootstrap configuration of the C(netboot.fleet.kea_dhcp) role is in place.
      - Mutually exclusive with O(control_url).
    type: path
  control_url:
    description:
      - HTTP(S) URL of kea-ctrl-agent (Kea 2.x) or of a Kea 3 daemon's HTTP control socket,
        for example V(http://127.0.0.1:8000/).
    type: str
  control_via_agent:
    description:
      - With O(control_url), V(true) addresses the daemon through kea-ctrl-agent (commands carry
        C(service)); V(false) talks to a Kea 3 daemon's own HTTP control socket.
    type: bool
    default: true
  control_username:
    description: Basic-auth user for O(control_url).
    type: str
  control_password:
    description: Basic-auth password for O(control_url). Never logged.
    type: str
  control_ca_file:
    description: CA bundle to verify an C(https) O(control_url).
    type: path
  control_validate_certs:
    description: Verify the TLS certificate of an C(https) O(control_url).
    type: bool
    default: true
  control_timeout:
    description:
      - Seconds allowed for one command. Applying 100,000 reservations takes 5-10 s on a small
        host, about twice that through kea-ctrl-agent.
    type: float
    default: 120
"""
