"""`rovn-ops run service_status` against bare `papermill` on the same notebook and
parameters, interleaved, in the same sandbox. Target: ratio of medians <= 1.15."""
from __future__ import annotations

import json
import os
import sys
import tempfile

from common import BIN, ROOT, report, timed

from rovn_ops.safety import params
from rovn_sandbox import control


def main(runs: int = 5) -> dict:
    control.apply_env(control.require())
    p = params.resolve("service_status", "sandbox")
    out = tempfile.mkdtemp(prefix="rovn-bench-")
    env = {"ROVN_EVIDENCE_DIR": os.path.join(out, "evidence")}
    bare = [str(BIN / "papermill"), "--no-progress-bar", str(ROOT / "runbooks/service_status.ipynb"),
            os.path.join(out, "bare.ipynb"), "--cwd", str(ROOT / "runbooks"), "-y", json.dumps(p.model_dump(mode="json"))]
    # The same papermill, declining rfc3987-syntax as our runner does: what the
    # archive itself (scrub, HTML, manifest, signature, upload) costs, like for like.
    lean = [str(BIN / "python"), "-c", "import sys; sys.modules['rfc3987_syntax'] = None; "
            "sys.argv[0] = 'papermill'; from papermill.cli import papermill; papermill()"] + bare[1:]
    ours = [str(BIN / "rovn-ops"), "run", "service_status", "--quiet"]
    timed(bare, env), timed(ours, env)  # warm the page cache and bytecode
    a, b, c = [], [], []
    for _ in range(runs):
        b.append(timed(bare, env))
        a.append(timed(ours, env))
        c.append(timed(lean, env))
    report("rovn-ops run vs papermill without rfc3987-syntax (archive cost, like for like)", a, c, "-")
    return report("rovn-ops run vs bare papermill", a, b, "ratio <= 1.15")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
