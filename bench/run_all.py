"""All benchmarks. Starts the sandbox if needed; prints one line per figure as it is
measured, then one table of every figure (measure, baseline, ratio, target, pass/fail)
and writes it to bench/results/<date>T<time>Z.json (table.py). Exits 1 if a row fails."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import deploy_rollout  # noqa: E402
import dr_failover  # noqa: E402
import drills  # noqa: E402
import evidence_verify  # noqa: E402
import import_time  # noqa: E402
import migrations_verify  # noqa: E402
import remote_run  # noqa: E402
import runner_overhead  # noqa: E402
import sandbox_cold_start  # noqa: E402
import sandbox_reset  # noqa: E402
import triage  # noqa: E402
import scrub_notebook  # noqa: E402
import secrets_inventory  # noqa: E402
import source_gates  # noqa: E402
import table  # noqa: E402

from rovn_sandbox import control  # noqa: E402


def collect(bench) -> list[dict]:
    """One bench's rows; a bench that breaks is a failed row, and the others still run
    (a crash in the last bench lost the whole table)."""
    try:
        got = bench.main()
    except (Exception, SystemExit) as e:  # noqa: BLE001 - reported in the table, not raised
        print(f"{bench.__name__}: FAILED: {type(e).__name__}: {str(e)[:300]}", flush=True)
        return [{"name": f"{bench.__name__} (did not finish)", "target": "runs", "ok": False,
                 "error": f"{type(e).__name__}: {str(e)[:300]}"}]
    return got if isinstance(got, list) else [got]


if __name__ == "__main__":
    rows = [row for b in (import_time, sandbox_cold_start, evidence_verify, scrub_notebook, secrets_inventory,
                          source_gates) for row in collect(b)]
    _, started = control.up()
    try:
        for b in (runner_overhead, remote_run, sandbox_reset, migrations_verify, deploy_rollout, triage, drills, dr_failover):
            rows += collect(b)
    finally:
        if started:
            control.down()
    text, path = table.summarize(rows)
    print("\n" + text + f"\n\nwritten to {path.relative_to(Path(__file__).parents[1])}", flush=True)
    sys.exit(1 if any(table.passed(r) is False for r in rows) else 0)
