# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: boot_layout
short_description: Values of the collection's boot layout, for roles and templates
version_added: 1.0.0
author:
  - netboot.fleet developers (@netboot)
description:
  - Returns values of the boot layout every renderer and observer of the collection reads
    (C(plugins/module_utils/pxe/layout.py)), so that a role writes the same file names and log format
    the renderers and observers expect.
options:
  _terms:
    description: Names of layout values.
    type: list
    elements: str
    required: true
    choices: [boot_file_bios, boot_file_uefi, http_boot_file, entry_script, nginx_log_format, loader_files, callback_dir]
"""

EXAMPLES = r"""
- name: The log format nginx must write for netboot.fleet.boot_events
  ansible.builtin.debug:
    msg: "{{ lookup('netboot.fleet.boot_layout', 'nginx_log_format') }}"
"""

RETURN = r"""
_raw:
  description: One value per term (a string, or a list for loader_files).
  type: list
  elements: raw
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.netboot.fleet.plugins.module_utils.pxe import layout

VALUES = {
    "boot_file_bios": layout.BOOT_FILE_BIOS,
    "boot_file_uefi": layout.BOOT_FILE_UEFI,
    "http_boot_file": layout.HTTP_BOOT_FILE,
    "entry_script": layout.ENTRY_SCRIPT,
    "nginx_log_format": layout.NGINX_LOG_FORMAT,
    "loader_files": list(layout.LOADER_FILES),
    "callback_dir": layout.CALLBACK_DIR,
}


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        unknown = [term for term in terms if term not in VALUES]
        if unknown:
            raise AnsibleLookupError("unknown boot layout value(s) %s (known: %s)"
                                     % (", ".join(map(str, unknown)), ", ".join(sorted(VALUES))))
        return [VALUES[term] for term in terms]
