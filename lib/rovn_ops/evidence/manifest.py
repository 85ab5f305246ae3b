"""Building a run's manifest and archiving the run's files."""
from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from rovn_ops import __version__
from rovn_ops.core import paths
from rovn_ops.evidence import cell_source
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


SELF_REPORTED = ("approvals", "acted_on", "targets", "plan_hash", "confirm_command", "verification", "plan_changes",
                 "operator")  # a draft cannot name its own operator: the runner's STS identity stands


def _code(notebook: bytes) -> list[str]:
    """A notebook's code but its parameters cell (JupyterLab saves the operator's values
    and outputs into the runbook's file: neither makes it another runbook)."""
    cells = json.loads(notebook)["cells"]
    return [cell_source.text(c["source"]) for c in cells
            if c["cell_type"] == "code" and "parameters" not in c.get("metadata", {}).get("tags", [])]


def set_apart_claims(source: Path, result: dict, draft: bool = False) -> dict:
    """A draft is a run of anything but runbooks/<name>.ipynb exactly as committed at HEAD.
    Its kernel wrote the result file and could write anything there (approvals, targets):
    only a reviewed runbook's code is trusted to report what it changed and who approved
    it. A draft's such facts move under `draft_claims`, never shown as approvals.
    `draft`: the recorder found a cell that is not the runbook's in an interactive run."""
    if draft or is_draft(source):
        result["draft_claims"] = {k: result.pop(k) for k in SELF_REPORTED if k in result}
    return result


def is_draft(source: Path) -> bool:
    """Anything but runbooks/<name>.ipynb with its code as committed at HEAD."""
    from rovn_ops.protocol.authorization import at_head

    try:
        head = at_head(source) if source.resolve().parent == paths.runbooks().resolve() else None
        return head is None or _code(head) != _code(source.read_bytes())
    except (OSError, ValueError, KeyError, TypeError):
        return True


def scrub_notebook(source: Path, dest: Path, redactor: Redactor) -> Path | None:
    """Write the executed notebook to the archive with secrets redacted from every
    string: sources (the injected-parameters cell too), outputs, tracebacks and
    metadata (papermill's parameters). Streams are joined first, so a value printed
    in parts is redacted whole."""
    if not source.exists():
        return None
    nb = joined(json.loads(source.read_text()))
    dest.write_text(redactor.document(json.dumps(nb, indent=1, ensure_ascii=False)) + "\n")
    return dest


def joined(nb: dict) -> dict:
    """Each cell's stream outputs of one name as one output (stderr split by a stdout write
    in between too: a value written in parts is redacted whole), and every multi-line
    string (a list of lines in nbformat) as one string."""
    for cell in nb.get("cells", []):
        cell["source"] = cell_source.text(cell.get("source", ""))
        outputs, streams = [], {}
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = cell_source.text(out["text"])
            for mime, value in (out.get("data") or {}).items():
                if isinstance(value, list) and all(isinstance(v, str) for v in value):
                    out["data"][mime] = "".join(value)
            if out.get("output_type") != "stream":
                streams.clear()  # a display in between: later text goes after it, as shown
                outputs.append(out)
            elif out.get("name") in streams:
                streams[out.get("name")]["text"] += out["text"]
            else:
                outputs.append(streams.setdefault(out.get("name"), out))
        if "outputs" in cell:
            cell["outputs"] = outputs
    return nb


def keep_artifacts(directory: Path, sources: list[str], redactor: Redactor) -> list[Path]:
    """Copy what the run produced (e.g. a generated migration) next to its notebook."""
    kept = []
    for src in dict.fromkeys(sources):
        src_path = Path(src)
        if src_path.is_file():
            dest = directory / "artifacts" / src_path.name
            dest.parent.mkdir(exist_ok=True)
            dest.write_text(redactor.text(src_path.read_text()))
            kept.append(dest)
    return kept


def describe(path: Path, directory: Path, kind: str) -> dict:
    return {"kind": kind, "path": str(path.relative_to(directory)), "sha256": sha256(path)}


def build(*, directory: Path, notebook: Path, html: Path | None, artifacts: list[Path], source: Path,
          run_id: str, runbook: str, parameters: dict, operator: dict, mode: str, started: datetime,
          outcome: str, error: str, result: dict, redactor: Redactor, archive: dict | None,
          audit_head: dict | None = None, final_dir: Path | None = None, audit_rows: list | None = None) -> dict:
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
        "draft": "draft_claims" in result,  # not a committed runbook (see set_apart_claims)
        **({"draft_claims": result["draft_claims"]} if "draft_claims" in result else {}),
    }
    manifest = redactor.tree(manifest)
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest


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
