"""The archive's stages on their own (evidence/archive.py runs them: scrub -> render ->
manifest -> anchor -> cache -> upload). The scenario tests (test_evidence*, test_leaks)
drive the whole pipeline against the sandbox; these pin what each early stage hands the
next, with real files, the real Redactor and Fernet sealing, no stand-ins."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import nbformat
import pytest
from cryptography.fernet import Fernet

from rovn_ops.evidence import manifest, render, scrubbing
from rovn_ops.evidence.spool import Spool

CANARY = "canary-Zq8vW3kLx9Tp"  # a secret the kernel read and sealed
OTHER = "second-Hs4mN7bQe2Rc"  # one it sealed, then removed from its result file


@pytest.fixture
def spooled(tmp_path, monkeypatch):
    """A spooled run of a notebook that is no committed runbook (a draft), which printed a
    secret in two parts and claimed an approval, with one artifact naming the secret."""
    monkeypatch.setenv("ROVN_EVIDENCE_DIR", str(tmp_path / "evidence"))
    key = Fernet.generate_key().decode()
    source = tmp_path / "mine.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(s)", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text=CANARY[:8]),
        nbformat.v4.new_output("stream", name="stdout", text=CANARY[8:] + "\n")])])
    source.write_text(json.dumps(nb))
    artifact = tmp_path / "0042_add.sql"
    artifact.write_text(f"-- password {CANARY}\n")
    sp = Spool.create("r-test-1", runbook="mine", source=str(source), notebook="mine.ipynb", env="sandbox",
                      parameters={"env": "sandbox"}, mode="headless", started=datetime.now(timezone.utc).isoformat(),
                      redact_key=key)
    (sp.dir / "mine.ipynb").write_text(source.read_text())
    f = Fernet(key.encode())
    (sp.result_file).write_text(json.dumps({
        "redact_sealed": [f.encrypt(CANARY.encode()).decode()], "artifacts": [str(artifact)],
        "approvals": [{"approvers": ["me"], "plan_hash": "abc"}], "outcome": "success"}))
    yield sp, f.encrypt(OTHER.encode()).decode()
    sp.release()


def test_scrub_stage_writes_only_what_may_be_archived(spooled):
    sp, removed = spooled
    kept = json.loads(sp.result_file.read_text())["redact_sealed"][0]
    clean = scrubbing.stage(sp, sealed=[kept, removed])
    assert clean.directory == sp.staging and clean.notebook.parent == sp.staging
    archived = clean.notebook.read_text()
    assert CANARY not in archived and CANARY[:8] not in archived  # joined, then redacted whole
    assert [p.name for p in clean.artifacts] == ["0042_add.sql"]
    assert CANARY not in clean.artifacts[0].read_text()
    assert "redact_sealed" not in clean.result
    assert clean.result["tampered"] == "the kernel removed 1 sealed secret(s) from its result file"
    assert OTHER not in clean.redactor.text(f"x {OTHER} y")  # redacted anyway
    assert "approvals" not in clean.result  # a draft's claim, set apart
    assert clean.result["draft_claims"]["approvals"][0]["approvers"] == ["me"]


def test_scrub_stage_starts_staging_afresh(spooled):
    sp, _ = spooled
    sp.staging.mkdir()
    (sp.staging / "half-written.html").write_text("from a killed attempt")
    scrubbing.stage(sp)
    assert not (sp.staging / "half-written.html").exists()


def test_manifest_stage_hands_on_the_document_as_written_and_its_digest(spooled, tmp_path):
    sp, _ = spooled
    clean = scrubbing.stage(sp)
    started = datetime.now(timezone.utc)
    facts = {"run_id": "r-test-1", "runbook": "mine", "parameters": {"env": "sandbox"}, "mode": "headless",
             "started": started, "outcome": "success", "error": "", "operator": {"arn": "arn:aws:iam::1:user/me"},
             "result": clean.result}
    page = render.stage(clean.notebook, clean.redactor.tree(render.header_facts(**facts)))
    assert page is not None and CANARY not in page.read_text()
    doc, digest = manifest.build(directory=clean.directory, notebook=clean.notebook, html=page,
                                 artifacts=clean.artifacts, source=tmp_path / "mine.ipynb", **facts,
                                 redactor=clean.redactor, archive=None, final_dir=tmp_path / "final")
    written = (clean.directory / "manifest.json").read_bytes()
    assert digest == hashlib.sha256(written).hexdigest()
    assert doc == json.loads(written)  # what the anchor signs is what the caller holds
    assert [f["kind"] for f in doc["files"]] == ["notebook", "html", "artifact"]
    assert doc["draft"] is True and doc["approvals"] == [] and doc["tampered"] == ""


def test_render_stage_without_a_notebook_is_no_copy(tmp_path):
    assert render.stage(tmp_path / "missing.ipynb", {}) is None
