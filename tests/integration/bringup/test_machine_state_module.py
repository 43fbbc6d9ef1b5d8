"""netboot.fleet.machine_state through Ansible: read, mark for reinstall (check mode, diff), bad names."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import lifecycle, store

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SOT = os.path.join(REPO, "inventory", "sot")
BIN = os.path.dirname(sys.executable)
ANSIBLE = os.path.join(BIN, "ansible") if os.path.exists(os.path.join(BIN, "ansible")) else shutil.which("ansible")


def machine_state(state_dir, *extra, **args):
    args = dict(args, sot=SOT, state_dir=str(state_dir))
    result = subprocess.run([ANSIBLE, "localhost", "-m", "netboot.fleet.machine_state", "-a", json.dumps(args)]
                            + list(extra), check=False, text=True, capture_output=True, cwd=REPO,
                            env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                                     ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json"))
    try:
        answer = json.loads(result.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        answer = {"msg": result.stdout + result.stderr}
    return result.returncode, answer


def test_read_mark_for_reinstall_check_mode_and_bad_names(tmp_path):
    path = store.default_path(SOT, str(tmp_path))
    with store.MachineStore(path).update() as records:
        record = lifecycle.start(lifecycle.new_record(1.0), "r1", 2.0)
        records["web1"] = lifecycle.mark(record, "booted", 3.0, "callback")
    rc, out = machine_state(tmp_path)
    assert rc == 0 and out["local_boot"] == ["web1"] and not out["changed"], out
    assert out["machines"]["img-server1"]["state"] == "new"

    rc, out = machine_state(tmp_path, "--check", "--diff", names=["web1", "img-server1"], state="new")
    assert rc == 0 and out["changed"] and out["changed_machines"] == ["web1"], out
    assert out["diff"] == {"before": "web1: booted\n", "after": "web1: new\n"}, out
    assert store.MachineStore(path).read()["web1"]["state"] == "booted"  # check mode wrote nothing

    rc, out = machine_state(tmp_path, names=["web1"], state="new", reason="new disk layout")
    assert rc == 0 and out["changed"], out
    record = store.MachineStore(path).read()["web1"]
    assert (record["state"], record["history"][-1]["detail"]) == ("new", "new disk layout")
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    rc, out = machine_state(tmp_path, names=["web1"], state="new")
    assert rc == 0 and not out["changed"], out

    rc, out = machine_state(tmp_path, names=["nope", "web1"], state="new")
    assert rc != 0 and out["msg"] == "names: not machines of the source of truth: nope", out
    rc, out = machine_state(tmp_path, state="new")
    assert rc != 0 and "names is required to set a state" in out["msg"], out
