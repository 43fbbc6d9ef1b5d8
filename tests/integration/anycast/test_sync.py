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


def test_sync_stops_at_a_node_that_cannot_be_compared_and_drains_nothing(fabric):
    first = fabric.nodes[0]
    changed_sot = lab.write_sot(os.path.join(fabric.workdir, "sot-changed2"), extra_machines=2)
    first.kea["dhcp6"].process.kill()  # n1's kea-dhcp6 is gone: its running configuration cannot be read
    result = lab.run_sync(fabric, changed_sot)
    assert result.returncode != 0
    after_n1 = result.stdout.split("PLAY RECAP")[0].split("Compare the source of truth with the running Kea, changing nothing, on n1")
    assert "n2" not in after_n1[-1], "the rollout went on past n1"
    assert _task_results(result.stdout, "Drain the node") == []
    assert first.status()["drained"] is False
    assert fabric.nexthops() == ["n2"]  # the health loop withdrew n1 (its DHCPv6 probe fails), nobody else


def _task_results(output, task_prefix):
    """The result lines ("changed: [n1]", "skipping: [n2]") printed under each task whose name starts with task_prefix."""
    found = []
    for block in output.split("\nTASK [")[1:]:
        if block.startswith(task_prefix):
            found += [line.split(" =>")[0].strip() for line in block.splitlines()[1:]
                      if line.startswith(("ok:", "changed:", "skipping:", "fatal:", "failed:"))]
    return found


def test_a_second_sync_with_nothing_to_change_drains_nothing(fabric):
    changed_sot = lab.write_sot(os.path.join(fabric.workdir, "sot-changed3"), extra_machines=3)
    first = lab.run_sync(fabric, changed_sot)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    # Each task names the node it acts on, and acts on that node only.
    for node in ("n1", "n2"):
        assert _task_results(first.stdout, "Drain the node %s" % node) == ["changed: [%s]" % node]
        assert _task_results(first.stdout, "Undrain the node %s" % node) == ["changed: [%s]" % node]
    second = lab.run_sync(fabric, changed_sot)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
    recap = second.stdout.split("PLAY RECAP")[-1]
    for node in ("n1", "n2"):
        assert [line for line in recap.splitlines() if line.startswith(node) and "changed=0" in line], recap
        assert _task_results(second.stdout, "Drain the node %s" % node) == ["skipping: [%s]" % node]
    assert fabric.nexthops() == ["n1", "n2"]


def test_sync_never_drains_the_last_announced_node(fabric):
    second = fabric.node("n2")
    second.drain(True)
    lab.wait_for(lambda: fabric.nexthops() == ["n1"], 30, "n2 withdrawn")
    result = lab.run_sync(fabric, lab.write_sot(os.path.join(fabric.workdir, "sot-changed4"), extra_machines=4))
    assert result.returncode != 0
    assert "No other DHCP node is announced" in result.stdout, result.stdout[-3000:]
    assert _task_results(result.stdout, "Drain the node n1") == []
    assert fabric.node("n1").status()["state"] == "announced" and fabric.nexthops() == ["n1"]
