"""Shared bench helpers: time subprocesses, report medians and ratios."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def timed(cmd: list[str], env: dict | None = None, cwd: Path = ROOT, ok: tuple[int, ...] = (0,)) -> float:
    """Wall time of one run; `ok` the exit codes that count as one that worked (triage of
    an incident exits 4, attention)."""
    t = time.perf_counter()
    # stdin from /dev/null, as under CI
    res = subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t
    if res.returncode not in ok:
        raise SystemExit(f"bench command failed ({res.returncode}): {' '.join(cmd)}\n{res.stderr[-2000:]}")
    return elapsed


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def report(name: str, ours: list[float], base: list[float] | None, target: str) -> dict:
    line = f"{name}: median {median(ours):.3f}s over {len(ours)} runs"
    row = {"name": name, "median_s": round(median(ours), 3), "runs": len(ours), "target": target}
    if base:
        ratio = median(ours) / median(base)
        line += f"; baseline median {median(base):.3f}s; ratio {ratio:.2f}"
        row |= {"baseline_median_s": round(median(base), 3), "ratio": round(ratio, 3)}
    print(f"{line}  (target {target})", flush=True)
    return row


def with_sandbox(main):
    """Run a bench's main against the sandbox, starting (and then stopping) it if none runs."""
    from rovn_sandbox import control

    _, started = control.up()
    try:
        return main()
    finally:
        if started:
            control.down()
