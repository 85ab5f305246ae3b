"""`evidence verify` over synthetic archives.

1. Throughput: offline verify (chain, checkpoints, signatures, manifests, every
   file's sha256, no unlisted files) over 10,000 runs, relative to `sha256sum` over
   the same files, at 1,000 and 10,000 runs (medians of 5, interleaved). Target: ratio
   >= 0.5 (aim 0.8). 100,000 runs with files (800 MB) would not fit `make bench`'s
   five minutes: ROVN_BENCH_RUNS=100000 runs it.
2. Growth: verifying the newest 100 runs (`--last 100`, anchored by the latest
   signed checkpoint) when the archive holds 10,000 runs and when it holds 100,000.
   Target: the cost does not grow with the archive (ratio ~1).
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from rovn_ops.evidence import ledger, manifest, signing, verify

RUNS = int(os.environ.get("ROVN_BENCH_RUNS", "10000"))
GROWN = int(os.environ.get("ROVN_BENCH_GROWN_RUNS", "100000"))
LAST = 100


def synthesize(root: Path, runs: int, with_files: int | None = None) -> list[Path]:
    """A signed, checkpointed ledger of `runs` entries; the newest `with_files` runs (all
    by default) also get their directory: notebook, HTML, manifest, signature."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    (root.parent / f"{root.name}-auditor.pem").write_bytes(signing.public_pem(key))
    files, lines, tip = [], [], None
    nb_body = json.dumps({"cells": [{"cell_type": "code", "source": "x = 1", "outputs": []}] * 40})
    first_with_files = runs - (runs if with_files is None else with_files)
    for i in range(runs):
        rel = f"2026-11-27/run-{i:06d}"
        sha = "0" * 64
        if i >= first_with_files:
            d = root / rel
            d.mkdir(parents=True)
            nb, page = d / "service_status.ipynb", d / "service_status.html"
            nb.write_text(nb_body + f"\n{i}\n")
            page.write_text(f"<html><body>{'<p>row</p>' * 400}{i}</body></html>")
            m = {"run_id": d.name, "runbook": "service_status", "started_at": f"2026-11-27T00:00:{i % 60:02d}",
                 "files": [manifest.describe(nb, d, "notebook"), manifest.describe(page, d, "html")]}
            (d / "manifest.json").write_text(json.dumps(m))
            sha = manifest.sha256(d / "manifest.json")
            files += [nb, page, d / "manifest.json"]
        entry = ledger.make_entry(seq=i + 1, run_id=f"run-{i:06d}", path=rel, manifest_sha256=sha,
                                  prev=tip["hash"] if tip else ledger.GENESIS, chain="c" * 64, key=key)
        cp = ledger.make_checkpoint(entry=entry, audit_head={"id": 2 * i + 1, "row_hash": "a" * 64},
                                    at="2026-11-27T00:00:00", previous=tip["checkpoint"] if tip else None, key=key)
        tip = entry | {"checkpoint": cp}
        if i >= first_with_files:
            (root / rel / "signature.json").write_text(json.dumps(tip))
            files.append(root / rel / "signature.json")
        lines.append(json.dumps(tip, sort_keys=True))
    (root / ledger.LEDGER_FILE).write_text("\n".join(lines) + "\n")
    return files


def _verify(root: Path, last: int | None = None) -> float:
    t = time.perf_counter()
    report = verify.verify(verify.Local(root), env="sandbox", auditor_key=root.parent / f"{root.name}-auditor.pem",
                           last=last)
    elapsed = time.perf_counter() - t
    assert report.ok, report
    assert report.checked == (last or report.checked)
    return elapsed


def throughput(base_dir: Path, runs: int = RUNS) -> dict:
    root = base_dir / f"full-{runs}"
    files = synthesize(root, runs)
    listing = base_dir / "files.txt"
    listing.write_text("\n".join(str(f) for f in files) + "\n")
    base, ours = [], []
    for _ in range(5):  # interleaved, medians: the machine's load moves both alike
        t = time.perf_counter()
        subprocess.run(f"xargs -a {listing} sha256sum > /dev/null", shell=True, check=True)
        base.append(time.perf_counter() - t)
        ours.append(_verify(root))
    b, o = statistics.median(base), statistics.median(ours)
    ratio = b / o  # throughput ratio: ours / sha256sum's, over the same files
    print(f"evidence verify: {runs} runs ({len(files)} files) in {o:.2f}s; sha256sum {b:.2f}s; "
          f"throughput ratio {ratio:.2f}  (target >= 0.5)", flush=True)
    return {"name": f"evidence verify, {runs} runs", "runs": runs, "seconds": round(o, 3), "sha256sum_seconds": round(b, 3),
            "throughput_ratio": round(ratio, 3), "target": ">= 0.5"}


def growth(base_dir: Path) -> dict:
    small, big = base_dir / "small", base_dir / "big"
    synthesize(small, RUNS, with_files=LAST)
    synthesize(big, GROWN, with_files=LAST)
    t_small = statistics.median(_verify(small, LAST) for _ in range(9))
    t_big = statistics.median(_verify(big, LAST) for _ in range(9))
    ratio = t_big / t_small
    print(f"evidence verify --last {LAST}: {t_small * 1000:.1f} ms at {RUNS} runs, {t_big * 1000:.1f} ms at "
          f"{GROWN} runs; ratio {ratio:.2f}  (target: does not grow with the archive, ~1)", flush=True)
    return {"name": f"evidence verify --last {LAST}", "small_runs": RUNS, "grown_runs": GROWN,
            "small_ms": round(t_small * 1000, 2), "grown_ms": round(t_big * 1000, 2), "ratio": round(ratio, 3),
            "target": "~1 (independent of archive size)"}


def main() -> list[dict]:
    base_dir = Path(tempfile.mkdtemp(prefix="rovn-bench-ev-"))
    try:
        return [throughput(base_dir, 1000), throughput(base_dir, RUNS), growth(base_dir)]
    finally:
        shutil.rmtree(base_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
