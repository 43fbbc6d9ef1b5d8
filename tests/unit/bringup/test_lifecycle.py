# -*- coding: utf-8 -*-
"""Provisioning states: transitions, per-stage timeouts and the retry budget, with a fake clock."""

import pytest

from ansible_collections.netboot.fleet.plugins.module_utils.bringup import lifecycle

T0 = 1796000000.0
RUN = "run-1"


def started(policy_retries=2):
    return lifecycle.start(lifecycle.new_record(T0 - 100), RUN, T0, "on (was off)"), lifecycle.Policy(retries=policy_retries)


def test_steps_seen_move_the_state_forward_in_order_with_their_times():
    record, policy = started()
    seen = {"dhcp": (T0 + 3, "lease"), "loader": (T0 + 4, "undionly.kpxe"), "script": (T0 + 5, "ipxe/x.ipxe")}
    record, action = lifecycle.advance(record, seen, {}, T0 + 6, policy)
    assert (record["state"], action) == ("script", None)
    assert [(entry["state"], entry["time"]) for entry in record["history"]] == [
        ("power", T0), ("dhcp", T0 + 3), ("loader", T0 + 4), ("script", T0 + 5)]
    # A step seen without the ones before it (no kernel seen: a URL kernel fetched elsewhere) still counts.
    record, action = lifecycle.advance(record, dict(seen, answer=(T0 + 40, "answer")), {}, T0 + 41, policy)
    assert record["state"] == "answer" and action is None


def test_installed_asks_for_local_boot_once_then_booted_is_final():
    record, policy = started()
    seen = {"dhcp": (T0 + 1, ""), "script": (T0 + 2, ""), "answer": (T0 + 30, ""), "installed": (T0 + 60, "callback")}
    record, action = lifecycle.advance(record, seen, {}, T0 + 61, policy)
    assert (record["state"], action) == ("installed", "boot_local")
    record, action = lifecycle.advance(record, seen, {}, T0 + 64, policy)
    assert (record["state"], action) == ("installed", None)
    record, action = lifecycle.advance(record, dict(seen, booted=(T0 + 90, "callback")), {}, T0 + 91, policy)
    assert (record["state"], action) == ("booted", None)
    assert lifecycle.advance(record, {}, {}, T0 + 10 ** 6, policy) == (record, None)


@pytest.mark.parametrize("reached, waited, group", [
    ("power", "dhcp", "lease"), ("dhcp", "loader", "script"), ("script", "kernel", "answer"),
    ("answer", "installing", "installed"), ("installed", "booted", "booted")])
def test_each_stage_times_out_after_its_own_timeout(reached, waited, group):
    timeouts = {"lease": 10, "script": 20, "answer": 30, "installed": 40, "booted": 50}
    policy = lifecycle.Policy(timeouts, retries=0)
    record, _policy = started()
    steps = lifecycle.PROGRESS[1:lifecycle.PROGRESS.index(reached) + 1]
    seen = {step: (T0 + 1, step) for step in steps}
    record, action = lifecycle.advance(record, seen, {}, T0 + 1, policy)
    since = record["since"]
    assert lifecycle.deadline(record, policy) == since + timeouts[group]
    assert lifecycle.advance(record, seen, {}, since + timeouts[group], policy)[1] is None  # not yet
    record, action = lifecycle.advance(record, seen, {}, since + timeouts[group] + 0.1, policy)
    assert (record["state"], record["stage"], action) == ("failed", waited, "failed")
    assert record["reason"] == "no %s within %d s after %s" % (
        lifecycle.LABELS[waited], timeouts[group], lifecycle.LABELS[reached])


