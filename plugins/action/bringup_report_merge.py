# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bringup_report_merge: the JSON reports of a bring-up run's slices -> one report, written as the run's
(JSON, HTML, events, metrics, latest.*) on the controller."""

from __future__ import annotations

import json
import os
from datetime import datetime

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import slices
from ansible_collections.netboot.fleet.plugins.plugin_utils import report_files

ARGUMENT_SPEC = dict(reports=dict(type="list", elements="path", required=True), **report_files.OUTPUT_ARGS)


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as exc:
        raise AnsibleActionFail("cannot read the slice report %s: %s" % (path, exc.strerror or exc)) from None
    except ValueError as exc:
        raise AnsibleActionFail("the slice report %s is not JSON: %s" % (path, exc)) from None


class ActionModule(ActionBase):
    _requires_connection = False
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        # One path per slice, whatever the order or the links (latest.json) it is named by.
        sources = sorted({os.path.realpath(path) for path in args["reports"]})
        try:
            merged = slices.merge([(path, _read(path)) for path in sources])
        except slices.MergeError as exc:
            raise AnsibleActionFail(str(exc)) from None
        started = merged["run"]["started"]
        name = args["name"] or report_files.default_name(
            datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp() if started else None, merged["run"]["check_mode"])
        written = report_files.paths(args, name)
        overwritten = sorted(set(sources) & {os.path.realpath(path) for path in written.values()})
        if overwritten:
            raise AnsibleActionFail("the merged report would replace its slice report %s: give it another name" % overwritten[0])
        result.update(report_files.write(merged, args, name, write_files=not self._task.check_mode),
                      slices=len(sources))
        return result
