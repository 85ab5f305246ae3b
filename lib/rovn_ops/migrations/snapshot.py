"""The pre-migration RDS snapshot (§3): named after the migration and the UTC time,
tagged with its expiry (90 days), waited on until available. A re-run for the same
migration reuses the snapshot it already took."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..errors import Refused

RETENTION_DAYS = 90
TAG_MIGRATION, TAG_EXPIRES, TAG_RUN = "rovn:migration", "rovn:expires-at", "rovn:run-id"


@dataclass(frozen=True)
class Snapshot:
    id: str
    arn: str
    created_at: str
    reused: bool


def snapshot_id(stem: str, now: datetime) -> str:
    """`<stem>-<UTC timestamp>`, in RDS's alphabet: lowercase letters, digits and
    hyphens, starting with a letter (so `_` becomes `-`, and a leading digit gets `m`)."""
    base = stem.replace("_", "-").lower()
    if not base[0].isalpha():
        base = "m" + base
    return f"{base}-{now:%Y%m%dt%H%M%Sz}"


def _tags(rds, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}


def find_reusable(rds, instance: str, stem: str, now: datetime) -> Snapshot | None:
    snaps = rds.describe_db_snapshots(DBInstanceIdentifier=instance, SnapshotType="manual")["DBSnapshots"]
    for s in sorted(snaps, key=lambda s: s.get("SnapshotCreateTime") or now, reverse=True):
        tags = _tags(rds, s["DBSnapshotArn"])
        if tags.get(TAG_MIGRATION) == stem and s["Status"] in ("available", "creating") \
                and datetime.fromisoformat(tags.get(TAG_EXPIRES, "1970-01-01T00:00:00+00:00")) > now:
            return Snapshot(s["DBSnapshotIdentifier"], s["DBSnapshotArn"], str(s.get("SnapshotCreateTime")), True)
    return None


def take(rds, instance: str, stem: str, run_id: str, *, deadline_s: float = 1800) -> Snapshot:
    now = datetime.now(timezone.utc)
    found = find_reusable(rds, instance, stem, now)
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
    for s in rds.describe_db_snapshots(DBInstanceIdentifier=instance, SnapshotType="manual")["DBSnapshots"]:
        created = s.get("SnapshotCreateTime")
        if created and created < now - timedelta(days=RETENTION_DAYS):
            out.append({"snapshot": s["DBSnapshotIdentifier"], "created": created})
    return out
