"""Archiving a run at its end: scrub, render, manifest, sign into the ledger, upload.

The runner builds an Archiver before the kernel starts: a thread loads the signing
key, the S3 client and nbconvert while the notebook runs, so archiving adds little
to the run. In prod the key must load before anything runs (no unsigned changes).
"""
from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .. import aws, params, paths, record, scrub
from ..errors import RovnError
from . import bucket, ledger, manifest, render, signing


@dataclass
class Settings:
    bucket: str
    retention_days: int
    signing_key_secret: str

    @classmethod
    def of(cls, env: str) -> "Settings":
        spec = params.environment_section(env, "evidence")
        return cls(spec.get("bucket") or "", int(spec.get("retention_days") or 2555),
                   spec.get("signing_key_secret") or f"rovn/{env}/evidence-signing-key")


class Archiver:
    def __init__(self, env: str, region: str):
        self.env, self.region, self.settings = env, region, Settings.of(env)
        self.key = self.s3 = self.error = None
        self._thread = threading.Thread(target=self._prepare, daemon=True)
        if env == "prod":  # no change may run that could not be signed
            self.start()
            self.ready()

    def start(self) -> None:
        """Begin loading; best called once the kernel is up, when this process mostly
        waits on it (imports in two threads of one process only contend for the GIL)."""
        if not self._thread.is_alive() and self._thread.ident is None:
            self._thread.start()

    def _prepare(self) -> None:
        try:
            self.key = signing.private_key(aws.client("secretsmanager", env=self.env, region=self.region),
                                           self.settings.signing_key_secret, self.env)
            if self.settings.bucket:
                self.s3 = aws.client("s3", env=self.env, region=self.region)
            render.prewarm()
        except Exception as e:  # noqa: BLE001 - reported when the run is archived
            self.error = e

    def ready(self) -> None:
        self.start()
        self._thread.join()
        if self.error is not None:
            raise RovnError(f"evidence signing is not available: {type(self.error).__name__}: {self.error}")

    def finish(self, *, directory: Path, notebook: Path, source: Path, run_id: str, runbook: str,
               parameters: dict, operator: dict, mode: str, started: datetime, outcome: str, error: str,
               result_file: Path, redact_key: str = "") -> dict:
        result = record.read(result_file)
        result_file.unlink(missing_ok=True)
        self.start()
        self._thread.join()  # the signing key it read is registered for redaction too
        redactor = scrub.Redactor(scrub.unseal(result.pop("redact_sealed", []), redact_key) if redact_key else ())
        notebook = manifest.scrub_notebook(notebook, directory / notebook.name, redactor) or directory / notebook.name
        html = _render(notebook)
        artifacts = manifest.keep_artifacts(directory, result.get("artifacts", []), redactor)
        self.ready()
        plan = bucket.plan(self.settings.bucket, run_id, self.settings.retention_days) \
            if self.settings.bucket else None
        m = manifest.build(directory=directory, notebook=notebook, html=html, artifacts=artifacts,
                           source=source, run_id=run_id, runbook=runbook, parameters=parameters,
                           operator=operator, mode=mode, started=started, outcome=outcome, error=error,
                           result=result, redactor=redactor, archive=plan)
        root = paths.evidence()
        signing.export_public(self.key, root)
        entry = ledger.append(root, run_id=run_id, run_dir=directory, key=self.key,
                              manifest_sha256=manifest.sha256(directory / "manifest.json"))
        (directory / "signature.json").write_text(json.dumps(entry, indent=2) + "\n")
        if plan:
            self._upload(plan, uploads(directory, m))
        return m

    def _upload(self, plan: dict, files: dict) -> None:
        try:
            bucket.upload(self.s3, plan, files)
        except Exception as e:  # noqa: BLE001 - the local archive stands; verify flags the bucket
            print(f"rovn-ops: warning: upload to s3://{plan['bucket']} failed: {type(e).__name__}: {e}",
                  file=sys.stderr)


def _render(notebook: Path) -> Path | None:
    try:
        return render.html(notebook) if notebook.exists() else None
    except Exception as e:  # noqa: BLE001 - the notebook itself is the evidence
        print(f"rovn-ops: warning: HTML copy failed: {type(e).__name__}: {e}", file=sys.stderr)
        return None


def uploads(directory: Path, m: dict) -> dict[str, Path]:
    """The files that go to the bucket: notebook, HTML, manifest, signature."""
    files = {f["kind"]: directory / f["path"] for f in m["files"] if f["kind"] in ("notebook", "html")}
    files["manifest"] = directory / "manifest.json"
    files["signature"] = directory / "signature.json"
    return files
