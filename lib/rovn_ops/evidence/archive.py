"""Archiving a run at its end: a pipeline the run's data passes once, each stage in its room.

    scrubbing  what enters the archive, made safe: the notebook and artifacts redacted
               into the spool's staging directory, a draft's claims set apart
    render     the HTML copy, from the scrubbed notebook
    manifest   manifest.json: the files by SHA-256, with what the run recorded
    anchor     the ledger entry for the manifest's digest, numbered and signed in
               audit_log with a checkpoint over both chains' heads
    cache      the staging directory, with its signature, moved into the evidence
               directory (a local cache); the cache's ledger synced
    bucket     uploaded to the Object Lock bucket (the archive of record)

Signing is the anchor's, not a stage of its own before it: the signed entry holds its
seq and the previous entry's hash, which exist only under audit_log's chain lock. And
the upload comes last because what it writes (signature.json, the ledger object) is the
anchor's output: the bucket never holds a run that no chain names.

Every mode goes through here: headless (`rovn-ops run`), interactive (the kernel's
recorder), and a run recovered from its spool.

The runner builds an Archiver before the kernel starts: a thread loads the signing
key, the S3 client and nbconvert while the notebook runs. In prod the key must load
before anything runs (no unsigned changes).
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rovn_ops.audit import log as audit
from rovn_ops.core import aws, paths
from rovn_ops.core.errors import RovnError
from rovn_ops.evidence import anchor, bucket, cache, manifest, render, scrubbing, signing
from rovn_ops.evidence.spool import Spool
from rovn_ops.safety import params


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


HANDOVER = "evidence_key_rotation"  # the run that replaces the signing key is signed by the key it replaces


class Archiver:
    def __init__(self, env: str, runbook: str = ""):
        # The key's region is the environment's, whatever region the run targets. The key
        # rotation's run, however it ran (headless, in JupyterLab, recovered after a kill),
        # is signed by the key it hands over (signing.private_key's handover).
        self.env, self.settings, self.handover = env, Settings.of(env), runbook == HANDOVER
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
        """Archive the spooled run: each stage once, in order. Idempotent: a recovery after
        a kill finds the anchor an earlier attempt made and finishes from there.
        sealed: what the runner saw the kernel seal during the run (kept in its memory)."""
        meta = sp.meta
        sp.update(outcome=outcome, error=error)
        self.ready()
        rel = f"{datetime.fromisoformat(meta['started']):%Y-%m-%d}/{meta['run_id']}"
        with connect(self.env) as conn:
            m, line = None, anchor.existing(conn, meta["run_id"])
            if line is None:
                m, digest = self._build(sp, meta, rel, outcome, error, operator, conn, sealed)
                line = anchor.append(conn, run_id=meta["run_id"], path=rel, key=self.key, manifest_sha256=digest,
                                     actor=(m["operator"] or {}).get("arn") or "?", outcome=m["outcome"])
            final = cache.store(conn, sp.staging, paths.evidence(), rel, line, self.key)
        m = m or cache.written(final)
        if m.get("archive"):
            bucket.upload_run(self.s3, final, m, line, signing.public_pem(self.key))
        sp.release()
        return m | {"path": str(final)}

    def _build(self, sp: Spool, meta: dict, rel: str, outcome: str, error: str, operator: dict | None,
               conn, sealed: list[str]) -> tuple[dict, str]:
        """scrub -> render -> manifest, in the spool's staging directory: (manifest, its SHA-256)."""
        clean = scrubbing.stage(sp, sealed)
        operator = clean.result.get("operator") or operator or meta.get("operator") or _operator(meta)
        facts = {"run_id": meta["run_id"], "runbook": meta["runbook"], "parameters": meta["parameters"],
                 "mode": meta["mode"], "started": datetime.fromisoformat(meta["started"]),
                 "outcome": outcome, "error": error, "operator": operator, "result": clean.result}
        page = render.stage(clean.notebook, clean.redactor.tree(render.header_facts(**facts)))
        plan = bucket.plan(self.settings.bucket, meta["run_id"], self.settings.retention_days) \
            if self.settings.bucket else None
        return manifest.build(
            directory=clean.directory, notebook=clean.notebook, html=page, artifacts=clean.artifacts,
            source=Path(meta["source"]), **facts, redactor=clean.redactor, archive=plan,
            audit_head=audit.head(conn), audit_rows=rows_naming(conn, meta["run_id"]),
            final_dir=paths.evidence() / rel)


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


def _operator(meta: dict) -> dict:
    """Who ran it, asked here, for a run that failed before its first cell recorded it."""
    from rovn_ops.core.identity import local_user, person

    try:
        arn = aws.caller_arn(meta["env"], meta["parameters"].get("region") or signing.key_region(meta["env"]))
    except Exception as e:  # noqa: BLE001 - the manifest says why it is unknown
        arn = f"unknown ({type(e).__name__})"
    return {"arn": arn, "local_user": meta.get("local_user") or local_user(), "person": person(arn)}
