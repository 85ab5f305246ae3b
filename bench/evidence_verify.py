"""`evidence verify` (offline: chain, signatures, manifests, every file's sha256)
over 10,000 synthetic runs, as throughput relative to `sha256sum` over the same
files. Target: ratio >= 0.5."""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from rovn_ops.evidence import ledger, manifest, signing, verify

RUNS = int(os.environ.get("ROVN_BENCH_RUNS", "10000"))


def synthesize(root: Path, runs: int) -> list[Path]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    signing.export_public(key, root)
    files = []
    nb_body = json.dumps({"cells": [{"cell_type": "code", "source": "x = 1", "outputs": []}] * 40})
    for i in range(runs):
        d = root / "2026-11-27" / f"run-{i:05d}"
        d.mkdir(parents=True)
        nb, page = d / "service_status.ipynb", d / "service_status.html"
        nb.write_text(nb_body + f"\n{i}\n")
        page.write_text(f"<html><body>{'<p>row</p>' * 400}{i}</body></html>")
        m = {"run_id": d.name, "runbook": "service_status", "started_at": f"2026-11-27T00:00:{i % 60:02d}",
             "files": [manifest.describe(nb, d, "notebook"), manifest.describe(page, d, "html")]}
        (d / "manifest.json").write_text(json.dumps(m))
        ledger.append(root, run_id=d.name, run_dir=d, key=key, manifest_sha256=manifest.sha256(d / "manifest.json"))
        files += [nb, page, d / "manifest.json"]
    return files


def main() -> dict:
    root = Path(tempfile.mkdtemp(prefix="rovn-bench-ev-"))
    files = synthesize(root, RUNS)
    listing = root / "files.txt"
    listing.write_text("\n".join(str(f) for f in files) + "\n")
    base, ours = [], []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run(f"xargs -a {listing} sha256sum > /dev/null", shell=True, check=True)
        base.append(time.perf_counter() - t)
        t = time.perf_counter()
        report = verify.verify(root)
        ours.append(time.perf_counter() - t)
        assert report.ok, report
    b, o = min(base), min(ours)
    ratio = b / o  # throughput ratio: ours / sha256sum's, over the same files
    print(f"evidence verify: {RUNS} runs ({len(files)} files) in {o:.2f}s; sha256sum {b:.2f}s; "
          f"throughput ratio {ratio:.2f}  (target >= 0.5)", flush=True)
    return {"name": "evidence verify", "runs": RUNS, "seconds": round(o, 3), "sha256sum_seconds": round(b, 3),
            "throughput_ratio": round(ratio, 3), "target": ">= 0.5"}


if __name__ == "__main__":
    main()
