# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one route from the source of truth to a node: the base of every action plugin that takes the SoT.

load (sot.route: once per run) -> payload (the action's pure renderer) -> transfer -> execute the module
-> cleanup -> timing. An action whose work is done on the controller (MODULE None) answers from answer().
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.netboot.fleet.plugins.module_utils.common_args import SOT_ARGS, SOT_HOSTVAR
from ansible_collections.netboot.fleet.plugins.module_utils.problems import ProblemsError
from ansible_collections.netboot.fleet.plugins.module_utils.sot import route


class LocalFile(str):
    """A payload file given by its path on the controller (shipped as is), not by its text."""


class Payload:
    """What the module gets: files {module option: (file name, text or LocalFile)}, each shipped to the target
    and the option set to its path there, and the module's other arguments. temporary: local files to remove
    once shipped; hidden: plumbing arguments kept out of the task's output."""

    def __init__(self, files=None, args=None, temporary=(), hidden=()):
        self.files = dict(files or {})
        self.args = dict(args or {})
        self.temporary = list(temporary)
        self.hidden = tuple(hidden)


class SotAction(ActionBase):
    TRANSFERS_FILES = True
    MODULE = None  # fully qualified module run with the payload; None: the action answers on the controller
    ACTION_ARGS = {}  # the action's own options (validated here); any other option goes to the module as given

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args, module_args = self._split_args()
        timing = {}
        try:
            fleet = self.load(args, module_args, task_vars, timing)
            result.update(self.act(fleet, args, module_args, task_vars, timing))
        except ProblemsError as exc:  # nothing was pushed: every problem, each with its place
            result.update(failed=True, msg=str(exc), problems=[str(problem) for problem in exc.problems[:exc.SHOWN]])
            return result
        if isinstance(result.get("timing"), dict):
            result["timing"].update((step, round(seconds, 3)) for step, seconds in timing.items())
        return result

    def act(self, fleet, args, module_args, task_vars, timing):
        """The task's result. Default: the module's, run with payload()."""
        if self.MODULE is None:
            return self.answer(fleet, args, task_vars)
        with self.timed(timing, "render"):
            payload = self.payload(fleet, args, module_args, task_vars)
        try:
            result = self.execute(payload, task_vars, timing)
        finally:
            for path in payload.temporary:
                os.unlink(path)
        for hidden in payload.hidden:
            result.get("invocation", {}).get("module_args", {}).pop(hidden, None)
        return result

    def load(self, args, module_args, task_vars, timing):
        """The SoT act() works from: the run's one load (sot.route), or None when sot_path() is None."""
        path = self.sot_path(args, task_vars)
        if path is None:
            return None
        with self.timed(timing, "load_sot"):
            return route.load(path)

    def payload(self, fleet, args, module_args, task_vars) -> Payload:
        raise NotImplementedError

    def answer(self, fleet, args, task_vars) -> dict:
        raise NotImplementedError

    def sot_path(self, args, task_vars):
        """The SoT path on the controller: the sot option, else the inventory's netboot_sot_source."""
        source = args.get("sot") or task_vars.get(SOT_HOSTVAR)
        if not source:
            raise AnsibleActionFail("sot is required (or the inventory variable %s, which the netboot.fleet.sot "
                                    "inventory plugin sets)" % SOT_HOSTVAR)
        return self._loader.path_dwim(self._templar.template(source))

    def execute(self, payload, task_vars, timing):
        """Ship the payload's files to a temporary directory on the target, run the module there, clean up."""
        with self.timed(timing, "transfer"):
            tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
            module_args = dict(payload.args)
            shipped = [tmpdir]
            for option, (name, content) in payload.files.items():
                remote = self._connection._shell.join_path(tmpdir, name)
                if isinstance(content, LocalFile):
                    self._transfer_file(content, remote)
                else:
                    self._transfer_data(remote, content)
                module_args[option] = remote
                shipped.append(remote)
            self._fixup_perms2(shipped)
        try:
            return self._execute_module(module_name=self.MODULE, module_args=module_args, task_vars=task_vars)
        finally:
            self._remove_tmp_path(tmpdir)

    @staticmethod
    @contextmanager
    def timed(timing, step):
        start = time.monotonic()
        try:
            yield
        finally:
            timing[step] = timing.get(step, 0.0) + time.monotonic() - start

    def _split_args(self):
        """(the action's own options validated, the module's options as given)."""
        spec = dict(SOT_ARGS, **self.ACTION_ARGS)
        given = dict(self._task.args)
        own = {key: given.pop(key) for key in list(given) if key in spec}
        validated = ArgumentSpecValidator(spec).validate(own)
        if validated.error_messages:
            raise AnsibleActionFail("; ".join(validated.error_messages))
        return validated.validated_parameters, given
