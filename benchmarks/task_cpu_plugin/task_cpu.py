# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CPU per task of a playbook run, from cpuacct cgroups (benchmarks/bringup_scale.py --tasks).

Enabled by ANSIBLE_CALLBACK_PLUGINS=<this directory> and ANSIBLE_CALLBACKS_ENABLED=task_cpu. At every play and
task start it reads the CPU of two cgroup v1 cpuacct directories and of ansible-playbook's own process, and
charges what was used since the previous start to the previous play or task:

  NBF_TASK_CPU_TREE   the cgroup ansible-playbook and all its children run in
  NBF_TASK_CPU_NODES  the cgroup the DHCP nodes' module runs go to (a child of the tree's: cpuacct counts it there too)
  NBF_TASK_CPU_OUT    the JSON file written at the end of the run: one row per task run, in run order

With the linear strategy a task's workers have finished when the next task starts, so a row holds what
its workers, the nodes' modules it ran and ansible-playbook's main process (queueing, templating,
results) cost. An included task file's tasks are rows of their own, once per inclusion.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: task_cpu
type: aggregate
short_description: CPU per task from cpuacct cgroups, for benchmarks
description: Writes the CPU each play and task cost (main process, workers, DHCP nodes' modules) to a JSON file.
requirements:
  - cgroup v1 cpuacct directories named by NBF_TASK_CPU_TREE and NBF_TASK_CPU_NODES
"""

import json
import os
import resource

from ansible.plugins.callback import CallbackBase


def _usage_ns(directory):
    if not directory:
        return 0
    with open(os.path.join(directory, "cpuacct.usage"), encoding="ascii") as handle:
        return int(handle.read())


def _own_ns():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return int((usage.ru_utime + usage.ru_stime) * 1e9)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_cpu"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._tree = os.environ.get("NBF_TASK_CPU_TREE")
        self._nodes = os.environ.get("NBF_TASK_CPU_NODES")
        self._out = os.environ.get("NBF_TASK_CPU_OUT")
        self._rows = []
        self._current = None
        self._play = None
        self._last = self._sample()

    def _sample(self):
        return {"tree": _usage_ns(self._tree), "nodes": _usage_ns(self._nodes), "main": _own_ns()}

    def _close(self):
        now = self._sample()
        if self._current is not None:
            used = {key: now[key] - self._last[key] for key in now}
            self._current.update(main_ns=used["main"], nodes_ns=used["nodes"],
                                 workers_ns=used["tree"] - used["nodes"] - used["main"])
            self._rows.append(self._current)
        self._last = now

    def _start(self, task=None):
        self._close()
        self._current = {"play": self._play, "task": task.get_name() if task is not None else None,
                         "action": task.action if task is not None else None, "results": 0}

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()
        self._start()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._start(task)

    def _result(self, *_args, **_kwargs):
        if self._current is not None:
            self._current["results"] += 1

    v2_runner_on_ok = v2_runner_on_failed = v2_runner_on_skipped = v2_runner_on_unreachable = _result

    def v2_playbook_on_stats(self, stats):
        self._close()
        self._current = None
        if self._out:
            with open(self._out, "w", encoding="utf-8") as handle:
                json.dump(self._rows, handle)
