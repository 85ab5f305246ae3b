"""Scrubbing an executed 5 MB notebook for the evidence (scrubbing.scrub_notebook:
join streams, serialize, redact five registered secrets in every derived form plus
the secret shapes, check the JSON) against a plain json.load/json.dump round trip of
the same file. Target: ratio <= 3."""
from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile
import time
from pathlib import Path

from common import median, report

from rovn_ops.safety import scrub
from rovn_ops.evidence import scrubbing

SIZE = int(os.environ.get("ROVN_BENCH_NOTEBOOK_MB", "5")) * 1_000_000
SECRETS = [secrets.token_urlsafe(24) for _ in range(3)] + [
    json.dumps({"username": "rovn_app", "password": secrets.token_urlsafe(18)}),
    "https://hooks.slack.com/services/T0/B0/" + secrets.token_hex(12)]


def synthesize(path: Path) -> None:
    """Cells like a triage run's: log lines, HTML tables, a PNG plot; a few secrets inside."""
    cells, size, i = [], 0, 0
    while size < SIZE:
        lines = [f"{i:06d} 2026-11-27T03:00:{i % 60:02d}Z GET /health 200 {secrets.token_hex(8)} ünïcode\n"
                 for _ in range(200)]
        if i % 50 == 0:
            lines.append(f"leaked: {SECRETS[i % len(SECRETS)]}\n")
        table = "<table>" + "".join(f"<tr><td>{j}</td><td>&lt;ok&gt;</td></tr>" for j in range(100)) + "</table>"
        png = base64.b64encode(os.urandom(20_000)).decode()
        outputs = [{"output_type": "stream", "name": "stdout", "text": lines},
                   {"output_type": "display_data", "metadata": {},
                    "data": {"text/html": [table], "text/plain": ["<table>"], "image/png": png}}]
        cells.append({"cell_type": "code", "execution_count": i, "id": f"c{i}", "metadata": {},
                      "source": [f"show(step={i})\n", "x = 1"], "outputs": outputs})
        size += sum(map(len, lines)) + len(table) + len(png) + 200
        i += 1
    nb = {"cells": cells, "metadata": {"papermill": {"parameters": {"env": "sandbox"}}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False))


def main(rounds: int = 5) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        src, dest = Path(tmp) / "run.ipynb", Path(tmp) / "out.ipynb"
        synthesize(src)
        redactor = scrub.Redactor(SECRETS)
        ours, base = [], []
        for _ in range(rounds):
            t = time.perf_counter()
            dest.write_text(json.dumps(json.loads(src.read_text()), indent=1, ensure_ascii=False))
            base.append(time.perf_counter() - t)
            t = time.perf_counter()
            scrubbing.scrub_notebook(src, dest, redactor)
            ours.append(time.perf_counter() - t)
        out = dest.read_text()
        assert all(s not in out for s in SECRETS if len(s) >= scrub.MIN_SECRET_LEN), "a secret survived"
        mb = src.stat().st_size / 1e6
    return report(f"scrub a {mb:.1f} MB notebook vs json load/dump", ours, base, "ratio <= 3")


if __name__ == "__main__":
    main()
