"""netboot.fleet.podman_pipelined against a lab node's container: modules, file transfers, pipelining.

Every podman call goes through a wrapper that logs its arguments, so the test sees how many
`podman exec` a module costs: one with pipelining, more without (that difference is why the lab
uses this connection).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys

from conftest import INVENTORY, REPO

ANSIBLE = (os.path.join(os.path.dirname(sys.executable), "ansible")
           if os.path.exists(os.path.join(os.path.dirname(sys.executable), "ansible"))
           else shutil.which("ansible"))


def adhoc(tmp_path, module, args, *extra):
    """Run one module on dhcp-a1 through the connection; the podman exec calls it made."""
    calls = tmp_path / "podman-calls"
    calls.unlink(missing_ok=True)
    wrapper = tmp_path / "podman"
    wrapper.write_text('#!/bin/sh\nprintf "%%s\\n" "$*" >>"%s"\nexec "%s" "$@"\n' % (calls, shutil.which("podman")))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_FORCE_COLOR="0")
    argv = [ANSIBLE, "-i", INVENTORY, "dhcp-a1", "-m", module, "-a", args,
            "-e", "ansible_podman_executable=%s" % wrapper] + list(extra)
    result = subprocess.run(argv, check=False, text=True, capture_output=True, cwd=REPO, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    execs = [line for line in calls.read_text().splitlines() if " exec " in " %s " % line]
    return result.stdout, execs


def test_a_module_is_one_interactive_exec(e2e_lab, tmp_path):
    out, execs = adhoc(tmp_path, "ansible.builtin.command", "cat /etc/hostname")
    assert "dhcp-a1" in out
    assert len(execs) == 1, execs
    assert "--interactive" in execs[0].split()


def test_without_pipelining_the_same_module_costs_more_execs(e2e_lab, tmp_path):
    out, execs = adhoc(tmp_path, "ansible.builtin.command", "cat /etc/hostname", "-e", "ansible_pipelining=false")
    assert "dhcp-a1" in out
    assert len(execs) >= 3, execs
    assert not [call for call in execs if "--interactive" in call.split()]


def test_files_go_in_and_come_back(e2e_lab, tmp_path):
    remote = "/var/tmp/nbe-connection-test"
    content = "written by test_podman_connection\n"
    copy = json.dumps({"content": content, "dest": remote, "mode": "0600"})
    adhoc(tmp_path, "ansible.builtin.copy", copy)
    out, dummy = adhoc(tmp_path, "ansible.builtin.copy", copy)
    assert "SUCCESS" in out, "a second copy of the same content must not change anything:\n" + out
    fetched = tmp_path / "fetched"
    adhoc(tmp_path, "ansible.builtin.fetch", json.dumps({"src": remote, "dest": str(fetched), "flat": True}))
    assert fetched.read_text() == content
    adhoc(tmp_path, "ansible.builtin.file", "path=%s state=absent" % remote)
