"""A function over a long list, in forked worker processes, one range of the list each.

Verifying an archive is Python work per run (a manifest parsed, files read and hashed,
two canonical hashes), which threads serialize on the GIL. Forked children inherit the
list and the function (keys included, which do not pickle), so a task is two integers
and a result is a few flags and problem strings: the cost of the pool is the fork.
Small lists, one core, or a platform without fork: the same function, in turn.
"""
from __future__ import annotations

import multiprocessing
import os

MIN_ITEMS = 512  # below this the fork costs more than it saves
_JOB: tuple | None = None  # (fn, items): set just before the fork, read by the children


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def each(fn, items: list, min_items: int | None = None, workers: int | None = None) -> list:
    """[fn(x) for x in items], in order; across `workers` forked processes (one per core)."""
    workers = workers or cores()
    if len(items) < (MIN_ITEMS if min_items is None else min_items) or workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [fn(x) for x in items]
    from concurrent.futures import ProcessPoolExecutor

    global _JOB
    _JOB = (fn, items)
    try:
        # a few ranges per worker: one slow range (a big notebook) does not hold the others
        step = -(-len(items) // (workers * 4))
        ranges = [(i, min(i + step, len(items))) for i in range(0, len(items), step)]
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            return [r for part in pool.map(_range, ranges) for r in part]
    finally:
        _JOB = None


def _range(bounds: tuple[int, int]) -> list:
    fn, items = _JOB
    return [fn(items[i]) for i in range(*bounds)]
