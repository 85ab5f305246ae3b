"""The preview that printed a plan hash: an approval is of a plan a preview produced.

audit_log's `evidence` rows are the ledger, one per archived run with its outcome and the
SHA-256 of its manifest (anchor.py). A plan hash was printed by a preview when the manifest
one of those `preview` rows digests names it. The manifest is read from this machine's
evidence directory, else from the archive bucket (an approver's laptop has no operator's
disk); a manifest whose bytes do not hash to its row proves nothing and is passed over.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

from rovn_ops.evidence import anchor, bucket

SCAN = 200  # the newest previews looked at: an approval follows its preview by hours, not by 200 runs

Reader = Callable[[str, str], "bytes | None"]


def find(conn, plan_hash: str, read: Reader) -> dict | None:
    """{"run_id", "target"} of the newest preview whose ledger-anchored manifest has this plan hash."""
    rows = conn.execute("SELECT run_id, details FROM audit_log WHERE action = %s AND outcome = 'preview' "
                        "ORDER BY id DESC LIMIT %s", [anchor.ACTION, SCAN]).fetchall()
    for run_id, details in rows:
        d = details if isinstance(details, dict) else {}
        raw = read(str(run_id), str(d.get("path") or ""))
        if raw is None or hashlib.sha256(raw).hexdigest() != d.get("manifest_sha256"):
            continue
        m = json.loads(raw)
        if m.get("plan_hash") == plan_hash and m.get("outcome") == "preview":
            return {"run_id": str(run_id), "target": (m.get("targets") or [""])[0],
                    "ticket": str((m.get("change_request") or {}).get("ticket") or "")}
    return None


def reader(root: Path, s3=None, bucket_name: str = "") -> Reader:
    """Read a run's manifest: the local copy, else the bucket's (runs/<id>/manifest.json)."""
    def read(run_id: str, path: str) -> bytes | None:
        local = root / path / "manifest.json" if path else None
        if local is not None and local.is_file():
            return local.read_bytes()
        if s3 is None or not bucket_name:
            return None
        return bucket.read(s3, bucket_name, f"{bucket.RUNS_PREFIX}{run_id}/manifest.json")
    return read
