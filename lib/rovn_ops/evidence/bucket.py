"""The archive of record: an S3 bucket with Object Lock in COMPLIANCE mode.

Layout (every object written once, never overwritten):
  runs/<run id>/<file>             the run's files as its manifest lists them, plus
                                   manifest.json and signature.json
  ledger/<chain>/<seq>.json        each ledger entry with its signed checkpoint
  keys/<key id>.pem                the public key (for convenience: verify trusts the
                                   pinned id or the auditor's copy, not this file)
  keys/rotations/<new key id>.json a key rotation, signed by the old key and the new

Several machines may write the same object: keys/<key id>.pem at every archive, and any
object again when an upload is retried (botocore's retry after a lost answer, a recovery
after a kill). So every write is conditional (`If-None-Match: *`, atomic in S3): the
first writer wins, a later one gets 412 and compares what is there with its own bytes;
the same bytes mean the object is already written, other bytes are a conflict it reports
and never overwrites.

`verify` lists every version: a delete marker, or a second version with other bytes than
the first, is tampering. A second version with the very same bytes (the race conditional
writes close, in archives written before them) changes nothing a reader can see; verify
says how many there are. Retention is read from head_object (moto has no
get_object_retention).
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from botocore.exceptions import ClientError

LEDGER_PREFIX, RUNS_PREFIX, KEYS_PREFIX = "ledger/", "runs/", "keys/"
ROTATIONS_PREFIX = "keys/rotations/"  # key rotation statements, signed by the old key and the new


def plan(bucket: str, run_id: str, retention_days: int) -> dict:
    until = datetime.now(timezone.utc) + timedelta(days=retention_days)
    return {"bucket": bucket, "prefix": f"{RUNS_PREFIX}{run_id}/", "mode": "COMPLIANCE",
            "retain_until": until.replace(microsecond=0).isoformat(), "retention_days": retention_days}


APPROVALS_PREFIX = "approvals/"  # one object per `approve` audit_log row: its id and hash


def approval_key(row_id: int) -> str:
    return f"{APPROVALS_PREFIX}{int(row_id):010d}.json"


def approval_anchor(row_id: int, row_hash: str) -> bytes:
    return json.dumps({"audit_log_id": int(row_id), "row_hash": row_hash}, sort_keys=True).encode()


def ledger_key(entry: dict) -> str:
    return f"{LEDGER_PREFIX}{entry['chain'][:16]}/{int(entry['seq']):010d}.json"


class Conflict(Exception):
    """The bucket already holds other bytes under a name this machine writes."""


CONFLICT_RETRIES = 5  # S3 answers 409 while another conditional write of the key is in flight


def put(s3, archive: dict, key: str, body: bytes) -> bool:
    """Write `key` once. True: this call wrote it. False: it was there already with these
    very bytes (another machine, a retry, a recovery). Conflict: it holds other bytes."""
    for attempt in range(CONFLICT_RETRIES):
        try:
            s3.put_object(Bucket=archive["bucket"], Key=key, Body=body, IfNoneMatch="*",
                          ObjectLockMode="COMPLIANCE",
                          ObjectLockRetainUntilDate=datetime.fromisoformat(archive["retain_until"]),
                          Metadata={"sha256": hashlib.sha256(body).hexdigest()})
            return True
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            if code == "PreconditionFailed":
                return _already(s3, archive["bucket"], key, body)
            if code != "ConditionalRequestConflict":
                raise
            time.sleep(0.1 * 2 ** attempt)
    raise Conflict(f"s3://{archive['bucket']}/{key}: {CONFLICT_RETRIES} conditional writes in a row met "
                   "another write in flight (409 ConditionalRequestConflict)")


def _already(s3, bucket: str, key: str, body: bytes) -> bool:
    """False if the object there holds `body`, read back (its sha256 metadata is only its
    writer's word)."""
    theirs = hashlib.sha256(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest()
    ours = hashlib.sha256(body).hexdigest()
    if theirs != ours:
        raise Conflict(f"s3://{bucket}/{key} already holds other bytes (sha256 {theirs}, this run's {ours}): "
                       "left as it is; `rovn-ops evidence verify` reports the difference")
    return False


def upload(s3, archive: dict, files: dict[str, Path], line: dict, public_pem: bytes, key_id: str) -> None:
    """The run's files ({relative path: file}), its ledger entry, and the key: each written
    once, whoever else writes it. A conflict does not stop the rest; all are raised at the end."""
    from concurrent.futures import ThreadPoolExecutor

    run_files = [(archive["prefix"] + rel, path.read_bytes) for rel, path in files.items()]
    entry = [(ledger_key(line), lambda: (json.dumps(line, sort_keys=True) + "\n").encode()),
             (f"{KEYS_PREFIX}{key_id}.pem", lambda: public_pem)]

    def one(item) -> str:
        try:
            put(s3, archive, item[0], item[1]())
            return ""
        except Conflict as e:
            return str(e)
    conflicts = []
    with ThreadPoolExecutor(max_workers=8) as pool:  # each PUT is a round trip: at once, not in turn
        for batch in (run_files, entry):  # the run's files before the ledger entry that names them
            conflicts += [c for c in pool.map(one, batch) if c]
    if conflicts:
        raise Conflict("; ".join(conflicts))


def upload_run(s3, directory: Path, m: dict, line: dict, public_pem: bytes) -> None:
    """The archive's last stage (archive.py runs the stages): an archived run's files (every
    file its manifest lists, the manifest and the signature), its ledger entry and the key.
    A failure is a warning: the run is anchored, and verify flags the missing copy."""
    files = {f["path"]: directory / f["path"] for f in m["files"]}
    files["manifest.json"] = directory / "manifest.json"
    files["signature.json"] = directory / "signature.json"
    try:
        upload(s3, m["archive"], files, line, public_pem, line["key_id"])
    except Exception as e:  # noqa: BLE001 - the run is anchored; verify flags the missing copy
        print(f"rovn-ops: warning: upload to s3://{m['archive']['bucket']} failed: {type(e).__name__}: {e}",
              file=sys.stderr)


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

    def problems(self, s3, bucket: str) -> tuple[list[tuple[str, str]], list[str]]:
        """(key, what is wrong) for every delete marker and every key whose versions do not
        all hold the same bytes; and the keys written again with the same bytes."""
        out, same = [], []
        for k, versions in sorted(self.versions.items()):
            if len(versions) == 1:
                continue
            if _identical(s3, bucket, k, versions):
                same.append(k)
            else:
                out.append((k, f"has {len(versions)} versions (a locked object was written again "
                               "with other bytes)"))
        out += [(k, "has a delete marker") for k in sorted(self.deleted)]
        return out, same


def _identical(s3, bucket: str, key: str, versions: list[dict]) -> bool:
    """Every version holds the same bytes: sizes first, then each version's SHA-256 (an
    ETag is MD5, or no digest of the bytes at all for a multipart upload)."""
    if len({v.get("Size") for v in versions}) > 1:
        return False
    digests = {hashlib.sha256(s3.get_object(Bucket=bucket, Key=key, VersionId=v["VersionId"])["Body"].read())
               .hexdigest() for v in versions}
    return len(digests) == 1


def read(s3, bucket: str, key: str) -> bytes | None:
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.ClientError:
        return None


def ledger(s3, bucket: str, listing: Listing) -> list[dict]:
    """The bucket's copy of the ledger, in chain and seq order."""
    from rovn_ops.evidence import ledger as ledger_mod

    return ledger_mod.parse([(read(s3, bucket, k) or b"").decode() for k in listing.keys(LEDGER_PREFIX)])


def retention_problems(head: dict, archive: dict) -> list[str]:
    problems = []
    if head.get("ObjectLockMode") != "COMPLIANCE":
        problems.append(f"Object Lock mode {head.get('ObjectLockMode')}, expected COMPLIANCE")
    until = head.get("ObjectLockRetainUntilDate")
    if not until or until < datetime.fromisoformat(archive["retain_until"]) - timedelta(seconds=1):
        problems.append(f"retained until {until}, expected {archive['retain_until']}")
    return problems
