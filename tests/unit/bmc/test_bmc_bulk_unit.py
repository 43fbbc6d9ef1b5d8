"""run_many: bounded parallel, one result per job, and no job waits for a stuck one; in threads (the
reference) and spread over forked processes above THREADS_PER_PROCESS (the same results)."""

from __future__ import annotations

import multiprocessing
import os
import socket
import threading

import pytest

from ansible_collections.netboot.fleet.plugins.module_utils.bmc import bulk
from ansible_collections.netboot.fleet.plugins.module_utils.bmc.bulk import run_many


def test_every_job_gets_its_result():
    assert run_many(dict((name, (lambda name=name: name.upper())) for name in "abc"), 2) == \
        {"a": "A", "b": "B", "c": "C"}
    assert run_many({}, 4) == {}


@pytest.mark.parametrize("runner, parallel", [(bulk.run_in_threads, 3), (run_many, 3), (run_many, 25)])
def test_parallelism_is_bounded(runner, parallel):
    context = multiprocessing.get_context("fork")  # shared with run_many's forked processes
    running, peak = context.Value("i", 0), context.Value("i", 0)
    gate = context.Barrier(parallel)

    def job():
        with running.get_lock():
            running.value += 1
            peak.value = max(peak.value, running.value)
        gate.wait(timeout=10)  # `parallel` at once must be possible...
        with running.get_lock():
            running.value -= 1
        return True

    assert all(runner(dict((i, job) for i in range(3 * parallel)), parallel).values())
    assert peak.value == parallel  # ...and never more


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
    results = bulk.run_in_threads(jobs, 2)
    assert results["stuck"] is True  # released by the others, not by its timeout
    assert sorted(finished) == list(range(5))


def outcome(name):
    return {"name": name, "pid": os.getpid(), "thread": threading.get_ident()}


@pytest.mark.parametrize("parallel", [1, 10, 11, 25, 50])
def test_processes_give_the_threads_results(parallel):
    jobs = dict((name, (lambda name=name: {"name": name, "upper": str(name).upper()})) for name in range(120))
    assert run_many(jobs, parallel) == bulk.run_in_threads(jobs, parallel)
    assert list(run_many(jobs, parallel)) == list(jobs)  # in the jobs' order


def test_the_jobs_run_in_bounded_child_processes():
    jobs = dict((name, (lambda name=name: outcome(name))) for name in range(200))
    results = run_many(jobs, 3 * bulk.THREADS_PER_PROCESS)
    pids = set(result["pid"] for result in results.values())
    assert os.getpid() not in pids and 1 < len(pids) <= 3
    per_process = {}
    for result in results.values():
        per_process.setdefault(result["pid"], set()).add(result["thread"])
    assert all(len(threads) <= bulk.THREADS_PER_PROCESS for threads in per_process.values())
    # Even one process's worth runs in a child: this process never runs a session.
    pids = set(result["pid"] for result in run_many(jobs, bulk.THREADS_PER_PROCESS).values())
    assert len(pids) == 1 and os.getpid() not in pids


def test_a_stuck_job_does_not_hold_the_other_processes_machines():
    """The stuck job is released only once every other job is done, whichever process ran them."""
    done = multiprocessing.get_context("fork").Value("i", 0)  # shared by the forked processes

    def stuck():
        for _tick in range(300):
            if done.value == 100:
                return "released"
            threading.Event().wait(0.1)
        return "timed out"

    def quick(i):
        def job():
            with done.get_lock():
                done.value += 1
            return i
        return job

    jobs = {"stuck": stuck}
    jobs.update((i, quick(i)) for i in range(100))
    results = run_many(jobs, 2 * bulk.THREADS_PER_PROCESS)
    assert results["stuck"] == "released"
    assert [results[i] for i in range(100)] == list(range(100))


def test_a_process_that_dies_fails_its_machines_and_no_other():
    def dies():
        os._exit(3)  # the whole process, with whatever its other threads were doing

    jobs = dict((i, (lambda i=i: i)) for i in range(50))
    jobs["dies"] = dies
    results = run_many(jobs, 2 * bulk.THREADS_PER_PROCESS)
    assert results["dies"]["failed"] and "exited (code 3) before reporting" in results["dies"]["msg"]
    lost = [i for i in range(50) if results[i] != i]
    assert all(results[i]["failed"] for i in lost)
    assert len(lost) < 50  # the other process carried on


def test_pyghmi_session_tables_share_one_lock():
    """Two locks taken in both orders deadlock bulk_power's threads under load (pyghmi 1.6)."""
    from pyghmi.ipmi.private import session

    from ansible_collections.netboot.fleet.plugins.module_utils.bmc import client  # noqa: F401 (applies it)
    assert session.KEEPALIVE_SESSIONS is session.WAITING_SESSIONS


def test_pyghmi_reads_a_socket_left_blocking_without_waiting():
    """pyghmi's I/O thread must not block on a socket another thread set blocking (it stalls every session)."""
    from pyghmi.ipmi.private import session

    from ansible_collections.netboot.fleet.plugins.module_utils.bmc import client  # noqa: F401 (applies it)

    class LeftBlocking(socket.socket):
        def setblocking(self, flag):  # a sender in another thread sets it blocking right after
            super().setblocking(True)

    with LeftBlocking(socket.AF_INET, socket.SOCK_DGRAM) as quiet, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        quiet.bind(("127.0.0.1", 0))
        read = []
        reader = threading.Thread(target=lambda: read.append(session._io_recvfrom(quiet, 3000)), daemon=True)
        reader.start()
        reader.join(2)
        blocked = reader.is_alive()
        sender.sendto(b"wake", quiet.getsockname())  # lets a blocked read end either way
        reader.join(5)
    assert not blocked and read == [None]
