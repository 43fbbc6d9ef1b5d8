"""run_many: bounded parallel, one result per job, and no job waits for a stuck one."""

from __future__ import annotations

import threading

from ansible_collections.netboot.fleet.plugins.module_utils.bmc.bulk import run_many


def test_every_job_gets_its_result():
    assert run_many(dict((name, (lambda name=name: name.upper())) for name in "abc"), 2) == \
        {"a": "A", "b": "B", "c": "C"}
    assert run_many({}, 4) == {}


def test_parallelism_is_bounded():
    lock, running, peak = threading.Lock(), [0], [0]
    gate = threading.Barrier(3)

    def job():
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        gate.wait(timeout=5)  # three at once must be possible...
        with lock:
            running[0] -= 1
        return True

    assert all(run_many(dict((i, job) for i in range(9)), 3).values())
    assert peak[0] == 3  # ...and never more


def test_a_stuck_job_does_not_hold_the_others():
    """The stuck job is released only once every other job is done: a head-of-line wait deadlocks."""
    others_done = threading.Event()
    finished = []

    def stuck():
        return others_done.wait(timeout=30)

    def quick(name):
        def job():
            finished.append(name)
            if len(finished) == 5:
                others_done.set()
            return name
        return job

    jobs = {"stuck": stuck}
    jobs.update((i, quick(i)) for i in range(5))
    results = run_many(jobs, 2)
    assert results["stuck"] is True  # released by the others, not by its timeout
    assert sorted(finished) == list(range(5))


def test_pyghmi_session_tables_share_one_lock():
    """Two locks taken in both orders deadlock bulk_power's threads under load (pyghmi 1.6)."""
    from pyghmi.ipmi.private import session

    from ansible_collections.netboot.fleet.plugins.module_utils.bmc import client  # noqa: F401 (applies it)
    assert session.KEEPALIVE_SESSIONS is session.WAITING_SESSIONS
