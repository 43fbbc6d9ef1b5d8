# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The machine-state directory option (plugins/plugin_utils/machine_state.py) of the lifecycle actions."""

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  state_dir:
    description:
      - Directory on the controller with the machines' provisioning states (one file per SoT, mode 0600) and
        the callback key (C(callback.key), made on first use, mode 0600).
      - Default - the inventory variable C(netboot_state_dir), else C(~/.local/state/netboot.fleet).
    type: path
"""
