"""The kea_config module's flow against a fake Kea on a unix socket: what it sends, when it
skips, how it persists. The real Kea path is covered by tests/integration/kea."""

from __future__ import annotations

import copy
import hashlib
import json
import socket
import threading
from unittest import mock

import pytest
from ansible.module_utils import _internal as module_utils_internal
from ansible.module_utils.testing import patch_module_args

from kea_unit_helpers import GOLDEN
from ansible_collections.netboot.fleet.plugins.modules import kea_config


class FakeKea:
    """Keeps a running config; answers config-get/test/set/write (and config-hash-get when
    `hashes` is true, like Kea >= 2.4). Records every command."""

    def __init__(self, path, running, hashes=False, write_fails=False):
        self.path, self.running, self.hashes, self.write_fails = path, running, hashes, write_fails
        self.commands = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _answer(self, command, arguments):
        if command == "config-hash-get":
            if not self.hashes:
                return {"result": 2, "text": "'config-hash-get' command not supported."}
            text = json.dumps(self.running, sort_keys=True).encode()
            return {"result": 0, "arguments": {"hash": hashlib.sha256(text).hexdigest()}}
        if command == "config-get":
            return {"result": 0, "arguments": self.running}
        if command in ("config-test", "config-set"):
            reservations = [r for s in arguments["Dhcp4"]["subnet4"] for r in s["reservations"]]
            if any("zz" in r["hw-address"] for r in reservations):
                return {"result": 1, "text": "invalid host identifier value 'zz'"}
            if command == "config-set":
                self.running = copy.deepcopy(arguments)
            return {"result": 0, "text": "ok"}
        if command == "config-write":
            if self.write_fails:
                return {"result": 1, "text": "Unable to open file for writing"}
            return {"result": 0, "arguments": {"filename": arguments["filename"]}}
        return {"result": 2, "text": "unknown"}

    def _serve(self):
        while True:
            try:
                conn, _address = self.server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while True:
                    data += conn.recv(1 << 16)
                    try:
                        request = json.loads(data)
                        break
                    except ValueError:
                        continue
                self.commands.append(request["command"])
                conn.sendall(json.dumps(self._answer(request["command"], request.get("arguments"))).encode())

    def close(self):
        self.server.close()


def _golden(name):
    with open("%s/%s" % (GOLDEN, name)) as handle:
        return json.load(handle)


@pytest.fixture()
def setup(tmp_path):
    fakes = []

    def make(running, **options):
        fake = FakeKea(str(tmp_path / "kea4.sock"), running, **options)
        fakes.append(fake)
        desired = _golden("dhcp4.json")
        src = tmp_path / "desired.json"
        src.write_text(json.dumps(desired, sort_keys=True, separators=(",", ":")))
        args = {"family": "dhcp4", "src": str(src), "control_socket": fake.path,
                "config_path": str(tmp_path / "kea-dhcp4.conf"), "persist": "auto"}
        return fake, desired, args
    yield make
    for fake in fakes:
        fake.close()


def run_module(args, capsys, check=False):
    module_args = dict(args, _ansible_check_mode=check, _ansible_diff=True)
    # Run as on a managed host: once any test in this process has loaded controller code (action
    # plugins), Ansible sends module warnings to the display instead of into the result.
    with patch_module_args(module_args), mock.patch.object(module_utils_internal, "is_controller", False):
        with pytest.raises(SystemExit):
            kea_config.main()
    return json.loads(capsys.readouterr().out)


def _without_one_reservation(config):
    changed = copy.deepcopy(config)
    changed["Dhcp4"]["subnet4"][0]["reservations"].pop()
    return changed


def test_unchanged_config_sends_nothing(setup, capsys):
    fake, _desired, args = setup(_golden("running-dhcp4.json"))
    result = run_module(args, capsys)
    assert result["changed"] is False and result["compared_by"] == "config-get"
    assert "config-set" not in fake.commands and "config-test" not in fake.commands


