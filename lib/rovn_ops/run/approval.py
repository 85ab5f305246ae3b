"""The approver's act, from `rovn-ops approve` or the approval cell of JupyterLab
(runbooks/approve.ipynb): in the approver's own process, under their own AWS
credentials and with their own signing key (approval_records.py, approval_signature.py)."""
from __future__ import annotations

import os

from rovn_ops.core import escape, plaintext


def approve(plan_hash: str, *, ticket: str = "", env: str = "sandbox", key: str | None = None) -> "Approved":
    """Sign and append the approval record of whoever's credentials this process holds."""
    import boto3

    from rovn_ops.clients import db
    from rovn_ops.core import aws
    from rovn_ops.core.environment import prepare_environment
    from rovn_ops.protocol import approval_records, approval_signature

    approval_records.full_hash(plan_hash)  # bad input first: one line, before anything reaches out
    private = approval_signature.load_private(key)
    prepare_environment(env)
    sts = aws.client("sts", env=env, region=os.environ.get("AWS_REGION") or "us-east-2")
    caller = sts.get_caller_identity()
    found = boto3.session.Session().get_credentials()
    access_key = found.access_key if found is not None else ""
    with db.connect() as conn:
        head = _head(conn)
        try:
            preview = _preview(conn, env, plan_hash.strip().lower())
            rec = approval_records.approve(conn, env, plan_hash, caller, ticket, preview, key=private,
                                           access_key_id=access_key)
        finally:  # approved or refused, the rows this act wrote are anchored where no one can cut them
            _anchor(conn, env, head)
    return Approved(rec)


def _head(conn) -> int:
    return conn.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()[0]


def _anchor(conn, env: str, after: int) -> None:
    """Each `approve` row this act appended, by id and hash, into the Object Lock bucket
    (approvals/<id>.json): no run's anchor covers a row written between runs, so a database
    superuser could delete the newest approve row and reset the sequence unseen (the attack
    review's MEDIUM 2); `evidence verify` checks every such object against audit_log."""
    from rovn_ops.audit import log as audit_log
    from rovn_ops.core import aws
    from rovn_ops.evidence import archive, bucket

    settings = archive.Settings.of(env)
    rows = conn.execute("SELECT id FROM audit_log WHERE id > %s AND action = 'approve' ORDER BY id",
                        [after]).fetchall()
    if not settings.bucket or not rows:
        return
    s3 = aws.client("s3", env=env, region=settings.region)
    lock = bucket.plan(settings.bucket, "", settings.retention_days)
    ids = [row_id for (row_id,) in rows]
    hashes = audit_log.content_hashes(conn, ids)
    for row_id in ids:
        bucket.put(s3, lock, bucket.approval_key(row_id), bucket.approval_anchor(row_id, hashes[row_id][1]))


def _preview(conn, env: str, plan_hash: str) -> dict | None:
    """The preview run that printed this hash, from the ledger in audit_log and the manifest it
    digests: this machine's copy, else the archive bucket's (evidence/previews.py)."""
    from rovn_ops.core import aws, paths
    from rovn_ops.evidence import archive, previews

    settings = archive.Settings.of(env)
    s3 = aws.client("s3", env=env, region=settings.region) if settings.bucket else None
    return previews.find(conn, plan_hash, previews.reader(paths.evidence(), s3, settings.bucket))


class Approved:
    """The record as the approver sees it: one line, in a terminal and in a notebook."""

    def __init__(self, record: dict):
        self.record = record

    def _line(self, esc) -> str:
        r = self.record
        preview = r.get("preview") or {}
        return (f"approved plan {esc(r['plan_hash'][:12])} as {esc(r['approver'])} ({esc(r['identity']['arn'])}), "
                f"audit_log row {r['id']}, signed with key {esc(r['signature']['key_id'])}"
                + (f", ticket {esc(r['ticket'])}" if r["ticket"] else "")
                + (f", preview run {esc(preview['run_id'])}" if preview else ""))

    def __str__(self) -> str:
        return self._line(escape.terminal)

    def _repr_markdown_(self) -> str:
        return self._line(escape.markdown)

    __repr__ = plaintext.markdown_repr
