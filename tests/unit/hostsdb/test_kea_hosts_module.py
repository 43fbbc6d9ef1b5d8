"""The kea_hosts module's flow around a stand-in database: arguments, result, state file, check
mode, errors. The real database path is covered by tests/integration/hostsdb."""

from __future__ import annotations

import json
import os
import stat
from unittest import mock

import pytest
from ansible.module_utils import _internal as module_utils_internal
from ansible.module_utils.testing import patch_module_args

from ansible_collections.netboot.fleet.plugins.module_utils.kea import hostsdb as kea_hostsdb
from ansible_collections.netboot.fleet.plugins.modules import kea_hosts

RESERVATIONS = {"dhcp4": {"1662628352": [{"hw-address": "52:54:00:12:00:01", "ip-address": "198.51.100.10",
                                          "hostname": "img-server1"}]}, "dhcp6": {}}


class FakeDatabase:
    """Records how the module drives HostsDatabase; answers like a database holding nothing."""
    calls = []
    failures = []  # an exception here is raised on connect

    def __init__(self, params, lock_timeout=10.0):
        FakeDatabase.calls.append(("init", params, lock_timeout))

    def __enter__(self):
        if FakeDatabase.failures:
            raise FakeDatabase.failures[0]
        return self

    def __exit__(self, *exc_info):
        return False

    def schema_version(self):
        return (13, 0)

    def sync(self, reservations, families, check_mode, previous, timing, only_subnets_since):
        FakeDatabase.calls.append(("sync", reservations, tuple(families), check_mode, previous, only_subnets_since))
        timing.update(read=0.001, diff=0.0)
        insert = list(kea_hostsdb.hosts_for(kea_hostsdb.keyed_reservations(reservations, families),
                                            kea_hostsdb.keyed_reservations(reservations, families)).values())
        changes = kea_hostsdb.Changes(insert, [], [], 0)
        return {"changes": changes, "desired": len(insert), "mode": "incremental" if previous else "full",
                "state": {"fingerprint": "f", "reservations": reservations}}


@pytest.fixture()
def module_args(tmp_path, monkeypatch):
    monkeypatch.setattr(kea_hostsdb, "HostsDatabase", FakeDatabase)
    monkeypatch.setattr(kea_hostsdb, "HAS_PSYCOPG", True)
    FakeDatabase.calls, FakeDatabase.failures = [], []
    src = tmp_path / "reservations.json"
    src.write_text(json.dumps(RESERVATIONS))
    return {"src": str(src), "db_host": "/run/postgresql", "db_password": "s3cret",
            "state_file": str(tmp_path / "state" / "kea_hosts.json")}


def run_module(args, capsys, check=False):
    with patch_module_args(dict(args, _ansible_check_mode=check, _ansible_diff=True)), \
            mock.patch.object(module_utils_internal, "is_controller", False):
        with pytest.raises(SystemExit):
            kea_hosts.main()
    return json.loads(capsys.readouterr().out)


def test_sync_reports_counts_diff_and_keeps_a_private_state_file(module_args, capsys):
    result = run_module(module_args, capsys)
    assert result["changed"] is True and result["mode"] == "full" and result["schema_version"] == "13.0"
    assert result["counts"] == {"desired": 1, "inserted": 1, "updated": 0, "deleted": 0, "unchanged": 0}
    assert "+ host img-server1 (hw-address 52:54:00:12:00:01)" in result["diff"]["prepared"]
    assert {"input", "connect", "database", "read", "diff"} <= set(result["timing"])
    (_init, params, _timeout), (_sync, _res, families, check, previous, since) = FakeDatabase.calls
    assert params["password"] == "s3cret" and params["user"] == "kea_sync" and params["dbname"] == "kea"
    assert (families, check, previous, since) == (("dhcp4", "dhcp6"), False, None, None)
    assert "s3cret" not in json.dumps(result)
    state = module_args["state_file"]
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o600
    # The next run hands the recorded state back for an incremental sync.
    FakeDatabase.calls = []
    assert run_module(module_args, capsys)["mode"] == "incremental"
    assert FakeDatabase.calls[1][4] == {"fingerprint": "f", "reservations": RESERVATIONS}


def test_check_mode_writes_no_state(module_args, capsys):
    result = run_module(module_args, capsys, check=True)
    assert result["changed"] is True and FakeDatabase.calls[1][3] is True
    assert not os.path.exists(module_args["state_file"])


def test_database_errors_fail_with_their_message(module_args, capsys):
    FakeDatabase.failures = [kea_hostsdb.SchemaError("schema version 99.0 ... supported schema versions: 13 (Kea 2.2)")]
    result = run_module(module_args, capsys)
    assert result["failed"] is True and "supported schema versions: 13" in result["msg"]


def test_bare_module_without_src_explains_the_action_plugin(module_args, capsys):
    result = run_module(dict(module_args, src=None), capsys)
    assert result["failed"] is True and "action plugin" in result["msg"]
