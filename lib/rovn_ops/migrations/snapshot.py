"""The pre-migration RDS snapshot (§3): named after the migration and the UTC time,
tagged with its expiry (90 days), waited on until available.

"Every migration deploy is preceded by a manual RDS snapshot": each deploy takes its
own. The only snapshot reused is one this run took, or one taken for the same
migration within FRESH_MINUTES (a run killed after asking RDS for it, re-run): an
older snapshot for the same file (a deploy that failed last month) is not "preceding"
this one. Snapshots are listed page by page (DescribeDBSnapshots answers 100 at most).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from rovn_ops.core.errors import Refused
from rovn_ops.core import controls

RETENTION_DAYS = 90
TAG_MIGRATION, TAG_EXPIRES, TAG_RUN = "rovn:migration", "rovn:expires-at", "rovn:run-id"
FRESH_MINUTES = 15
MAX_ID = 255


@dataclass(frozen=True)
class Snapshot:
    id: str
    arn: str
    created_at: str
    reused: bool


def snapshot_id(stem: str, now: datetime) -> str:
    """`<stem>-<UTC timestamp>`, a valid DBSnapshotIdentifier whatever the file is
    called: 1 to 255 letters, digits or hyphens, the first a letter, no two hyphens
    together, none at the end (CreateDBSnapshot,
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSnapshot.html).
    Anything else in the stem (`_`, `.`, spaces, non-ASCII) becomes a hyphen, runs of
    hyphens become one, a leading digit (or nothing) gets `m`."""
    stamp = f"{now:%Y%m%dt%H%M%Sz}"
    base = re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", stem.lower())).strip("-")
    if not base[:1].isalpha():
        base = "m" + base
    base = base[:MAX_ID - len(stamp) - 1].rstrip("-")
    return f"{base}-{stamp}"


def manual(rds, instance: str) -> list[dict]:
    """Every manual snapshot of the instance, all pages."""
    pages = rds.get_paginator("describe_db_snapshots").paginate(DBInstanceIdentifier=instance, SnapshotType="manual")
    return [s for page in pages for s in page["DBSnapshots"]]


def _tags(rds, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}


def find_reusable(rds, instance: str, stem: str, now: datetime, run_id: str = "") -> Snapshot | None:
    """This run's snapshot for the migration, or one taken for it in the last
    FRESH_MINUTES; never an older one."""
    fresh_since = now - timedelta(minutes=FRESH_MINUTES)
    for s in sorted(manual(rds, instance), key=lambda s: s.get("SnapshotCreateTime") or now, reverse=True):
        created = s.get("SnapshotCreateTime") or now  # RDS stamps it once the snapshot starts
        if s["Status"] not in ("available", "creating") or not s["DBSnapshotIdentifier"].startswith(
                snapshot_id(stem, now)[:-len("-20260101t000000z")]):
            continue
        tags = _tags(rds, s["DBSnapshotArn"])
        if tags.get(TAG_MIGRATION) != stem:
            continue
        if (run_id and tags.get(TAG_RUN) == run_id) or created >= fresh_since:
            return Snapshot(s["DBSnapshotIdentifier"], s["DBSnapshotArn"], str(s.get("SnapshotCreateTime")), True)
    return None


@controls.enforces('§3 snapshot')
def take(rds, instance: str, stem: str, run_id: str, *, deadline_s: float = 1800) -> Snapshot:
    now = datetime.now(timezone.utc)
    found = find_reusable(rds, instance, stem, now, run_id)
    if found is None:
        sid = snapshot_id(stem, now)
        expires = (now + timedelta(days=RETENTION_DAYS)).isoformat(timespec="seconds")
        try:
            s = rds.create_db_snapshot(DBSnapshotIdentifier=sid, DBInstanceIdentifier=instance, Tags=[
                {"Key": TAG_MIGRATION, "Value": stem}, {"Key": TAG_EXPIRES, "Value": expires},
                {"Key": TAG_RUN, "Value": run_id}])["DBSnapshot"]
        except Exception as e:  # noqa: BLE001 - any failure means: no DDL
            raise Refused(f"pre-migration snapshot of {instance} failed ({_reason(e)}): no migration ran") from None
        found = Snapshot(sid, s["DBSnapshotArn"], str(s.get("SnapshotCreateTime")), False)
    _wait_available(rds, found.id, deadline_s)
    return found


def _reason(e: Exception) -> str:
    return getattr(e, "response", {}).get("Error", {}).get("Message") or str(e)


def _wait_available(rds, sid: str, deadline_s: float) -> None:
    deadline, pause = time.monotonic() + deadline_s, 1.0
    while True:
        status = rds.describe_db_snapshots(DBSnapshotIdentifier=sid)["DBSnapshots"][0]["Status"]
        if status == "available":
            return
        if status not in ("creating", "pending") or time.monotonic() > deadline:
            raise Refused(f"pre-migration snapshot {sid} is {status}: no migration ran")
        time.sleep(pause)
        pause = min(pause * 2, 15)


def expired(rds, instance: str, now: datetime | None = None) -> list[dict]:
    """Manual snapshots past their retention (for the deploy's preflight)."""
    now = now or datetime.now(timezone.utc)
    out = []
    for s in manual(rds, instance):
        created = s.get("SnapshotCreateTime")
        if created and created < now - timedelta(days=RETENTION_DAYS):
            out.append({"snapshot": s["DBSnapshotIdentifier"], "created": created})
    return out