def test_a_refused_fetch_fails_the_attempt_at_once_and_the_budget_bounds_the_retries():
    record, policy = started(policy_retries=2)
    refused = {"answer": (T0 + 31, "GET /installer/m1/install.conf answered HTTP 404 by dhcp-a1")}
    seen = {"dhcp": (T0 + 1, ""), "script": (T0 + 2, ""), "kernel": (T0 + 10, "")}
    actions = []
    record, action = lifecycle.advance(record, seen, refused, T0 + 32, policy)
    assert action is None  # iPXE and installers retry some fetches: a grace before the refusal counts
    now = T0 + 31 + lifecycle.REFUSAL_GRACE
    for _attempt in range(3):
        record, action = lifecycle.advance(record, seen, refused, now, policy)
        actions.append((action, record["state"], record["attempt"]))
        now += 40
        seen = {key: (now - 35 + index, "") for index, key in enumerate(("dhcp", "script", "kernel"))}
        refused = {"answer": (now - 20, "GET /installer/m1/install.conf answered HTTP 404 by dhcp-a2")}
    assert actions == [("retry", "power", 2), ("retry", "power", 3), ("failed", "failed", 3)]
    assert (record["stage"], record["reason"]) == ("answer", "GET /installer/m1/install.conf answered HTTP 404 by dhcp-a2")
    # A retry restarts the clock and the steps: the new attempt starts at the retry's time.
    assert sum(1 for entry in record["history"] if entry["state"] == "power") == 3


def test_a_refusal_followed_by_a_success_of_the_same_step_is_not_a_failure():
    record, policy = started()
    seen = {"dhcp": (T0 + 1, ""), "script": (T0 + 9, "")}
    refused = {"script": (T0 + 2, "GET /ipxe/x.ipxe answered HTTP 404 by dhcp-a1")}
    record, action = lifecycle.advance(record, seen, refused, T0 + 10, policy)
    assert (record["state"], action) == ("script", None)


def test_a_stalled_installed_machine_is_power_cycled_but_keeps_booting_its_disk():
    record, policy = started(policy_retries=1)
    seen = {"dhcp": (T0 + 1, ""), "script": (T0 + 2, ""), "answer": (T0 + 3, ""), "installed": (T0 + 4, "")}
    record, _action = lifecycle.advance(record, seen, {}, T0 + 5, policy)
    record, action = lifecycle.advance(record, seen, {}, T0 + 5 + policy.timeouts["booted"] + 1, policy)
    assert (record["state"], record["attempt"], action) == ("installed", 2, "retry")
    assert record["state"] in lifecycle.LOCAL_BOOT
    record, action = lifecycle.advance(record, seen, {}, record["since"] + policy.timeouts["booted"] + 1, policy)
    assert (record["state"], record["stage"], action) == ("failed", "booted", "failed")


def test_a_new_run_starts_at_attempt_one_and_marking_new_forgets_the_run():
    record, policy = started()
    record = lifecycle.fail(record, "answer", "gone", T0 + 10)
    again = lifecycle.start(record, "run-2", T0 + 100)
    assert (again["state"], again["attempt"], again["run"], again["stage"]) == ("power", 1, "run-2", None)
    marked = lifecycle.mark(record, "new", T0 + 50, "new disk")
    assert (marked["state"], marked["run"], marked["attempt"]) == ("new", None, 0)
    assert marked["history"][-1]["detail"] == "new disk"
    assert lifecycle.advance(marked, {"dhcp": (T0 + 60, "")}, {}, T0 + 10 ** 5, policy) == (marked, None)
    with pytest.raises(ValueError):
        lifecycle.mark(record, "bogus", T0)


def test_history_is_bounded():
    record, policy = started(policy_retries=1000)
    now = T0
    for _round in range(200):
        now += policy.timeouts["lease"] + 1
        record, _action = lifecycle.advance(record, {}, {}, now, policy)
    assert len(record["history"]) == lifecycle.HISTORY_LIMIT


@pytest.mark.parametrize("timeouts, retries, message", [
    ({"lease": 0}, 1, "positive"), ({"bogus": 3}, 1, "unknown timeout"), ({}, -1, "retries"), ({"answer": "x"}, 1, "positive")])
def test_bad_policy_is_refused(timeouts, retries, message):
    with pytest.raises(ValueError, match=message):
        lifecycle.Policy(timeouts, retries)
