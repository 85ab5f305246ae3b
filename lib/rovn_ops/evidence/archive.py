"""Archiving a run at its end: scrub, render, manifest, anchor, sign, upload.

Every mode goes through here: headless (`rovn-ops run`), interactive (the kernel's
recorder), and a run recovered from its spool. The archive is built inside the
run's private spool, anchored in audit_log (which numbers its ledger entry and
signs a checkpoint), then moved into the evidence directory (a local cache) and
uploaded to the Object Lock bucket (the archive of record).

The runner builds an Archiver before the kernel starts: a thread loads the signing
key, the S3 client and nbconvert while the notebook runs. In prod the key must load
before anything runs (no unsigned changes).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rovn_ops.core import aws, paths, record
from rovn_ops.safety import params, scrub
from rovn_ops.core.errors import RovnError
from rovn_ops.evidence import anchor, bucket, ledger, manifest, render, signing
from rovn_ops.evidence.spool import Spool


@dataclass
class Settings:
    bucket: str
    retention_days: int
    signing_key_secret: str
    region: str

    @classmethod
    def of(cls, env: str) -> "Settings":
        spec = params.environment_section(env, "evidence")
        return cls(spec.get("bucket") or "", int(spec.get("retention_days") or 2555),
                   spec.get("signing_key_secret") or f"rovn/{env}/evidence-signing-key", signing.key_region(env))


class Archiver:
    def __init__(self, env: str, handover: bool = False):
        # The key's region is the environment's, whatever region the run targets. handover:
        # the key rotation's run, signed by the key it hands over (signing.private_key).
        self.env, self.settings, self.handover = env, Settings.of(env), handover
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
            region = self.settings.region
            self.key = signing.private_key(aws.client("secretsmanager", env=self.env, region=region),
                                           self.settings.signing_key_secret, self.env, self.handover)
            if self.settings.bucket:
                self.s3 = aws.client("s3", env=self.env, region=region)
            render.prewarm()
        except Exception as e:  # noqa: BLE001 - reported when the run is archived
            self.error = e

    def ready(self) -> None:
        self.start()
        self._thread.join()
        if self.error is not None:
            if isinstance(self.error, RovnError):
                raise self.error
            raise RovnError(f"evidence signing is not available: {type(self.error).__name__}: {self.error}")

    def finish(self, sp: Spool, *, outcome: str, error: str, operator: dict | None = None,
               sealed: list[str] = ()) -> dict:
        """sealed: what the runner saw the kernel seal during the run (kept in its memory)."""
        """Archive the spooled run; idempotent, so a recovery can finish what a kill interrupted."""
        meta = sp.meta
        sp.update(outcome=outcome, error=error)
        self.ready()
        run_id, started = meta["run_id"], datetime.fromisoformat(meta["started"])
        rel = f"{started:%Y-%m-%d}/{run_id}"
        with connect(self.env) as conn:
            done = _anchored(conn, run_id)
            if done is None:
                m = self._stage(sp, meta, rel, outcome, error, operator, conn, sealed)
                done = anchor.append(conn, run_id=run_id, path=rel, key=self.key,
                                     manifest_sha256=manifest.sha256(sp.staging / "manifest.json"),
                                     actor=(m["operator"] or {}).get("arn") or "?", outcome=m["outcome"])
            root = paths.evidence()
            final = root / rel
            if sp.staging.is_dir():  # else a recovery after the move: the archived copy stands
                (sp.staging / "signature.json").write_text(json.dumps(done, indent=2, sort_keys=True) + "\n")
                final.parent.mkdir(parents=True, exist_ok=True)
                os.rename(sp.staging, final)
            m = json.loads((final / "manifest.json").read_text())
            # The cache is a prefix of the chain: fetch what other machines appended since.
            tip = (ledger.read_tail(root, 1) or [{}])[-1]
            ledger.sync(root, anchor.entries(conn, done["chain"], tip.get("seq") or 0
                                             if tip.get("chain") == done["chain"] else 0))
        signing.export_public(self.key, root)
        if m.get("archive"):
            self._upload(m["archive"], uploads(final, m), done)
        sp.release()
        return m | {"path": str(final)}

    def _stage(self, sp: Spool, meta: dict, rel: str, outcome: str, error: str, operator: dict | None,
               conn, sealed: list[str] = ()) -> dict:
        from rovn_ops.audit import log as audit

        shutil.rmtree(sp.staging, ignore_errors=True)
        sp.staging.mkdir()
        result = manifest.set_apart_claims(Path(meta["source"]), record.read(sp.result_file),
                                           draft=bool(meta.get("draft")))  # an interactive draft (recorder)
        # The values the kernel read, sealed with the run's key; and what this process read
        # (the signing key: ready() has loaded it), registered already.
        key = meta.get("redact_key")
        # (the run's key itself too: a notebook that prints its environment shows it)
        kept = result.pop("redact_sealed", [])
        dropped = [v for v in sealed if v not in kept]
        if dropped:  # the kernel removed secrets it had sealed: redact them anyway, and say so
            result["tampered"] = f"the kernel removed {len(dropped)} sealed secret(s) from its result file"
        redactor = scrub.Redactor([*scrub.unseal([*kept, *dropped], key), key] if key else ())
        source = Path(meta["source"])
        raw = sp.dir / meta["notebook"]
        notebook = manifest.scrub_notebook(raw, sp.staging / raw.name, redactor) or sp.staging / raw.name
        operator = result.get("operator") or operator or meta.get("operator") or _operator(meta)
        started = datetime.fromisoformat(meta["started"])
        html = _render(notebook, redactor.tree(render.header_facts(
            run_id=meta["run_id"], runbook=meta["runbook"], parameters=meta["parameters"], operator=operator,
            mode=meta["mode"], started=started, outcome=outcome, error=error, result=result)))
        artifacts = manifest.keep_artifacts(sp.staging, result.get("artifacts", []), redactor)
        plan = bucket.plan(self.settings.bucket, meta["run_id"], self.settings.retention_days) \
            if self.settings.bucket else None
        return manifest.build(
            directory=sp.staging, notebook=notebook, html=html, artifacts=artifacts, source=source,
            run_id=meta["run_id"], runbook=meta["runbook"], parameters=meta["parameters"],
            operator=operator, mode=meta["mode"], started=started, outcome=outcome, error=error,
            result=result, redactor=redactor, archive=plan, audit_head=audit.head(conn),
            audit_rows=rows_naming(conn, meta["run_id"]),
            final_dir=paths.evidence() / rel)

    def _upload(self, plan: dict, files: dict, line: dict) -> None:
        try:
            bucket.upload(self.s3, plan, files, line, signing.public_pem(self.key), line["key_id"])
        except Exception as e:  # noqa: BLE001 - the run is anchored; verify flags the missing copy
            print(f"rovn-ops: warning: upload to s3://{plan['bucket']} failed: {type(e).__name__}: {e}",
                  file=sys.stderr)


def connect(env: str):
    """audit_log's database for `env` (prod: through the DB secret, as db.connect does for it)."""
    from rovn_ops.clients import db

    os.environ["ROVN_TARGET_ENV"] = env
    return db.connect()


