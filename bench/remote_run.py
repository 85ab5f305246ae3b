"""`rovn-ops remote run service_status` (RunTask, the task's log followed, the result
read back) against `rovn-ops run service_status` on this machine, interleaved, in the
same sandbox: what running inside the VPC costs over a local run. In the sandbox the
task is a local subprocess, so this is the client's and the task plumbing's cost
(RunTask, DescribeTasks polls at 1 s, GetLogEvents pages), not Fargate's start-up.
Target: ratio of medians <= 3 (the task is a second process with its own start, and the
client polls DescribeTasks each second; Fargate adds its own start-up, not measured here)."""
from __future__ import annotations

import os
import sys
import tempfile

from common import BIN, report, timed

from rovn_sandbox import control


def main(runs: int = 3) -> dict:
    control.apply_env(control.require())
    env = {"ROVN_EVIDENCE_DIR": os.path.join(tempfile.mkdtemp(prefix="rovn-bench-"), "evidence")}
    local = [str(BIN / "rovn-ops"), "run", "service_status", "--quiet"]
    remote = [str(BIN / "rovn-ops"), "remote", "run", "service_status", "--quiet"]
    timed(local, env), timed(remote, env)  # warm the page cache and bytecode
    a, b = [], []
    for _ in range(runs):
        b.append(timed(local, env))
        a.append(timed(remote, env))
    return report("rovn-ops remote run vs rovn-ops run (service_status)", a, b, "ratio <= 3")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
