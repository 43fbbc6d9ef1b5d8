# -*- coding: utf-8 -*-
"""The merge of a sliced bring-up's reports (bringup/slices.py): the run's one report, golden files, refusals."""

import json

import pytest

from bringup_testlib import POWER, RUN, WAIT, golden
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import consoles, lifecycle, slices
from ansible_collections.netboot.fleet.plugins.module_utils.bringup import report as bringup_report

START = RUN["started"]
FORGED = [{"machine": "img-server1", "time": START + 20, "client": "198.51.100.99", "phase": "installed", "node": "dhcp-a1"}]


def records():
    """Provisioning states of the run: img-server1 booted from disk, img-server2 failed at its answer file."""
    booted = lifecycle.start(lifecycle.new_record(START), "r1", START + 10, "on (was off)")
    booted, _action = lifecycle.advance(booted, {"dhcp": (START + 12, "lease"), "script": (START + 13, "script"),
                                                 "kernel": (START + 14, "minimal/linux"), "answer": (START + 40, "answer"),
                                                 "installing": (START + 41, "disk.img.gz"),
                                                 "installed": (START + 70, "callback"), "booted": (START + 100, "callback")},
                                        {}, START + 101, lifecycle.Policy())
    failed = lifecycle.start(lifecycle.new_record(START), "r1", START + 10)
    failed = lifecycle.start(failed, "r1", START + 60, "retry after answer file: 404")
    failed = lifecycle.fail(failed, "answer", "GET /installer/img-server2/install.conf answered HTTP 404 by dhcp-a1", START + 70)
    return {"img-server1": booted, "img-server2": failed}


def run_report(machines, observations, names, run=None, wait=None, nodes=None):
    """The report one run (or one slice) of `names` writes, read back from its JSON as the merge reads it."""
    scope = [machine for machine in machines if machine["name"] in names]
    report = bringup_report.build(scope, run or RUN, power={name: POWER[name] for name in names}, observations=observations,
                                  nodes=nodes or {"dhcp-a1": {}, "dhcp-a2": {}}, wait=wait or WAIT, lifecycle={
                                      "run": "r1", "records": records(), "left_alone": ["web1"], "forged": FORGED})
    consoles.attach(report, {name: ["%s login:" % name] for name in names if name != "v6-worker1"})
    return json.loads(bringup_report.to_json(report))


def awx_slices(names, count):
    """As AWX job slicing shares out an inventory's hosts: sorted by name, slice i gets every count-th from i."""
    ordered = sorted(names)
    return [ordered[index::count] for index in range(count)]


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_the_merged_slices_are_the_single_runs_report(machines, observations, count):
    names = [machine["name"] for machine in machines]
    single = run_report(machines, observations, names)
    parts = [("slice%d.json" % index, run_report(machines, observations, part))
             for index, part in enumerate(awx_slices(names, count))]
    merged = slices.merge(parts)
    assert bringup_report.to_json(merged) == bringup_report.to_json(single)
    assert bringup_report.to_html(merged) == bringup_report.to_html(single)
    # Whatever order the slices come in.
    assert bringup_report.to_json(slices.merge(parts[::-1])) == bringup_report.to_json(single)


@pytest.fixture(name="merged")
def merged_fixture(machines, observations):
    """Two slices as they really differ: the second started 2 s later, its wait ended later, and it could
    not read one of dhcp-a1's logs; both saw the same forged callback."""
    first = run_report(machines, observations, ["img-server1", "v6-worker1"])
    late_run = dict(RUN, started=START + 2, finished=RUN["finished"] + 4)
    late_wait = dict(WAIT, started=WAIT["started"] + 2, finished=WAIT["finished"] + 4)
    unreadable = [dict(observations[1], sources=[{"source": "tftp", "path": "/var/log/syslog", "error": "permission denied"}])
                  if observation["item"] == "dhcp-a1" else observation for observation in observations]
    second = run_report(machines, unreadable, ["img-server2", "web1"], run=late_run, wait=late_wait)
    return slices.merge([("bringup-7-9.json", second), ("bringup-7-8.json", first)])


def test_golden_merged_json(merged):
    golden("merged.json", bringup_report.to_json(merged))


def test_golden_merged_html(merged):
    golden("merged.html", bringup_report.to_html(merged))


def test_golden_merged_summary(merged):
    golden("merged-summary.txt", "\n".join(bringup_report.summary_lines(merged, "/var/tmp/netboot-fleet/reports/x.html")) + "\n")