def rows_naming(conn, run_id: str) -> list[dict]:
    """The audit_log rows that name this run, as the runner reads them (not the kernel's own
    list, which a draft can edit): what the index calls a change (issue 27, finding 1)."""
    return [{"id": i, "action": a, "target": t, "outcome": o} for i, a, t, o in conn.execute(
        "SELECT id, action, target, outcome FROM audit_log WHERE run_id = %s AND action <> %s ORDER BY id",
        [run_id, anchor.ACTION])]


def _anchored(conn, run_id: str) -> dict | None:
    """The run's ledger entry if an earlier attempt anchored it already."""
    row = conn.execute("SELECT details FROM audit_log WHERE action = %s AND run_id = %s ORDER BY id DESC LIMIT 1",
                       [anchor.ACTION, run_id]).fetchone()
    return row[0] if row else None


def _operator(meta: dict) -> dict:
    """Who ran it, asked here, for a run that failed before its first cell recorded it."""
    from rovn_ops.core.identity import local_user, person

    try:
        arn = aws.caller_arn(meta["env"], meta["parameters"].get("region") or signing.key_region(meta["env"]))
    except Exception as e:  # noqa: BLE001 - the manifest says why it is unknown
        arn = f"unknown ({type(e).__name__})"
    return {"arn": arn, "local_user": meta.get("local_user") or local_user(), "person": person(arn)}


def _render(notebook: Path, header: dict | None = None) -> Path | None:
    try:
        return render.html(notebook, header) if notebook.exists() else None
    except Exception as e:  # noqa: BLE001 - the notebook itself is the evidence
        print(f"rovn-ops: warning: HTML copy failed: {type(e).__name__}: {e}", file=sys.stderr)
        return None


def uploads(directory: Path, m: dict) -> dict[str, Path]:
    """The files that go to the bucket, by path relative to the run: every file the
    manifest lists, the manifest itself and the signature."""
    files = {f["path"]: directory / f["path"] for f in m["files"]}
    files["manifest.json"] = directory / "manifest.json"
    files["signature.json"] = directory / "signature.json"
    return files
