"""The archive of record: an S3 bucket with Object Lock in COMPLIANCE mode.

Layout (every object written once, never overwritten):
  runs/<run id>/<file>             the run's files as its manifest lists them, plus
                                   manifest.json and signature.json
  ledger/<chain>/<seq>.json        each ledger entry with its signed checkpoint
  keys/<key id>.pem                the public key (for convenience: verify trusts the
                                   pinned id or the auditor's copy, not this file)
  keys/rotations/<new key id>.json a key rotation, signed by the old key and the new
A second version of any key, or a delete marker, is tampering: `verify` lists every
version. Retention is read from head_object (moto has no get_object_retention).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

LEDGER_PREFIX, RUNS_PREFIX, KEYS_PREFIX = "ledger/", "runs/", "keys/"
ROTATIONS_PREFIX = "keys/rotations/"  # key rotation statements, signed by the old key and the new


def plan(bucket: str, run_id: str, retention_days: int) -> dict:
    until = datetime.now(timezone.utc) + timedelta(days=retention_days)
    return {"bucket": bucket, "prefix": f"{RUNS_PREFIX}{run_id}/", "mode": "COMPLIANCE",
            "retain_until": until.replace(microsecond=0).isoformat(), "retention_days": retention_days}


def ledger_key(entry: dict) -> str:
    return f"{LEDGER_PREFIX}{entry['chain'][:16]}/{int(entry['seq']):010d}.json"


def put(s3, archive: dict, key: str, body: bytes) -> None:
    s3.put_object(Bucket=archive["bucket"], Key=key, Body=body, ObjectLockMode="COMPLIANCE",
                  ObjectLockRetainUntilDate=datetime.fromisoformat(archive["retain_until"]),
                  Metadata={"sha256": hashlib.sha256(body).hexdigest()})


def upload(s3, archive: dict, files: dict[str, Path], line: dict, public_pem: bytes, key_id: str) -> None:
    """The run's files ({relative path: file}), its ledger entry, and the key once."""
    for rel, path in files.items():
        put(s3, archive, archive["prefix"] + rel, path.read_bytes())
    put(s3, archive, ledger_key(line), (json.dumps(line, sort_keys=True) + "\n").encode())
    key = f"{KEYS_PREFIX}{key_id}.pem"
    try:
        s3.head_object(Bucket=archive["bucket"], Key=key)
    except s3.exceptions.ClientError:
        put(s3, archive, key, public_pem)


@dataclass
class Listing:
    """Every version of every key in the bucket, from one paginated listing."""
    versions: dict[str, list[dict]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, s3, bucket: str) -> "Listing":
        out = cls()
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for v in page.get("Versions", []):
                out.versions.setdefault(v["Key"], []).append(v)
            for d in page.get("DeleteMarkers", []):
                out.deleted.add(d["Key"])
        return out

    def keys(self, prefix: str) -> list[str]:
        return sorted(k for k in self.versions if k.startswith(prefix))

    def run_ids(self) -> set[str]:
        return {k[len(RUNS_PREFIX):].split("/", 1)[0] for k in self.versions if k.startswith(RUNS_PREFIX)}

    def problems(self) -> list[tuple[str, str]]:
        """(key, what is wrong) for every key that is not exactly one version."""
        out = [(k, f"has {len(v)} versions (a locked object was written again)")
               for k, v in sorted(self.versions.items()) if len(v) != 1]
        out += [(k, "has a delete marker") for k in sorted(self.deleted)]
        return out


def read(s3, bucket: str, key: str) -> bytes | None:
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.ClientError:
        return None


def ledger(s3, bucket: str, listing: Listing) -> list[dict]:
    """The bucket's copy of the ledger, in chain and seq order."""
    from . import ledger as ledger_mod

    return ledger_mod.parse([(read(s3, bucket, k) or b"").decode() for k in listing.keys(LEDGER_PREFIX)])


def retention_problems(head: dict, archive: dict) -> list[str]:
    problems = []
    if head.get("ObjectLockMode") != "COMPLIANCE":
        problems.append(f"Object Lock mode {head.get('ObjectLockMode')}, expected COMPLIANCE")
    until = head.get("ObjectLockRetainUntilDate")
    if not until or until < datetime.fromisoformat(archive["retain_until"]) - timedelta(seconds=1):
        problems.append(f"retained until {until}, expected {archive['retain_until']}")
    return problems
