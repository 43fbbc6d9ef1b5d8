"""sot_cache.load: the same SoT (or the same error) as sot.load, and the right list of changed machines."""

from __future__ import annotations

import os
import shutil

import pytest
import yaml

from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot
from ansible_collections.netboot.fleet.plugins.module_utils.sot import cache as sot_cache

HERE = os.path.dirname(os.path.abspath(__file__))
EMBEDDED = os.path.join(HERE, "..", "..", "..", "inventory", "sot")


@pytest.fixture()
def tree(tmp_path):
    """The embedded SoT with its machines split over two files, and a cache file path."""
    source = tmp_path / "sot"
    shutil.copytree(EMBEDDED, source)
    machines = yaml.safe_load((source / "machines.yml").read_text())["machines"]
    _write(source / "machines.yml", machines[:2])
    _write(source / "more-machines.yml", machines[2:])
    return str(source), str(tmp_path / "cache" / "sot.cache")


def _write(path, machines):
    with open(path, "w") as handle:
        yaml.safe_dump({"machines": machines}, handle)


def _edit(path, edit):
    with open(path) as handle:
        machines = yaml.safe_load(handle)["machines"]
    edit(machines)
    _write(path, machines)


def _saved(source, cache, extra=None):
    loaded = sot_cache.load(source, cache)
    loaded.save(cache, extra)
    return loaded


def test_first_load_knows_nothing_and_equals_a_full_load(tree):
    source, cache = tree
    loaded = sot_cache.load(source, cache)
    assert loaded.changed is None and loaded.extra == {}
    assert loaded.sot == sot.load(source)


def test_nothing_changed(tree):
    source, cache = tree
    _saved(source, cache, {"fingerprint": "abc"})
    assert os.stat(cache).st_mode & 0o777 == 0o600
    loaded = sot_cache.load(source, cache)
    assert loaded.changed == frozenset() and loaded.extra == {"fingerprint": "abc"}
    assert loaded.sot == sot.load(source)


def test_changed_added_and_removed_machines_are_named(tree):
    source, cache = tree
    _saved(source, cache)
    more = os.path.join(source, "more-machines.yml")
    removed = yaml.safe_load(open(more))["machines"][0]["name"]

    def edit(machines):
        del machines[0]
        machines.append({"name": "web9", "mac": "52:54:00:12:00:09", "ipv4": "198.51.100.19", "network": "rack12",
                         "profile": "debian12", "firmware": "uefi", "bmc": {"address": "192.0.2.99", "protocol": "ipmi"}})
    _edit(more, edit)
    _edit(os.path.join(source, "machines.yml"), lambda machines: machines[0].update(ipv4="198.51.100.30"))
    loaded = sot_cache.load(source, cache)
    assert loaded.changed == {removed, "web9", "img-server1"}
    assert set(loaded.before) == {removed, "img-server1"} and loaded.before["img-server1"].ipv4 == "198.51.100.10"
    assert set(loaded.after) == {"web9", "img-server1"} and loaded.after["img-server1"].ipv4 == "198.51.100.30"
    assert loaded.sot == sot.load(source)
    assert loaded.machines_in({"rack12"}) == [m for m in sot.load(source).machines if m.network == "rack12"]
    # Saved, the new state is the reference point: nothing changed since.
    loaded.save(cache, {"fingerprint": "def"})
    again = sot_cache.load(source, cache)
    assert again.changed == frozenset() and again.extra == {"fingerprint": "def"} and again.sot == loaded.sot


