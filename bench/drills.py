"""Incident drills against §7's RTO: for each scenario that breaks the service, the time
from injecting it to /health answering 200 from the good revision, doing what on-call
does (sandbox/drills.py: triage, then each command it names, previewed and executed).

Sandbox time, compressed as the sandbox compresses it: an ECS rollout is a few polls
(`poll_min` 0.05 s) rather than minutes, a bake 1 s rather than 300, so the figure is
the suite's own cost (kernels, evidence, gates) plus the simulated work. Target: every
drill under 180 s (§7: "RTO ~3 minutes from decision to traffic"); the ratio is the
median drill over the RTO. A detection drill (audit_tampered: §6's data-integrity event,
which no runbook change mends) is timed from injection to triage's P0 verdict."""
from __future__ import annotations

import os
import sys
import tempfile

from common import median, with_sandbox

from rovn_sandbox import control, drills

RUNS = int(os.environ.get("BENCH_DRILL_RUNS", "1"))


def _healthy(drill) -> tuple[str | None, float]:
    """A mending drill's figure: injection → /health 200 from the good revision."""
    bad = None if drill.health == (200, drills.GOOD) else "did not mend the service"
    return bad, drill.seconds


def _detected(drill) -> tuple[str | None, float]:
    """A detection drill's figure (§6 data integrity): injection → triage's P0 verdict."""
    bad = None if drill.triage.get("summary", {}).get("severity") == "P0" else "was not detected as P0"
    return bad, drill.detected_s


def _row(sandbox: dict, scenario: str, figure, what: str, name: str) -> dict:
    times = []
    for _ in range(RUNS):
        control.reset(sandbox)
        drill = drills.run(sandbox, scenario)
        bad, seconds = figure(drill)
        if bad:
            raise SystemExit(f"drill {scenario} {bad}: {drill.line()}")
        times.append(seconds)
    ratio = median(times) / drills.RTO_S
    print(f"drill {scenario}: {what} median {median(times):.1f}s over {RUNS} run(s); "
          f"RTO {drills.RTO_S:.0f}s; ratio {ratio:.3f}  (target < 1)", flush=True)
    return {"name": name, "median_s": round(median(times), 2), "runs": RUNS,
            "target": f"< {drills.RTO_S:.0f}s (§7 RTO)", "ratio": round(ratio, 3)}


def main() -> list[dict]:
    sandbox = control.require()
    os.environ.setdefault("ROVN_EVIDENCE_DIR", tempfile.mkdtemp(prefix="rovn-bench-drills-"))
    rows = [_row(sandbox, s, _healthy, "injection → /health 200", f"drill {s}") for s in drills.DRILLS]
    rows += [_row(sandbox, s, _detected, "injection → triage P0", f"drill {s} (detection)")
             for s in drills.DETECTION_DRILLS]
    control.reset(sandbox)
    return rows


if __name__ == "__main__":
    sys.exit(0 if with_sandbox(main) else 1)