def test_change_is_tested_set_and_persisted(setup, capsys, tmp_path):
    fake, desired, args = setup(_without_one_reservation(_golden("running-dhcp4.json")))
    result = run_module(args, capsys)
    assert result["changed"] is True
    # No record of an earlier apply yet: straight to config-get; Kea 2.2 has no hash to record.
    assert fake.commands == ["config-get", "config-test", "config-set", "config-write", "config-hash-get"]
    assert result["persisted"] == "config-write"
    assert result["summary"]["reservations"]["added"]["count"] == 1
    assert "+ reservation" in result["diff"]["prepared"]
    assert fake.running == desired


def test_without_set_the_file_is_written_and_the_running_kea_left_for_a_restart(setup, capsys, tmp_path):
    running = _without_one_reservation(_golden("running-dhcp4.json"))
    fake, desired, args = setup(running)
    result = run_module(dict(args, set=False), capsys)
    assert result["changed"] is True and result["restart_required"] is True and result["persisted"] == "file"
    assert fake.commands == ["config-get", "config-test"]
    assert fake.running == running
    assert json.loads((tmp_path / "kea-dhcp4.conf").read_text()) == desired


def test_check_mode_only_tests(setup, capsys):
    running = _without_one_reservation(_golden("running-dhcp4.json"))
    fake, _desired, args = setup(running)
    result = run_module(args, capsys, check=True)
    assert result["changed"] is True
    assert fake.commands == ["config-get", "config-test"]
    assert fake.running == running


def test_rejected_config_fails_with_keas_message_and_changes_nothing(setup, capsys, tmp_path):
    running = _golden("running-dhcp4.json")
    fake, desired, args = setup(copy.deepcopy(running))
    desired["Dhcp4"]["subnet4"][0]["reservations"][0]["hw-address"] = "52:54:00:zz:00:01"
    (tmp_path / "desired.json").write_text(json.dumps(desired))
    result = run_module(args, capsys)
    assert result["failed"] is True and result["kea_command"] == "config-test"
    assert "invalid host identifier value 'zz'" in result["msg"]
    assert "config-set" not in fake.commands and fake.running == running


def test_kea_that_may_not_write_its_file_gets_it_written(setup, capsys, tmp_path):
    fake, desired, args = setup(_without_one_reservation(_golden("running-dhcp4.json")), write_fails=True)
    result = run_module(args, capsys)
    assert result["persisted"] == "file"
    assert any("wrote it instead" in str(warning) for warning in result["warnings"]), result["warnings"]
    assert json.loads((tmp_path / "kea-dhcp4.conf").read_text()) == desired
    with pytest.raises(SystemExit):
        with patch_module_args(dict(args, persist="config-write")):
            fake.running = _without_one_reservation(desired)
            kea_config.main()
    assert "Unable to open file" in json.loads(capsys.readouterr().out)["msg"]


def test_config_hash_get_skips_the_full_config_get(setup, capsys, tmp_path):
    fake, _desired, args = setup(_without_one_reservation(_golden("running-dhcp4.json")), hashes=True)
    assert run_module(args, capsys)["changed"] is True
    assert (tmp_path / "kea-dhcp4.conf.netboot-state.json").exists()
    fake.commands.clear()
    result = run_module(args, capsys)
    assert (result["changed"], result["compared_by"]) == (False, "config-hash-get")
    assert fake.commands == ["config-hash-get"]
    # Someone changed Kea behind our back: the hash differs, the full comparison runs again.
    fake.running = _without_one_reservation(fake.running)
    fake.commands.clear()
    result = run_module(args, capsys)
    assert result["changed"] is True and "config-get" in fake.commands


def test_direct_module_call_without_the_action_is_refused(capsys):
    with patch_module_args({"family": "dhcp4"}):
        with pytest.raises(SystemExit):
            kea_config.main()
    assert "action plugin" in json.loads(capsys.readouterr().out)["msg"]
