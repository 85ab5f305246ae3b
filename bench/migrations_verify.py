"""`migrations status` and `verify` over 500 generated migration files, against
reading and hashing the same files, in this process. Target: ratio <= 3."""
from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from pathlib import Path

import psycopg

from rovn_ops.migrations import engine
from rovn_ops.sandbox import control, database

FILES, RUNS = 500, 7


def generate(directory: Path) -> None:
    for i in range(1, FILES + 1):
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


def main() -> list[dict]:
    state, started = control.up()
    try:
        url = database.scratch(state["admin_database_url"], "bench_migrations")
        d = Path(tempfile.mkdtemp(prefix="rovn-bench-mig-"))
        generate(d)
        actor = engine.Actor("arn:aws:iam::1:user/bench", "bench", "bench")
        with psycopg.connect(url, autocommit=True) as conn:
            engine.apply(conn, d, actor=actor, approvers=[], registry={})
            rows = []
            for name, fn in (("migrations verify", engine.verify), ("migrations status", status)):
                ours, base = [], []
                fn(conn, d), read_and_hash(d)  # warm
                for _ in range(RUNS):
                    base.append(timed(read_and_hash, d))
                    ours.append(timed(fn, conn, d))
                ratio = statistics.median(ours) / statistics.median(base)
                print(f"{name} over {FILES} files: median {statistics.median(ours) * 1000:.1f} ms; read+sha256 "
                      f"median {statistics.median(base) * 1000:.1f} ms; ratio {ratio:.2f}  (target <= 3)", flush=True)
                rows.append({"name": name, "files": FILES, "median_s": round(statistics.median(ours), 4),
                             "baseline_median_s": round(statistics.median(base), 4), "ratio": round(ratio, 3),
                             "target": "ratio <= 3"})
        return rows
    finally:
        if started:
            control.down()


if __name__ == "__main__":
    main()
