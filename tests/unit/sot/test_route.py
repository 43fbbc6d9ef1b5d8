"""sot.route: one full load per run; the processes Ansible forks get the loaded SoT without loading again."""

import os
import shutil

import pytest

from ansible_collections.netboot.fleet.plugins.module_utils.sot import api as sot
from ansible_collections.netboot.fleet.plugins.module_utils.sot import cache, route

REPO = os.path.join(os.path.dirname(__file__), "..", "..", "..")
EMBEDDED = os.path.join(REPO, "inventory", "sot")


@pytest.fixture
def source(tmp_path, monkeypatch):
    """A copy of the embedded SoT, a load log, an empty cache directory and no load of this test's process."""
    copy = str(tmp_path / "sot")
    shutil.copytree(EMBEDDED, copy)
    monkeypatch.setenv(cache.LOAD_LOG_ENV, str(tmp_path / "loads.log"))
    monkeypatch.setattr(route, "_LOADED", {})
    return copy, str(tmp_path / "cache"), tmp_path / "loads.log"


def loads(log):
    return [line.split()[1:3] for line in log.read_text().splitlines()] if log.exists() else []


def test_one_full_load_then_the_loaded_sot(source):
    path, cache_dir, log = source
    first = route.load(path, cache_dir)
    assert route.load(path, cache_dir) is first
    assert first.machines == sot.load(path).machines
    assert loads(log) == [["full", "3"]]


def test_a_forked_process_uses_the_load_it_inherited(source):
    """As Ansible's workers do: forked after the inventory loaded, they load nothing."""
    path, cache_dir, log = source
    fleet = route.load(path, cache_dir)
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 only when it got the same SoT without loading
        os._exit(0 if route.load(path, cache_dir).machines == fleet.machines and len(loads(log)) == 1 else 1)
    assert os.waitpid(pid, 0)[1] == 0
    assert loads(log) == [["full", "3"]]


def test_another_process_reads_only_the_changed_file(source):
    path, cache_dir, log = source
    route.load(path, cache_dir)
    route._LOADED.clear()  # a process that did not inherit the load (an inventory cache hit)
    assert route.load(path, cache_dir).machines
    machines = os.path.join(path, "machines.yml")
    with open(machines, encoding="utf-8") as handle:
        text = handle.read()
    with open(machines, "w", encoding="utf-8") as handle:
        handle.write(text.replace("web1", "web9"))
    changed = route.load(path, cache_dir)
    assert "web9" in {machine.name for machine in changed.machines}
    assert loads(log) == [["full", "3"], ["cached", "0"], ["cached", "1"]]


def test_an_invalid_sot_is_never_served(source):
    path, cache_dir, log = source
    route.load(path, cache_dir)
    with open(os.path.join(path, "networks.yml"), "a", encoding="utf-8") as handle:
        handle.write("bogus: 1\n")
    with pytest.raises(sot.SotError, match="bogus"):
        route.load(path, cache_dir)
    with pytest.raises(sot.SotError, match="bogus"):
        route.load(path, cache_dir)
