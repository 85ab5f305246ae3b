"""audit_log rows kept while the database is unreachable (PostgreSQL killed during a
deploy's bake): each is a file in <spool>/.audit-pending/, private, written atomically;
the next rovn-ops command that reaches the database appends them (audit/log.flush_pending)
in the order they were kept, and `rovn-ops evidence verify` counts them as a gap until then."""
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

