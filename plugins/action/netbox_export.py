# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""netbox_export: NetBox -> one SoT file on the controller, written only when everything read and validated."""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase

from ansible_collections.netboot.fleet.plugins.module_utils.common_args import NETBOX_ARGS
from ansible_collections.netboot.fleet.plugins.module_utils.netbox import export
from ansible_collections.netboot.fleet.plugins.module_utils.netbox.client import Connection, NetBoxClient, NetBoxError
from ansible_collections.netboot.fleet.plugins.module_utils.netbox.mapping import Selection
from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot

ARGUMENT_SPEC = dict(NETBOX_ARGS, token={"type": "str", "no_log": True}, dest={"type": "path", "required": True},
                     sot={"type": "path"})


class ActionModule(ActionBase):
    _requires_connection = False
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        dest = os.path.abspath(args["dest"])
        sot_dir = args["sot"] or os.path.dirname(dest)
        client = None
        try:
            client = NetBoxClient(Connection.from_options(args, os.environ))
            text, fleet = export.export(client, Selection.from_options(args), sot_dir, dest)
        except NetBoxError as exc:
            result.update(failed=True, msg=str(exc), requests=client.requests if client else 0)
            return result
        except sot.SotError as exc:  # nothing written: every problem, each with its NetBox URL
            result.update(failed=True, msg=str(exc), problems=[str(problem) for problem in exc.problems[:exc.SHOWN]],
                          requests=client.requests)
            return result
        before = _read(dest)
        result.update(changed=before != text, dest=dest, machines=len(fleet.machines), networks=len(fleet.networks),
                      requests=client.requests)
        if self._task.diff and before != text:
            result["diff"] = {"before": before or "", "after": text, "before_header": dest, "after_header": dest}
        if result["changed"] and not self._task.check_mode:
            try:
                export.write_file(dest, text)
            except OSError as exc:
                result.update(failed=True, msg="cannot write %s: %s" % (dest, exc.strerror or exc))
        return result


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
