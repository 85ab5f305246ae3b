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
import runner_overhead  # noqa: E402
import sandbox_cold_start  # noqa: E402
import sandbox_reset  # noqa: E402
import triage  # noqa: E402
import scrub_notebook  # noqa: E402
import secrets_inventory  # noqa: E402
import source_gates  # noqa: E402
import table  # noqa: E402

from rovn_ops.sandbox import control  # noqa: E402

if __name__ == "__main__":
    rows = [import_time.main(), sandbox_cold_start.main(), *evidence_verify.main(),
            scrub_notebook.main(), secrets_inventory.main(), *source_gates.main()]
    _, started = control.up()
    try:
        rows.append(runner_overhead.main())
        rows.append(sandbox_reset.main())
        rows += migrations_verify.main()
        rows += deploy_rollout.main()
        rows += triage.main()
        rows += drills.main()
        rows += dr_failover.main()
    finally:
        if started:
            control.down()
    text, path = table.summarize(rows)
    print("\n" + text + f"\n\nwritten to {path.relative_to(Path(__file__).parents[1])}", flush=True)
    sys.exit(1 if any(table.passed(r) is False for r in rows) else 0)
