"""The archive's third stage: the run's manifest (archive.py runs the stages).

It describes, by SHA-256, the files the scrub and render stages wrote, with what the run
recorded, and writes manifest.json: the one document the anchor stage signs (through its
digest in the ledger entry). Below the stage: the readers of archived manifests
(`runs`, `find`, `listing`), which `evidence list`, the index and reconcile use."""
from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from rovn_ops import __version__
from rovn_ops.core import paths
from rovn_ops.safety.scrub import Redactor


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
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def describe(path: Path, directory: Path, kind: str) -> dict:
    return {"kind": kind, "path": str(path.relative_to(directory)), "sha256": sha256(path)}


def build(*, directory: Path, notebook: Path, html: Path | None, artifacts: list[Path], source: Path,
          run_id: str, runbook: str, parameters: dict, operator: dict, mode: str, started: datetime,
          outcome: str, error: str, result: dict, redactor: Redactor, archive: dict | None,
          audit_head: dict | None = None, final_dir: Path | None = None,
          audit_rows: list | None = None) -> tuple[dict, str]:
    """manifest.json written into `directory`: (the manifest as written, its SHA-256)."""
    files = [describe(notebook, directory, "notebook")] if notebook.exists() else []
    files += [describe(html, directory, "html")] if html and html.exists() else []
    files += [describe(a, directory, "artifact") for a in artifacts]
    manifest = {
        "run_id": run_id, "runbook": runbook, "environment": parameters.get("env"), "mode": mode,
        "operator": operator, "parameters": parameters,
        "started_at": started.isoformat(), "ended_at": datetime.now(timezone.utc).isoformat(),
        "outcome": _outcome(outcome, result.get("outcome")),
        "error": error,
        "approvals": result.get("approvals", []), "audit_log": result.get("audit_log", []),
        "audit_log_ids": [a["id"] for a in result.get("audit_log", [])],
        "targets": list(dict.fromkeys(result.get("targets", []))), "acted_on": result.get("acted_on", []),
        # the change's ticket and reason (issue 27), from the validated parameters, not the kernel's claims
        "change_request": {k: parameters.get(k) or "" for k in ("ticket", "reason")} if "ticket" in parameters else None,
        "plan_hash": result.get("plan_hash"),  # a preview's: what `-p plan_hash=` must match
        "confirm_command": result.get("confirm_command"),  # a preview's: the command that executes it
        "plan_changes": result.get("plan_changes"),  # the executed plan's changes (its task-definition diff)
        "summary": result.get("summary", {}),  # the runbook's own headline fields (`rovn-ops run` prints them)
        "verification": result.get("verification", []),  # each check of the protocol's verify step
        "facts": result.get("facts", {}),  # the runbook's own, e.g. a deploy's revisions and ECS calls
        "short_secrets": sorted(set(result.get("short_secrets", []))),  # too short to scrub
        "files": files,
        "notebook": {"path": str((final_dir or directory) / notebook.name), "sha256": files[0]["sha256"] if files else None},
        "source": {"path": str(source.relative_to(paths.root())) if source.is_relative_to(paths.root())
                   else str(source), "sha256": sha256(source)},
        "suite": {"git_commit": git_commit(), "rovn_ops_version": __version__},
        "archive": archive,
        "audit_log_head": audit_head,  # audit_log's newest row as the run ended (an anchor)
        "audit_rows": audit_rows,  # the rows naming this run, read by the runner (archive.rows_naming)
        "tampered": result.get("tampered", ""),  # the kernel rewrote what it may only append to
        "draft": "draft_claims" in result,  # not a committed runbook (see scrubbing.set_apart_claims)
        **({"draft_claims": result["draft_claims"]} if "draft_claims" in result else {}),
    }
    text = json.dumps(redactor.tree(manifest), indent=2, default=str) + "\n"
    (directory / "manifest.json").write_text(text)
    return json.loads(text), sha256(directory / "manifest.json")


def _outcome(kernel: str, recorded: str | None) -> str:
    """What the run's kernel said (success, failed, interrupted), refined by what the
    runbook recorded: a preview, or a refusal before anything changed (`refused`)."""
    if kernel == "success" and recorded:
        return recorded
    if kernel == "failed" and recorded == "refused":
        return "refused"
    return kernel


def runs(root: Path | None = None) -> list[dict]:
    """Every archived manifest, oldest first, with its directory."""
    root = root or paths.evidence()
    found = []
    for p in root.glob("*/*/manifest.json"):
        try:
            found.append(json.loads(p.read_text()) | {"path": str(p.parent)})
        except ValueError:
            found.append({"run_id": p.parent.name, "path": str(p.parent), "started_at": "", "unreadable": True})
    return sorted(found, key=lambda m: (m.get("started_at", ""), m["run_id"]))



def find(fragment: str, root: Path | None = None) -> dict:
    """The run a run id names, or any unique part of one (e.g. its random suffix, `d85dd1`)."""
    from rovn_ops.core.errors import BadInput

    root = root or paths.evidence()
    everything = runs(root)
    exact = [m for m in everything if m["run_id"] == fragment]
    found = exact or [m for m in everything if fragment and fragment in m["run_id"]]
    if len(found) == 1:
        return found[0]
    if not found:
        raise BadInput(f"run {fragment!r}: no run id in {root} contains it; `rovn-ops evidence list` shows the runs")
    names = ", ".join(m["run_id"] for m in found[:5]) + (", …" if len(found) > 5 else "")
    raise BadInput(f"run {fragment!r}: {len(found)} runs match ({names}); give more of the run id")


def listing(m: dict) -> dict:
    """One run in `evidence list --json`: what an auditor or a script filters on."""
    approvals = m.get("approvals", [])
    return {"run_id": m["run_id"], "runbook": m.get("runbook"), "outcome": m.get("outcome"),
            "environment": m.get("environment"), "mode": mode(m), "started_at": m.get("started_at"), "ended_at": m.get("ended_at"),
            "targets": m.get("targets", []),
            "approvers": sorted({a for ap in approvals for a in ap.get("approvers", [])}),
            "plan_hash": m.get("plan_hash") or next((ap.get("plan_hash") for ap in approvals), None),
            "operator": (m.get("operator") or {}).get("arn"), "audit_log_ids": m.get("audit_log_ids", []),
            "error": m.get("error") or None, "path": m.get("path")}


def mode(m: dict) -> str:
    """How the run ran, as `evidence list` shows it: headless (`rovn-ops run`), interactive
    (JupyterLab), papermill (bare papermill), or draft (any of them, on a notebook that is
    not a committed runbook)."""
    return "draft" if m.get("draft") else m.get("mode") or "?"
