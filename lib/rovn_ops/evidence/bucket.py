"""The off-machine copy: one upload per run, at its end, to an S3 bucket with Object
Lock in COMPLIANCE mode. Verification reads retention from head_object (moto has
no get_object_retention) and re-hashes each copy."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

UPLOADED = ("notebook", "html", "manifest", "signature")


def plan(bucket: str, run_id: str, retention_days: int) -> dict:
    until = datetime.now(timezone.utc) + timedelta(days=retention_days)
    return {"bucket": bucket, "prefix": f"runs/{run_id}/", "mode": "COMPLIANCE",
            "retain_until": until.replace(microsecond=0).isoformat(), "retention_days": retention_days}


def upload(s3, archive: dict, files: dict[str, Path]) -> dict[str, str]:
    """Put each file once; returns {kind: key}."""
    until = datetime.fromisoformat(archive["retain_until"])
    keys = {}
    for kind, path in files.items():
        key = archive["prefix"] + path.name
        body = path.read_bytes()
        s3.put_object(Bucket=archive["bucket"], Key=key, Body=body, ObjectLockMode="COMPLIANCE",
                      ObjectLockRetainUntilDate=until,
                      Metadata={"sha256": hashlib.sha256(body).hexdigest()})
        keys[kind] = key
    return keys


def check(s3, archive: dict, local: dict[str, Path]) -> list[str]:
    """Problems with the bucket's copies of a run: missing, retention, content."""
    problems = []
    for path in local.values():
        key = archive["prefix"] + path.name
        try:
            head = s3.head_object(Bucket=archive["bucket"], Key=key)
        except s3.exceptions.ClientError:
            problems.append(f"s3://{archive['bucket']}/{key} is missing")
            continue
        if head.get("ObjectLockMode") != "COMPLIANCE":
            problems.append(f"s3://{archive['bucket']}/{key}: Object Lock mode {head.get('ObjectLockMode')}, "
                            "expected COMPLIANCE")
        until = head.get("ObjectLockRetainUntilDate")
        if not until or until < datetime.fromisoformat(archive["retain_until"]) - timedelta(seconds=1):
            problems.append(f"s3://{archive['bucket']}/{key}: retained until {until}, "
                            f"expected {archive['retain_until']}")
        body = s3.get_object(Bucket=archive["bucket"], Key=key)["Body"].read()
        if hashlib.sha256(body).hexdigest() != hashlib.sha256(path.read_bytes()).hexdigest():
            problems.append(f"s3://{archive['bucket']}/{key}: differs from the archived file")
    return problems
