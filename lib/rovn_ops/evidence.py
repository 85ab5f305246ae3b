"""The evidence archive: each run's executed notebook and its manifest.

Layout: <evidence dir>/<YYYY-MM-DD>/<run id>/{<runbook>.ipynb, manifest.json}.
The notebook is scrubbed of secret-shaped strings before it is hashed, so the
hash in the manifest is the hash of what is kept.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from . import __version__, paths
from .scrub import redact


def run_directory(run_id: str, started: datetime) -> Path:
    d = paths.evidence() / started.strftime("%Y-%m-%d") / run_id
    d.mkdir(parents=True, exist_ok=False)
    return d


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(paths.root()), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _scrub_notebook(path: Path) -> None:
    if path.exists():
        path.write_text(redact(path.read_text()))


def read_result(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _keep_artifacts(directory: Path, paths_: list[str]) -> list[dict]:
    """Copy what the run produced (e.g. a generated migration) next to its notebook."""
    kept = []
    for src in dict.fromkeys(paths_):
        src_path = Path(src)
        if src_path.is_file():
            dest = directory / "artifacts" / src_path.name
            dest.parent.mkdir(exist_ok=True)
            dest.write_text(redact(src_path.read_text()))
            kept.append({"name": src_path.name, "source": str(src_path), "path": str(dest),
                         "sha256": sha256(dest)})
    return kept


def archive(*, directory: Path, notebook: Path, source: Path, run_id: str, runbook: str,
            parameters: dict, operator: dict, mode: str, started: datetime, outcome: str,
            error: str, result_file: Path) -> dict:
    _scrub_notebook(notebook)
    result = read_result(result_file)
    result_file.unlink(missing_ok=True)
    artifacts = _keep_artifacts(directory, result.get("artifacts", []))
    manifest = {
        "run_id": run_id, "runbook": runbook, "environment": parameters.get("env"),
        "mode": mode, "operator": operator, "parameters": json.loads(redact(json.dumps(parameters))),
        "started_at": started.isoformat(), "ended_at": datetime.now(timezone.utc).isoformat(),
        "outcome": result.get("outcome") if outcome == "success" and result.get("outcome") else outcome,
        "error": redact(error),
        "approvals": result.get("approvals", []), "audit_log_ids": result.get("audit_log_ids", []),
        "targets": result.get("targets", []),
        "artifacts": artifacts,
        "notebook": {"path": str(notebook), "sha256": sha256(notebook) if notebook.exists() else None},
        "source": {"path": str(source.relative_to(paths.root())) if source.is_relative_to(paths.root())
                   else str(source), "sha256": sha256(source)},
        "suite": {"git_commit": git_commit(), "rovn_ops_version": __version__},
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest


def runs(root: Path | None = None) -> list[dict]:
    """Every archived manifest, oldest first."""
    root = root or paths.evidence()
    found = [json.loads(p.read_text()) | {"path": str(p.parent)} for p in root.glob("*/*/manifest.json")]
    return sorted(found, key=lambda m: m["started_at"])
