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

from rovn_ops.sandbox import control, drills

RUNS = int(os.environ.get("BENCH_DRILL_RUNS", "1"))


def main() -> list[dict]:
    sandbox = control.require()
    os.environ.setdefault("ROVN_EVIDENCE_DIR", tempfile.mkdtemp(prefix="rovn-bench-drills-"))
    rows = []
    for scenario in drills.DRILLS:
        times = []
        for _ in range(RUNS):
            control.reset(sandbox)
            drill = drills.run(sandbox, scenario)
            if drill.health != (200, drills.GOOD):
                raise SystemExit(f"drill {scenario} did not mend the service: {drill.line()}")
            times.append(drill.seconds)
        ratio = median(times) / drills.RTO_S
        print(f"drill {scenario}: injection → /health 200 median {median(times):.1f}s over {RUNS} run(s), "
              f"{len(drill.steps)} commands; RTO {drills.RTO_S:.0f}s; ratio {ratio:.3f}  (target < 1)", flush=True)
        rows.append({"name": f"drill {scenario}", "median_s": round(median(times), 2), "runs": RUNS,
                     "target": f"< {drills.RTO_S:.0f}s (§7 RTO)", "ratio": round(ratio, 3)})
    for scenario in drills.DETECTION_DRILLS:  # §6 data-integrity: the figure is injection → triage's P0
        times = []
        for _ in range(RUNS):
            control.reset(sandbox)
            drill = drills.run(sandbox, scenario)
            if drill.triage.get("summary", {}).get("severity") != "P0":
                raise SystemExit(f"drill {scenario} was not detected as P0: {drill.line()}")
            times.append(drill.detected_s)
        ratio = median(times) / drills.RTO_S
        print(f"drill {scenario}: injection → triage P0 median {median(times):.1f}s over {RUNS} run(s); "
              f"RTO {drills.RTO_S:.0f}s; ratio {ratio:.3f}  (target < 1)", flush=True)
        rows.append({"name": f"drill {scenario} (detection)", "median_s": round(median(times), 2), "runs": RUNS,
                     "target": f"< {drills.RTO_S:.0f}s (§7 RTO)", "ratio": round(ratio, 3)})
    control.reset(sandbox)
    return rows


if __name__ == "__main__":
    sys.exit(0 if with_sandbox(main) else 1)
