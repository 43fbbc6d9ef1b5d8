# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The source-of-truth option of every module that renders from the SoT (plugins/module_utils/common_args.py)."""

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  sot:
    description:
      - Path of the source of truth (SoT) on the controller, a YAML or JSON file or a directory of them.
      - Defaults to the inventory variable C(netboot_sot_source), which the C(netboot.fleet.sot) inventory plugin sets.
      - Loaded and validated once per run on the controller (the inventory plugin's load is reused); an invalid
        SoT fails the task with every problem, naming file, record and field, before anything is pushed.
    type: path
"""