def test_the_run_spans_its_slices_and_counts_every_machine(merged):
    assert merged["run"]["started"] == bringup_report.iso(START)
    assert merged["run"]["finished"] == bringup_report.iso(RUN["finished"] + 4)
    assert merged["run"]["wait"] == {"ran": True, "timeout": 60, "started": bringup_report.iso(WAIT["started"]),
                                     "finished": bringup_report.iso(WAIT["finished"] + 4)}
    assert [(row["name"], row["status"]) for row in merged["machines"]] == [
        ("v6-worker1", "failed"), ("img-server2", "failed"), ("web1", "left_alone"), ("img-server1", "booted")]
    assert merged["summary"]["counts"]["failed"] == 2 and merged["summary"]["installed"] == 2
    assert merged["forged_callbacks"] == [dict(FORGED[0], time=bringup_report.iso(FORGED[0]["time"]))]
    dhcp_a1 = [node for node in merged["nodes"] if node["name"] == "dhcp-a1"][0]
    assert dhcp_a1["unreadable"] == ["tftp /var/log/syslog: permission denied"]
    assert [row["console"]["lines"] for row in merged["machines"] if row["name"] == "web1"] == [["web1 login:"]]


def test_a_node_that_failed_in_one_slice_failed(machines, observations):
    names = ["img-server1", "web1"]
    ok = run_report(machines, observations, names[:1])
    failed = run_report(machines, observations, names[1:], nodes={"dhcp-a1": {"ok": False, "stage": "apply", "msg": "config-test refused"},
                                                                  "dhcp-a2": {}})
    nodes = {node["name"]: node for node in slices.merge([("a", ok), ("b", failed)])["nodes"]}
    assert (nodes["dhcp-a1"]["ok"], nodes["dhcp-a1"]["stage"], nodes["dhcp-a1"]["reason"]) == (False, "apply", "config-test refused")
    assert nodes["dhcp-a2"]["ok"] is True


def test_limits_given_to_the_slices_are_the_runs_union(machines, observations):
    first = run_report(machines, observations, ["img-server1"], run=dict(RUN, limit="img-server1"))
    second = run_report(machines, observations, ["web1"], run=dict(RUN, limit="web1"))
    assert slices.merge([("a", first), ("b", second)])["run"]["limit"] == "img-server1:web1"


def test_refusals_name_the_slice_and_the_field(machines, observations):
    one = run_report(machines, observations, ["img-server1"])
    other = run_report(machines, observations, ["web1"])
    with pytest.raises(slices.MergeError, match="no slice reports to merge"):
        slices.merge([])
    with pytest.raises(slices.MergeError, match="machine img-server1 is in two slice reports: a.json and b.json"):
        slices.merge([("a.json", one), ("b.json", run_report(machines, observations, ["img-server1", "web1"]))])
    with pytest.raises(slices.MergeError, match=r"run.sot differ \(a.json: \"/srv/sot\", b.json: \"/srv/other\"\)"):
        slices.merge([("a.json", one), ("b.json", dict(other, run=dict(other["run"], sot="/srv/other")))])
    with pytest.raises(slices.MergeError, match="run.check_mode differ"):
        slices.merge([("a.json", one), ("b.json", dict(other, run=dict(other["run"], check_mode=True)))])
    with pytest.raises(slices.MergeError, match=r"b.json: not a bring-up report \(schema netboot.fleet/bringup-report/1 expected, found \"x/2\"\)"):
        slices.merge([("a.json", one), ("b.json", dict(other, schema="x/2"))])
    with pytest.raises(slices.MergeError, match="b.json: not a bring-up report"):
        slices.merge([("a.json", one), ("b.json", [1, 2])])
    broken = dict(other)
    del broken["nodes"]
    with pytest.raises(slices.MergeError, match="b.json: the report has no nodes"):
        slices.merge([("a.json", one), ("b.json", broken)])
    with pytest.raises(slices.MergeError, match="the slices' site differ and cannot be merged"):
        slices.merge([("a.json", dict(one, site="x")), ("b.json", dict(other, site="y"))])
    assert slices.merge([("a.json", dict(one, site="x")), ("b.json", dict(other, site="x"))])["site"] == "x"


class _Templar:
    @staticmethod
    def template(value):
        return value


def test_pushes_to_one_node_take_turns_and_other_nodes_do_not_wait(tmp_path):
    import fcntl
    import os
    from ansible_collections.netboot.fleet.plugins.plugin_utils import machine_state

    def held_by_another():
        """Whether another open file (another slice) would wait for a push lock that is held now."""
        for name in os.listdir(tmp_path):
            probe = os.open(os.path.join(tmp_path, name), os.O_RDWR)
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            finally:
                os.close(probe)
        return False

    args = {"state_dir": str(tmp_path)}
    with machine_state.push_lock(args, {}, _Templar(), "dhcp-a1"):
        assert held_by_another()
        with machine_state.push_lock(args, {}, _Templar(), "dhcp-a2"):   # another node: no wait
            pass
    assert not held_by_another()
    assert len(os.listdir(tmp_path)) == 2 and oct(os.stat(tmp_path / os.listdir(tmp_path)[0]).st_mode & 0o777) == "0o600"
