"""The tests' reset (`control.reset`, before most test cases): restoring the world the
seed kept (moto's pickled backends, a template database, a copied checkout) against
seeding it all anew as every reset did before (moto-api reset, the world through
moto's HTTP API, git init and push, the database's migrations and rows), both over
the sandbox's control API in the same sandbox, interleaved. Target ratio <= 0.25."""
from __future__ import annotations

import time

from common import report, with_sandbox

from rovn_ops.sandbox import control


def _timed_reset(state: dict, full: bool) -> float:
    t = time.perf_counter()
    control.reset(state, full=full)
    return time.perf_counter() - t


def main(runs: int = 9) -> dict:
    state = control.require()
    control.reset(state, full=True)  # warm both paths once
    control.reset(state)
    ours, base = [], []
    for _ in range(runs):
        base.append(_timed_reset(state, full=True))
        ours.append(_timed_reset(state, full=False))
    control.reset(state, full=True)  # leave a world seeded the ordinary way
    return report("sandbox reset (restore the kept seed vs seed anew)", ours, base, "ratio <= 0.25")


if __name__ == "__main__":
    with_sandbox(main)
