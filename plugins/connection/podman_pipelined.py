# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""containers.podman.podman with pipelining: one `podman exec` per module instead of four.

Without pipelining every module costs a `podman exec` each for mkdir, chmod, the module and rm;
each one is a few hundred milliseconds, which made a no-change run of the DHCP node roles in the
embedded lab take minutes. Upstream leaves pipelining off because its `podman exec` does not attach
stdin; this connection attaches it (`--interactive`) when Ansible pipes a module in.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: podman_pipelined
short_description: Run tasks in an existing podman container, with pipelining
description:
  - The C(containers.podman.podman) connection (same options and variables), with pipelining
    supported. A module is piped into C(podman exec --interactive) instead of being copied into a
    temporary directory that three more C(podman exec) calls create, make executable and remove.
  - File transfers (M(ansible.builtin.copy), M(ansible.builtin.template)) work as with
    C(containers.podman.podman).
  - Enable pipelining with the variable C(ansible_pipelining=true), C(ANSIBLE_PIPELINING) or the
    C(pipelining) setting of C(ansible.cfg).
author: netboot.fleet developers (@netboot-fleet)
requirements:
  - the C(containers.podman) collection (part of the C(ansible) package)
  - podman on the controller
extends_documentation_fragment:
  - connection_pipelining
options:
  remote_addr:
    description:
      - The name or ID of the container.
    default: inventory_hostname
    vars:
      - name: ansible_host
      - name: inventory_hostname
      - name: ansible_podman_host
  remote_user:
    description:
      - User (name or UID) that runs the commands inside the container.
    ini:
      - section: defaults
        key: remote_user
    env:
      - name: ANSIBLE_REMOTE_USER
    vars:
      - name: ansible_user
  podman_extra_args:
    description:
      - Extra arguments for every podman command line (storage, runtime).
    default: ''
    ini:
      - section: defaults
        key: podman_extra_args
    vars:
      - name: ansible_podman_extra_args
    env:
      - name: ANSIBLE_PODMAN_EXTRA_ARGS
  podman_executable:
    description:
      - The podman executable.
    default: podman
    vars:
      - name: ansible_podman_executable
    env:
      - name: ANSIBLE_PODMAN_EXECUTABLE
"""

import shlex

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ConnectionBase, ensure_connect
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection


class Connection(PodmanConnection):
    """The upstream podman connection, with stdin attached when a module is piped in."""

    transport = "netboot.fleet.podman_pipelined"
    has_pipelining = True

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        # The grandparent only records the command; the parent's own exec_command would drop stdin.
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        exec_args = ["exec"]
        if in_data is not None:
            exec_args.append("--interactive")
        if self.user:
            exec_args.extend(("--user", self.user))
        return self._podman(exec_args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)
