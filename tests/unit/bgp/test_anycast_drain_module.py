"""plugins/modules/anycast_drain.py run as on a managed host, against a health loop in a thread."""

from __future__ import annotations

import json
import os
import threading
import time
from unittest import mock

import pytest
from ansible.module_utils import _internal as module_utils_internal
from ansible.module_utils.testing import patch_module_args

from ansible_collections.netboot.fleet.plugins.module_utils.anycast import dhcp_probe
from ansible_collections.netboot.fleet.plugins.modules import anycast_drain


@pytest.fixture
def loop(tmp_path):
    """A real HealthLoop with a fake BIRD and a check that passes unless told otherwise."""
    health = {"ok": True}
    config = {"interval": 0.02, "rise": 2, "fall": 1, "announce_file": str(tmp_path / "announce.conf"),
              "drain_file": str(tmp_path / "drained"), "status_file": str(tmp_path / "status.json"),
              "birdc": ["birdc"], "checks": []}

    def runner(_argv):
        return mock.Mock(returncode=0, stdout="Reconfigured", stderr="")

    def checker(_config):
        return [dhcp_probe.ProbeResult("dhcp4", health["ok"], "fake probe", 0.0, None)]
    health_loop = dhcp_probe.HealthLoop(config, runner=runner, checker=checker)
    stop = threading.Event()

    def run():
        while not stop.is_set():
            health_loop.step()
            time.sleep(config["interval"])
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not (dhcp_probe.read_status(config["status_file"]) or {}).get("state") == "announced":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    yield config, health
    stop.set()
    thread.join()


def run_module(args, capsys, check=False):
    module_args = dict(args, _ansible_check_mode=check, _ansible_diff=True)
    with patch_module_args(module_args), mock.patch.object(module_utils_internal, "is_controller", False):
        with pytest.raises(SystemExit):
            anycast_drain.main()
    # The loop thread logs its transitions to stdout too: the module's answer is the JSON line.
    return json.loads([line for line in capsys.readouterr().out.splitlines() if line.startswith("{")][-1])


def test_drain_check_mode_then_drain_then_undrain(loop, capsys):
    config, _health = loop
    args = {"drain_file": config["drain_file"], "status_file": config["status_file"], "settle": 0}
    result = run_module(dict(args, state="drained"), capsys, check=True)
    assert result["changed"] and result["drained"] is False and result["announced"] is True
    assert result["diff"] == {"before": {"drained": False}, "after": {"drained": True}}
    assert not os.path.exists(config["drain_file"])
    result = run_module(dict(args, state="drained", note="test"), capsys)
    assert result["changed"] and result["drained"] and not result["announced"] and result["reason"] == "drained"
    assert run_module(dict(args, state="drained"), capsys)["changed"] is False
    result = run_module(dict(args, state="active"), capsys)
    assert result["changed"] and result["announced"] and result["reason"] == "healthy"


def test_undrain_fails_while_the_probe_fails(loop, capsys):
    config, health = loop
    args = {"drain_file": config["drain_file"], "status_file": config["status_file"], "settle": 0}
    run_module(dict(args, state="drained"), capsys)
    health["ok"] = False
    result = run_module(dict(args, state="active", timeout=0.5), capsys)
    assert result["failed"] and "did not become announced" in result["msg"]
    assert result["reason"] == "unhealthy: fake probe"
