# -*- coding: utf-8 -*-
# Copyright: netboot.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many BMCs from one controller process: bounded parallel, one result per machine.

Each machine gets its own worker thread and BMC session from a pool of
`parallel` threads, so a dead BMC holds one thread for its own timeout and
nothing else waits for it. pyghmi's IPMI sessions share one socket loop
that is safe across threads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor


def run_many(jobs, parallel):
    """Run every `jobs[name]()` with at most `parallel` at once; {name: its return value}.

    A job must not raise (the BMC jobs turn every failure into a result).
    """
    if not jobs:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(jobs))), thread_name_prefix="bmc") as pool:
        futures = dict((name, pool.submit(job)) for name, job in jobs.items())
        return dict((name, future.result()) for name, future in futures.items())
