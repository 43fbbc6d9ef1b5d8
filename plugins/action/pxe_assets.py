# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pxe_assets: ship the SoT and the templates from the controller, render and sync on the node.

Why render on the node: at 100,000 machines the rendered tree is ~300,000 files. Shipping the
SoT (one archive) and rendering next to the served directories keeps the transfer small and
lets the node compare and skip unchanged files locally; rendering on the controller would mean
moving the whole tree (or a checksum round trip per file) for every run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tarfile
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.netboot.fleet.plugins.module_utils.pxe import render as pxe

ARCHIVE_ROOT = "sot"  # must match plugins/modules/pxe_assets.py


def sot_archive(source, destination):
    """Write source (a SoT file, or a directory shipped whole minus hidden entries) as a tar under sot/."""
    with tarfile.open(destination, "w") as bundle:
        if os.path.isfile(source):
            bundle.add(source, arcname="%s/%s" % (ARCHIVE_ROOT, os.path.basename(source)), recursive=False)
            return
        for current, dirs, files in os.walk(source):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                path = os.path.join(current, name)
                if name.startswith(".") or not os.path.isfile(path):
                    continue
                relative = os.path.relpath(path, source).replace(os.sep, "/")
                bundle.add(path, arcname="%s/%s" % (ARCHIVE_ROOT, relative), recursive=False)


class ActionModule(ActionBase):
    TRANSFERS_FILES = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        args = dict(self._task.args)
        source = args.get("sot") or task_vars.get("netboot_sot_source")
        if not source:
            raise AnsibleActionFail("sot is required (or the inventory variable netboot_sot_source, "
                                    "which the netboot.fleet.sot inventory plugin sets)")
        source = self._loader.path_dwim(self._templar.template(source))
        if not os.path.exists(source):
            raise AnsibleActionFail("sot: %s does not exist on the controller" % source)
        template_dir = args.pop("template_dir", None)
        if template_dir:
            template_dir = self._loader.path_dwim(template_dir)
        try:
            args["templates"] = pxe.read_templates(template_dir)
        except pxe.PxeError as exc:
            raise AnsibleActionFail(to_text(exc))
        args["sot_label"] = source if os.path.isdir(source) else os.path.dirname(source)

        handle, local_archive = tempfile.mkstemp(prefix="netboot-sot-", suffix=".tar")
        os.close(handle)
        try:
            sot_archive(source, local_archive)
            if not self._connection._shell.tmpdir:
                self._make_tmp_path()
            remote_archive = self._connection._shell.join_path(self._connection._shell.tmpdir, "sot.tar")
            self._transfer_file(local_archive, remote_archive)
            self._fixup_perms2((self._connection._shell.tmpdir, remote_archive))
            args["sot"] = remote_archive
            result.update(self._execute_module(module_name="netboot.fleet.pxe_assets", module_args=args,
                                               task_vars=task_vars))
        finally:
            os.unlink(local_archive)
            self._remove_tmp_path(self._connection._shell.tmpdir)
        # The template texts are our own plumbing: keep them out of the task's output.
        result.get("invocation", {}).get("module_args", {}).pop("templates", None)
        return result
