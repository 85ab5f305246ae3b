"""The DR game day (issue 25, §11): `region_outage`, then what on-call does through the CLI:
dr_readiness, the dr_failover preview, then its confirm approved by two people, until
/health answers 200 through the switched public name.

Sandbox time, compressed as the other scenarios are: the restore is instant in moto and
the standby's rollout a few polls (`poll_min` 0.05 s), so the RTO measured here (decision
to traffic, the success row's `rto_s`) is the suite's own cost plus the simulated work;
production's expected durations are the preview's (~35 minutes, most of it the restore).
The RPO is the copied snapshot's age at the failure: six hours in the seeded world, against
the standby's `rpo_target_s` (a day). Ratios: RTO over `rto_target_s`, RPO over its target."""
from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from common import median, with_sandbox

from rovn_sandbox import control
from rovn_sandbox.drills import cli

RUNS = int(os.environ.get("BENCH_DR_RUNS", "1"))


def _game_day(sandbox: dict) -> dict:
    control.reset(sandbox)
    start = time.monotonic()
    control.scenario(sandbox, "region_outage")
    failed = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    cli("run", "dr_readiness", "--quiet")
    preview = cli("run", "dr_failover", "--quiet", "-p", f"failure_at={failed}")
    notebook = Path(preview.stdout.split("evidence: ", 1)[1].split()[0])
    plan = re.search(r"plan_hash=([0-9a-f]{64})", notebook.read_text()).group(1)
    run = cli("run", "dr_failover", "--quiet", "-p", f"failure_at={failed}", "-p", "confirm=true",
              "-p", "approved_by=giles,christian", "-p", f"plan_hash={plan}")
    if run.returncode != 0:
        raise SystemExit(f"game day failed: {run.stdout[-400:]}{run.stderr[-400:]}")
    manifest = json.loads((Path(run.stdout.split("evidence: ", 1)[1].split()[0]).parent / "manifest.json").read_text())
    facts = manifest["facts"]["dr_failover"]
    return {"wall_s": time.monotonic() - start, **facts}


def main() -> list[dict]:
    sandbox = control.require()
    os.environ.setdefault("ROVN_EVIDENCE_DIR", tempfile.mkdtemp(prefix="rovn-bench-dr-"))
    days = [_game_day(sandbox) for _ in range(RUNS)]
    control.reset(sandbox)
    rto, rpo, wall = (median([d[k] for d in days]) for k in ("rto_s", "rpo_s", "wall_s"))
    rto_target, rpo_target = days[0]["rto_target_s"], days[0]["rpo_target_s"]
    print(f"dr game day: outage → /health 200 through the switched DNS in {wall:.1f}s wall; RTO {rto:.1f}s "
          f"(decision to traffic, target {rto_target:.0f}s, ratio {rto / rto_target:.4f}); RPO {rpo / 3600:.2f} h "
          f"(snapshot to failure, target {rpo_target / 3600:.0f} h, ratio {rpo / rpo_target:.3f}); {RUNS} run(s)",
          flush=True)
    return [{"name": "dr game day RTO", "median_s": round(rto, 2), "runs": RUNS,
             "target": f"< {rto_target:.0f}s (standby.rto_target_s)", "ratio": round(rto / rto_target, 4)},
            {"name": "dr game day RPO", "median_s": round(rpo, 1), "runs": RUNS,
             "target": f"< {rpo_target:.0f}s (standby.rpo_target_s)", "ratio": round(rpo / rpo_target, 3)}]


if __name__ == "__main__":
    sys.exit(0 if with_sandbox(main) else 1)
