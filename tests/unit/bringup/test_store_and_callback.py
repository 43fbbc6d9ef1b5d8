# -*- coding: utf-8 -*-
"""The machine-state store (atomic, locked, 0600) and the callback tokens."""

import json
import multiprocessing
import os
import stat

import pytest

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import callback, lifecycle, store


def test_store_round_trip_mode_and_no_write_without_change(tmp_path):
    path = str(tmp_path / "state" / "machines.json")
    machine_store = store.MachineStore(path)
    assert machine_store.read() == {}
    with machine_store.update() as records:
        records["m1"] = lifecycle.new_record(1.0)
    assert machine_store.read() == {"m1": lifecycle.new_record(1.0)}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    stamp = os.stat(path).st_mtime_ns
    inode = os.stat(path).st_ino
    with machine_store.update() as records:
        pass
    assert (os.stat(path).st_mtime_ns, os.stat(path).st_ino) == (stamp, inode)
    assert not [name for name in os.listdir(tmp_path / "state") if name.startswith(".machines-")]


def test_store_refuses_a_foreign_or_broken_file(tmp_path):
    path = tmp_path / "machines.json"
    path.write_text("{not json")
    with pytest.raises(store.StoreError, match="cannot be read"):
        store.MachineStore(str(path)).read()
    path.write_text(json.dumps({"schema": "other", "machines": {}}))
    with pytest.raises(store.StoreError, match="is not a netboot.fleet/machine-state/1 file"):
        store.MachineStore(str(path)).read()


def _bump(path, count):
    for _index in range(count):
        with store.MachineStore(path).update() as records:
            record = records.setdefault("m", {"n": 0})
            record["n"] += 1


def test_concurrent_updates_lose_nothing(tmp_path):
    path = str(tmp_path / "machines.json")
    workers = [multiprocessing.Process(target=_bump, args=(path, 25)) for _index in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert store.MachineStore(path).read()["m"]["n"] == 100


def test_default_path_is_one_file_per_sot(tmp_path):
    first = store.default_path("/srv/sot-a", str(tmp_path))
    assert first == store.default_path("/srv/sot-a", str(tmp_path)) != store.default_path("/srv/sot-b", str(tmp_path))
    assert os.path.dirname(first) == str(tmp_path)


def test_callback_key_is_made_once_0600_and_tokens_are_per_machine(tmp_path):
    path = str(tmp_path / "dir" / callback.KEY_FILE)
    with pytest.raises(callback.CallbackKeyError, match="does not exist"):
        callback.load_key(path, create=False)
    key = callback.load_key(path)
    assert callback.load_key(path) == key and len(key) == 64
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    token = callback.token(key, "web1", "52:54:00:12:00:03")
    assert callback.token(key, "web1", "52:54:00:12:00:03".upper()) == token and len(token) == 32
    assert callback.valid(key, "web1", "52:54:00:12:00:03", token)
    assert not callback.valid(key, "img-server1", "52:54:00:12:00:01", token)  # another machine's token
    assert not callback.valid(key, "web1", "52:54:00:12:00:03", "0" * 32)
    assert not callback.valid(key, "web1", "52:54:00:12:00:03", None)
    assert token != callback.token(callback.load_key(str(tmp_path / "other.key")), "web1", "52:54:00:12:00:03")


def test_a_bad_key_file_is_refused(tmp_path):
    path = tmp_path / "callback.key"
    path.write_text("short\n")
    with pytest.raises(callback.CallbackKeyError, match="not a hex key"):
        callback.load_key(str(path))
