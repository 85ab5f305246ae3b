"""`migrations status` and `verify` over 500 and 5,000 generated migration files, against
reading and hashing the same files, in this process. Target: ratio <= 3 at each size
(verify once grew quadratically with the files: 5,000 is the row that shows it)."""
from __future__ import annotations

import hashlib
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import psycopg

from rovn_ops.migrations import engine
from rovn_sandbox import control, database

SIZES, RUNS = (500, 5000), 7


def generate(directory: Path, files: int) -> None:
    for i in range(1, files + 1):
        cols = ",\n".join(f"    c{j} text" for j in range(40))
        (directory / f"{i:04d}_table_{i}.sql").write_text(
            f"-- generated {i}\nCREATE TABLE IF NOT EXISTS t{i} (\n    id bigserial PRIMARY KEY,\n{cols}\n);\n"
            f"CREATE INDEX IF NOT EXISTS t{i}_c0_idx ON t{i} (c0);\n")


def read_and_hash(directory: Path) -> None:
    for p in sorted(directory.glob("*.sql")):
        hashlib.sha256(p.read_bytes()).hexdigest()


def status(conn, directory: Path) -> None:
    report = engine.verify(conn, directory)  # what `rovn-ops migrations status` prints
    done = {r["name"]: r for r in report.applied}
    [(m.name, done[m.name]["applied_at"] if m.name in done else "pending") for m in report.files]


def timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def measure(admin_url: str, files: int) -> list[dict]:
    url = database.scratch(admin_url, f"bench_migrations_{files}")
    d = Path(tempfile.mkdtemp(prefix=f"rovn-bench-mig-{files}-"))
    generate(d, files)
    actor = engine.Actor("arn:aws:iam::1:user/bench", "bench", "bench")
    rows = []
    with psycopg.connect(url, autocommit=True) as conn:
        engine.apply(conn, d, actor=actor, approvers=[], registry={})
        for name, fn in (("migrations verify", engine.verify), ("migrations status", status)):
            ours, base = [], []
            fn(conn, d), read_and_hash(d)  # warm
            for _ in range(RUNS):
                base.append(timed(read_and_hash, d))
                ours.append(timed(fn, conn, d))
            ratio = statistics.median(ours) / statistics.median(base)
            print(f"{name} over {files} files: median {statistics.median(ours) * 1000:.1f} ms; read+sha256 "
                  f"median {statistics.median(base) * 1000:.1f} ms; ratio {ratio:.2f}  (target <= 3)", flush=True)
            rows.append({"name": f"{name}, {files} files", "files": files,
                         "median_s": round(statistics.median(ours), 4),
                         "baseline_median_s": round(statistics.median(base), 4), "ratio": round(ratio, 3),
                         "baseline": f"read + sha256 {statistics.median(base) * 1000:.1f} ms", "target": "ratio <= 3"})
    shutil.rmtree(d, ignore_errors=True)
    return rows


def main() -> list[dict]:
    state, started = control.up()
    try:
        return [row for files in SIZES for row in measure(state["admin_database_url"], files)]
    finally:
        if started:
            control.down()


if __name__ == "__main__":
    main()
