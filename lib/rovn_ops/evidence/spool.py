"""A run's private working directory, from its first cell until its evidence is archived.

Raw outputs (the notebook as the kernel produced it, before scrubbing) live only here:
<spool>/<run id>/, mode 0700, never in a shared temp directory. The owning process
(`rovn-ops run`, or the kernel of an interactive run) holds an exclusive flock on its
`lock` file; the kernel drops it by dying, however it dies. Any later `rovn-ops`
invocation finds spools whose lock it can take, scrubs and archives them as
`interrupted` (or with the outcome the run had reached), and removes them, so a
SIGKILL leaves no unscrubbed notebook behind for longer than that.
"""
from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from rovn_ops.core import paths

RECOVERED = "the run's process ended before its evidence was archived (killed?); archived by a later rovn-ops"


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


MIN_FREE = 20 * 1024 * 1024  # a run's notebook, HTML and artifacts with room to spare


def check_writable() -> None:
    """Before a run starts: the evidence and spool directories can be created and written,
    and have room. Otherwise one line and exit 2, and nothing runs (a read-only or full
    evidence directory failed mid-archive with a traceback, after the change was made)."""
    import errno

    from rovn_ops.core.errors import BadInput

    for where in dict.fromkeys([paths.evidence(), paths.spool()]):
        try:
            _private_dir(where) if where == paths.spool() else where.mkdir(parents=True, exist_ok=True)
            probe = where / f".probe-{secrets.token_hex(4)}"
            try:
                probe.write_bytes(b"\0" * 4096)
            finally:
                probe.unlink(missing_ok=True)
            free = shutil.disk_usage(where).free
        except OSError as e:
            hint = "free some space" if e.errno in (errno.ENOSPC, errno.EDQUOT) else "set ROVN_EVIDENCE_DIR to a " \
                "writable directory"
            raise BadInput(f"evidence directory {where}: cannot be written ({e.strerror or e}); {hint}") from None
        if free < MIN_FREE:
            raise BadInput(f"evidence directory {where}: {free // 1024} KiB free, a run needs {MIN_FREE // 2**20} MiB; "
                           "free some space or set ROVN_EVIDENCE_DIR")


@dataclass
class Spool:
    dir: Path
    _lock: object = None

    @classmethod
    def create(cls, run_id: str, **meta) -> "Spool":
        """Locked before it becomes visible under its run id, so no recovery can take it."""
        root = _private_dir(paths.spool())
        tmp = _private_dir(root / f".tmp-{run_id}-{secrets.token_hex(3)}")
        lock = open(tmp / "lock", "w")
        fcntl.flock(lock, fcntl.LOCK_EX)
        (tmp / "run.json").write_text(json.dumps(meta | {"run_id": run_id, "pid": os.getpid()}, default=str))
        os.rename(tmp, root / run_id)
        return cls(root / run_id, lock)

    @classmethod
    def claim(cls, directory: Path) -> "Spool | None":
        """An orphan's spool, locked for this process, or None if its owner still runs."""
        try:
            lock = open(directory / "lock", "a")
        except OSError:
            return None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            return None
        if not (directory / "run.json").exists():  # archived and removed meanwhile
            lock.close()
            return None
        return cls(directory, lock)

    @property
    def meta(self) -> dict:
        return json.loads((self.dir / "run.json").read_text())

    def update(self, **facts) -> None:
        path = self.dir / "run.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.meta | facts, default=str))
        os.replace(tmp, path)

    @property
    def result_file(self) -> Path:
        return self.dir / "result.json"

    def notebook(self) -> Path:
        return self.dir / self.meta["notebook"]

    @property
    def staging(self) -> Path:
        return self.dir / "archive"

    def release(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def orphans() -> list[Spool]:
    root = paths.spool()
    if not root.is_dir():
        return []
    found = []
    for d in sorted(root.iterdir()):
        if d.is_dir() and not d.name.startswith("."):
            sp = Spool.claim(d)
            if sp is not None:
                found.append(sp)
    return found
