# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many BMCs from one controller task: bounded parallel, one result per machine.

Each machine gets its own worker thread and BMC session from a pool of
`parallel` threads, so a dead BMC holds one thread for its own timeout and
nothing else waits for it. pyghmi's IPMI sessions share one socket loop
that is safe across threads.

That loop wakes every session waiting in the process for each packet it
receives, so the CPU of a session grows with the sessions in flight in the
same process: run_many forks processes of THREADS_PER_PROCESS threads at
most, which this process feeds one machine at a time (benchmarks/README.md,
"bulk_power in processes"). Always, even for one process: pyghmi's socket
loop is a thread, which a process forked after pyghmi ran in its parent
would not have, so the task's own process never runs a session.
run_in_threads is the reference it must equal.
"""

from __future__ import annotations

import collections
import multiprocessing
import multiprocessing.connection
import threading
from concurrent.futures import ThreadPoolExecutor

THREADS_PER_PROCESS = 10


def run_many(jobs, parallel):
    """Run every `jobs[name]()` with at most `parallel` at once; {name: its return value}.

    A job must not raise (the BMC jobs turn every failure into a result); its
    return value must pickle.
    """
    if not jobs:
        return {}
    parallel = max(1, min(parallel, len(jobs)))
    return run_in_processes(jobs, parallel, -(-parallel // THREADS_PER_PROCESS))


def run_in_threads(jobs, parallel):
    """The reference: one pool of `parallel` threads in this process."""
    if not jobs:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(jobs))), thread_name_prefix="bmc") as pool:
        futures = dict((name, pool.submit(job)) for name, job in jobs.items())
        return dict((name, future.result()) for name, future in futures.items())


def run_in_processes(jobs, parallel, processes):
    """`processes` forked processes sharing `parallel` threads. This process hands out the
    machines one at a time as threads ask (a slow BMC holds one thread, not a share of the machines) and
    collects each result as it comes; the machines of a process that dies are failed, no other."""
    context = multiprocessing.get_context("fork")  # the jobs are closures: the children inherit them
    names = list(jobs)
    pending = collections.deque(range(len(names)))
    results, handed = {}, {}
    for number in range(processes):
        threads = parallel // processes + (1 if number < parallel % processes else 0)  # `parallel` in all
        mine, theirs = context.Pipe()
        child = context.Process(target=_serve, args=(jobs, names, theirs, threads), daemon=True)
        child.start()
        theirs.close()
        handed[mine] = (child, set())
    while handed:
        for connection in multiprocessing.connection.wait(list(handed)):
            child, in_flight = handed[connection]
            try:
                index, result = connection.recv()
            except EOFError:  # done, or died: what it still had is failed below
                connection.close()
                child.join()
                del handed[connection]
                for lost in in_flight:
                    results[names[lost]] = {"failed": True, "msg": "the process that talked to this machine's BMC "
                                            "exited (code %s) before reporting; nothing is known of it" % child.exitcode}
                continue
            if index is not None:
                in_flight.discard(index)
                results[names[index]] = result
            following = pending.popleft() if pending else None
            if following is not None:
                in_flight.add(following)
            connection.send(following)
    return dict((name, results[name]) for name in names)


def _serve(jobs, names, connection, threads):
    """In a child: each thread asks for a machine, runs its job, returns the result with the next request."""
    lock = threading.Lock()  # one request and its answer at a time on the connection

    def work():
        index, result = None, None
        while True:
            with lock:
                connection.send((index, result))
                index = connection.recv()
            if index is None:
                return
            result = jobs[names[index]]()

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bmc") as pool:
        for _thread in range(threads):
            pool.submit(work)
    connection.close()
