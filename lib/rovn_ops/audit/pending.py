"""audit_log rows kept while the database is unreachable (PostgreSQL killed during a
deploy's bake): each is a file in <spool>/.audit-pending/, private, written atomically;
the next rovn-ops command that reaches the database appends them (`flush`) in the order
they were kept, and `rovn-ops evidence verify` counts them as a gap until then."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from rovn_ops.core import paths


def directory() -> Path:
    return paths.spool() / ".audit-pending"  # (a dot: no run spool by that name)


def keep(row: dict) -> str:
    d = directory()
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"{time.time_ns():020d}-{os.getpid()}.json"
    tmp = d / f".{name}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(row | {"kept_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                         "env": os.environ.get("ROVN_TARGET_ENV", "sandbox")}, f, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, d / name)
    return name


def kept() -> list[Path]:
    d = directory()
    return sorted(p for p in d.glob("*.json")) if d.is_dir() else []


def flush(conn, env: str) -> int:
    """Append every kept row of `env` (its details say when it was kept); returns how many."""
    from rovn_ops.audit import log as audit

    done = 0
    for path in kept():
        row = json.loads(path.read_text())
        if row.pop("env", "sandbox") != env:
            continue
        kept_at = row.pop("kept_at", None)
        row["details"] = {**(row.get("details") or {}), "kept_while_unreachable_since": kept_at}
        # the run's manifest lists the row it wrote, as if written then: its spool's result file
        result = paths.spool() / str(row.get("run_id")) / "result.json"
        saved = os.environ.get("ROVN_RESULT_FILE")
        os.environ["ROVN_RESULT_FILE"] = str(result) if result.exists() else ""
        try:
            audit.append(conn, **row)
        finally:
            os.environ.pop("ROVN_RESULT_FILE") if saved is None else os.environ.update(ROVN_RESULT_FILE=saved)
        path.unlink()
        done += 1
    return done

