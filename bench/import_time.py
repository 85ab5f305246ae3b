"""`python -c "import rovn_ops"`: heavy imports stay lazy. Target <= 0.3 s.
Baseline: `python -c "pass"` (the interpreter's own start)."""
from __future__ import annotations

import sys

from common import report, timed


def main(runs: int = 10) -> dict:
    ours, base = [], []
    for _ in range(runs):
        base.append(timed([sys.executable, "-c", "pass"]))
        ours.append(timed([sys.executable, "-c", "import rovn_ops, rovn_ops.cli"]))
    return report("import rovn_ops", ours, base, "<= 0.3 s")


if __name__ == "__main__":
    main()
