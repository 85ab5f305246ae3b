"""The archive's first stage: what enters it, made safe (archive.py runs the stages).

From a run's spool it takes the executed notebook, the kernel's result file and the
artifacts it names, and writes into the spool's staging directory only what may be
archived: every string with the run's secrets redacted, and a draft's self-reported
claims (approvals, targets, operator) set apart. Everything later (render, manifest,
anchor, upload) reads what this stage wrote, never the spool's raw files."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from rovn_ops.core import paths, record
from rovn_ops.evidence import cell_source
from rovn_ops.evidence.spool import Spool
from rovn_ops.safety import scrub
from rovn_ops.safety.scrub import Redactor

SELF_REPORTED = ("approvals", "acted_on", "targets", "plan_hash", "confirm_command", "verification", "plan_changes",
                 "operator")  # a draft cannot name its own operator: the runner's STS identity stands


@dataclass
class Scrubbed:
    """The stage's output: files in the staging directory, and the result they go with."""
    directory: Path
    notebook: Path  # may not exist: a run that died before its notebook was written
    artifacts: list[Path]
    result: dict  # the kernel's result file, claims set apart, `tampered` said
    redactor: Redactor


def stage(sp: Spool, sealed: list[str] = ()) -> Scrubbed:
    """sealed: what the runner saw the kernel seal during the run (kept in its memory).
    Starts the staging directory afresh, so an attempt a kill interrupted leaves nothing."""
    meta = sp.meta
    shutil.rmtree(sp.staging, ignore_errors=True)
    sp.staging.mkdir()
    result = set_apart_claims(Path(meta["source"]), record.read(sp.result_file),
                              draft=bool(meta.get("draft")))  # an interactive draft (recorder)
    redactor = _redactor(result, meta.get("redact_key"), sealed)
    raw = sp.dir / meta["notebook"]
    notebook = scrub_notebook(raw, sp.staging / raw.name, redactor) or sp.staging / raw.name
    artifacts = keep_artifacts(sp.staging, result.get("artifacts", []), redactor)
    return Scrubbed(sp.staging, notebook, artifacts, result, redactor)


def _redactor(result: dict, key: str | None, sealed: list[str]) -> Redactor:
    """The values the kernel read, sealed with the run's key, and the key itself (a notebook
    that prints its environment shows it); what this process read (the signing key) is
    registered already. A secret the kernel sealed and then removed from its result file
    is redacted anyway, and the result says so."""
    kept = result.pop("redact_sealed", [])
    dropped = [v for v in sealed if v not in kept]
    if dropped:
        result["tampered"] = f"the kernel removed {len(dropped)} sealed secret(s) from its result file"
    return scrub.Redactor([*scrub.unseal([*kept, *dropped], key), key] if key else ())


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
