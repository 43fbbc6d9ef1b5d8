# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bringup_report: build the bring-up report on the controller and write it as JSON and HTML, with its
events as JSON lines and its metrics in the node_exporter textfile format (plugin_utils/report_files.py)."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.netboot.fleet.plugins.module_utils.bmc import console
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import consoles
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import report as bringup_report
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import store
from ansible_collections.netboot.fleet.plugins.plugin_utils import machine_state, report_files
from ansible_collections.netboot.fleet.plugins.plugin_utils.sot_action import SotAction


class ActionModule(SotAction):
    _requires_connection = False
    TRANSFERS_FILES = False

    ACTION_ARGS = dict(
        machines=dict(type="list", elements="str", required=True),
        run=dict(type="dict", required=True),
        power=dict(type="dict", default={}),
        observations=dict(type="list", elements="dict", default=[]),
        nodes=dict(type="dict", default={}),
        wait=dict(type="dict", default={}),
        lifecycle=dict(type="dict", default={}),
        **machine_state.STATE_DIR_ARG,
        **report_files.OUTPUT_ARGS,
        consoles=dict(type="dict", default={}),
    )

    def answer(self, fleet, args, task_vars):
        wanted = set(args["machines"])
        records = [machine.as_dict() for machine in fleet.machines if machine.name in wanted]
        unknown = sorted(wanted - {record["name"] for record in records})
        if unknown:
            raise AnsibleActionFail("machines not in the source of truth %s: %s" % (args["sot"], ", ".join(unknown)))
        run, wait = dict(args["run"]), dict(args["wait"])
        # Before ansible-core 2.19 a templated value arrives as a string: "1765100000.5", "False", "".
        for record in (run, wait):
            for key in ("started", "finished"):
                record[key] = None if record.get(key) in (None, "") else float(record[key])
        run["check_mode"] = boolean(run.get("check_mode", False), strict=False)
        wait["ran"] = boolean(wait.get("ran", False), strict=False)
        lifecycle = dict(args["lifecycle"])
        if lifecycle.get("run") not in (None, ""):
            lifecycle["run"] = str(lifecycle["run"])  # as bringup_progress got it (a str option)
            try:
                states = machine_state.machine_store(args, task_vars, self._templar, self.sot_path(args, task_vars)).read()
            except store.StoreError as exc:
                raise AnsibleActionFail(str(exc)) from None
            lifecycle["records"] = {name: states[name] for name in wanted if name in states}
        report = bringup_report.build(records, run, power=args["power"], observations=args["observations"],
                                      nodes=args["nodes"], wait=wait, lifecycle=lifecycle)
        consoles.attach(report, {name: console.read_lines(path) for name, path in args["consoles"].items() if path})
        return report_files.write(report, args, args["name"] or report_files.default_name(
            run.get("started"), report["run"]["check_mode"]))
