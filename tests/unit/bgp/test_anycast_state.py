"""plugins/module_utils/anycast/state.py: drain/undrain against a simulated health loop."""

from __future__ import annotations

import json

import pytest

from ansible_collections.netboot.fleet.plugins.module_utils.anycast import state as anycast_state


class World:
    """A clock and a health loop that answers on the status file when the clock moves."""

    def __init__(self, tmp_path, healthy=True):
        self.now = 1000.0
        self.drain_file = str(tmp_path / "drained")
        self.status_file = str(tmp_path / "status.json")
        self.healthy = healthy
        self.write()

    def write(self):
        import os
        drained = os.path.exists(self.drain_file)
        state = "announced" if self.healthy and not drained else "withdrawn"
        with open(self.status_file, "w", encoding="utf-8") as handle:
            json.dump({"state": state, "drained": drained, "updated": self.now, "bird_synced": True,
                       "reason": "drained" if drained else ("healthy" if self.healthy else "unhealthy: no OFFER")}, handle)

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        self.write()

    def ensure(self, state, **kwargs):
        return anycast_state.ensure(state, self.drain_file, self.status_file, clock=self.clock, sleep=self.sleep, **kwargs)


def test_drain_then_undrain(tmp_path):
    world = World(tmp_path)
    outcome = world.ensure("drained", note="maintenance")
    assert outcome["changed"] and outcome["status"]["state"] == "withdrawn"
    assert json.loads(open(world.drain_file).read())["note"] == "maintenance"
    assert world.ensure("drained")["changed"] is False
    outcome = world.ensure("active")
    assert outcome["changed"] and outcome["status"]["state"] == "announced"


def test_check_mode_changes_nothing(tmp_path):
    world = World(tmp_path)
    assert world.ensure("drained", check_mode=True)["changed"] is True
    import os
    assert not os.path.exists(world.drain_file)


def test_undrain_of_an_unhealthy_node_fails_with_the_reason(tmp_path):
    world = World(tmp_path, healthy=False)
    world.ensure("drained")
    with pytest.raises(anycast_state.AnycastStateError, match="did not become announced within 2.0s: unhealthy: no OFFER"):
        world.ensure("active", timeout=2.0)


def test_no_health_loop(tmp_path):
    world = World(tmp_path)
    world.now += 60  # the status file is a minute old
    with pytest.raises(anycast_state.AnycastStateError, match="health loop is not running"):
        world.ensure("drained")
