"""playbooks/sync.yml against the fabric's nodes: a rolling push that loses no exchange."""

from __future__ import annotations

import os
import sys
import time

import fabric as lab


def _probe_in(node, family, index):
    argv = [sys.executable, lab.PROBE]
    if family == "dhcp4":
        argv += ["probe4", "127.0.0.1", lab.RELAY4, "--mac", lab.mac(index), "--expect", lab.reserved4(index)]
    else:
        argv += ["probe6", "::1", lab.RELAY6, "--duid", lab.duid(index), "--mac", lab.mac(index),
                 "--expect", lab.reserved6(index)]
    return lab.run("ip", "netns", "exec", node.netns, *argv, check=False)


def test_rolling_sync_loses_nothing_and_serves_the_change_everywhere(fabric):
    new = lab.MACHINES  # a machine only the changed SoT has
    for node in fabric.nodes:
        assert _probe_in(node, "dhcp4", new).returncode != 0, "the new machine is not known before the push"
    changed_sot = lab.write_sot(os.path.join(fabric.workdir, "sot-changed"), extra_machines=1)
    with lab.ClientLoop(fabric) as loop:
        time.sleep(1)
        result = lab.run_sync(fabric, changed_sot)
        time.sleep(1)
    summary = loop.summary()
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "n1" in result.stdout and "n2" in result.stdout
    assert summary["failed"] == 0, summary
    assert summary["exchanges"] >= 50, summary
    for node in fabric.nodes:
        for family in ("dhcp4", "dhcp6"):
            probe = _probe_in(node, family, new)
            assert probe.returncode == 0, (node.name, family, probe.stdout, probe.stderr)
    fabric.wait_paths(2, timeout=10)
    assert all(node.status()["state"] == "announced" for node in fabric.nodes)


def test_sync_stops_at_a_node_that_fails_its_probe(fabric):
    first = fabric.nodes[0]
    changed_sot = lab.write_sot(os.path.join(fabric.workdir, "sot-changed2"), extra_machines=2)
    first.kea["dhcp6"].process.kill()  # n1 cannot serve DHCPv6: its probe fails after the apply
    result = lab.run_sync(fabric, changed_sot)
    assert result.returncode != 0
    assert "n2" not in result.stdout.split("PLAY RECAP")[0].split("Drain n1")[-1], "the rollout went on past n1"
    assert first.status()["drained"] is True and first.status()["state"] == "withdrawn"
    assert fabric.nexthops() == ["n2"]