def test_machines_moving_between_files_around_empty_ones(tree):
    """Files without machines sit at the same place in the cached columns as their neighbours."""
    source, cache = tree
    machines = yaml.safe_load(open(os.path.join(source, "machines.yml")))["machines"]
    more = yaml.safe_load(open(os.path.join(source, "more-machines.yml")))["machines"]
    for name in ("a-empty.yml", "b-empty.yml", "machines.yml", "more-machines.yml"):
        _write(os.path.join(source, name), [])
    _saved(source, cache)
    steps = [("b-empty.yml", machines), ("a-empty.yml", more), ("b-empty.yml", []), ("more-machines.yml", machines)]
    for name, content in steps:
        _write(os.path.join(source, name), content)
        loaded = sot_cache.load(source, cache)
        assert loaded.changed is not None and loaded.sot == sot.load(source), name
        assert {m.name: m.source for m in loaded.machines_in({"rack12", "rack13"})} == \
            {m.name: m.source for m in sot.load(source).machines}
        loaded.save(cache)


def test_a_file_rewritten_with_the_same_content_changes_nothing(tree):
    source, cache = tree
    _saved(source, cache)
    _edit(os.path.join(source, "machines.yml"), lambda machines: None)
    assert sot_cache.load(source, cache).changed == frozenset()


@pytest.mark.parametrize("edit", [
    pytest.param(lambda machines: machines.append(dict(machines[0], name="dup")), id="duplicate MAC across files"),
    pytest.param(lambda machines: machines[0].update(ipv4="192.0.2.200"), id="address outside its network"),
    pytest.param(lambda machines: machines[0].update(network="nowhere"), id="unknown network"),
])
def test_a_bad_change_fails_exactly_as_a_full_load(tree, edit):
    source, cache = tree
    _saved(source, cache)
    _edit(os.path.join(source, "more-machines.yml"), edit)
    with pytest.raises(sot.SotError) as full:
        sot.load(source)
    with pytest.raises(sot.SotError) as cached:
        sot_cache.load(source, cache)
    assert str(cached.value) == str(full.value)


def test_more_than_machines_changed_is_unknown(tree):
    source, cache = tree
    _saved(source, cache, {"fingerprint": "abc"})
    networks = os.path.join(source, "networks.yml")
    data = yaml.safe_load(open(networks))
    data["networks"][0]["domain"] = "elsewhere.example.net"
    yaml.safe_dump(data, open(networks, "w"))
    loaded = sot_cache.load(source, cache)
    assert loaded.changed is None and loaded.extra == {}
    assert loaded.sot == sot.load(source)


def test_a_file_added_is_unknown(tree):
    source, cache = tree
    _saved(source, cache)
    _write(os.path.join(source, "zz-empty.yml"), [])
    assert sot_cache.load(source, cache).changed is None


def test_a_cache_others_may_write_or_of_other_code_is_not_used(tree, monkeypatch):
    source, cache = tree
    _saved(source, cache)
    os.chmod(cache, 0o620)
    assert sot_cache.load(source, cache).changed is None
    os.chmod(cache, 0o600)
    assert sot_cache.load(source, cache).changed == frozenset()
    monkeypatch.setattr(sot_cache, "_code_digest", lambda: "other code")
    assert sot_cache.load(source, cache).changed is None


def test_a_damaged_cache_is_not_used(tree):
    source, cache = tree
    _saved(source, cache)
    with open(cache, "r+b") as handle:
        handle.truncate(100)
    loaded = sot_cache.load(source, cache)
    assert loaded.changed is None and loaded.sot == sot.load(source)


def test_a_file_without_machines_touched_or_given_machines(tree):
    source, cache = tree
    _saved(source, cache)
    fabric = os.path.join(source, "fabric.yml")
    with open(fabric) as handle:
        text = handle.read()
    with open(fabric, "w") as handle:  # the same content written again: a new stamp
        handle.write(text)
    loaded = sot_cache.load(source, cache)
    assert loaded.changed == frozenset()
    assert loaded.sot == sot.load(source)
    loaded.save(cache)

    machines = yaml.safe_load(open(os.path.join(source, "more-machines.yml")))["machines"]
    _write(os.path.join(source, "more-machines.yml"), machines[1:])
    with open(fabric, "a") as handle:  # a file that had none now holds a machine
        yaml.safe_dump({"machines": machines[:1]}, handle)
    loaded = sot_cache.load(source, cache)
    assert loaded.sot == sot.load(source)
