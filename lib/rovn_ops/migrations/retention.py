"""§3's retention of the pre-migration snapshots, enforced: "Snapshot retention is 90
days for these manual snapshots." The snapshot_retention runbook deletes the expired
ones this suite took, through the protocol, and never touches any other snapshot.

A snapshot is the suite's when it carries the tags migrations.snapshot.take gives it
(rovn:migration, rovn:run-id, rovn:expires-at) and its identifier is the one take()
derives from that migration and its creation time. It is expired when both its
creation time (RDS's own, which no tag can move) is more than 90 days ago and its
rovn:expires-at has passed. Everything else is kept, and the preview says why."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from rovn_ops.core.errors import RovnError
from rovn_ops.protocol.change import Plan, authorize
from rovn_ops.migrations import snapshot


_STAMP_EXAMPLE = "20260101t000000z"


@dataclass(frozen=True)
class Snap:
    id: str
    arn: str
    created: datetime
    status: str
    tags: dict

    @property
    def ours(self) -> bool:
        t = self.tags
        if not all(t.get(k) for k in (snapshot.TAG_MIGRATION, snapshot.TAG_RUN, snapshot.TAG_EXPIRES)):
            return False
        # take() names it after its migration and the moment it asked RDS, just before RDS's own time
        base = snapshot.snapshot_id(t[snapshot.TAG_MIGRATION], self.created)[:-len(_STAMP_EXAMPLE)]
        found = re.fullmatch(re.escape(base) + r"(\d{8}t\d{6}z)", self.id, re.ASCII)
        if not found:
            return False
        asked = datetime.strptime(found.group(1), "%Y%m%dt%H%M%Sz").replace(tzinfo=timezone.utc)
        return abs(self.created - asked) <= timedelta(hours=1)

    def expired(self, now: datetime) -> bool:
        try:
            expires = datetime.fromisoformat(self.tags.get(snapshot.TAG_EXPIRES, ""))
        except ValueError:
            return False
        return self.created <= now - timedelta(days=snapshot.RETENTION_DAYS) and expires <= now

    def why_kept(self, now: datetime) -> str:
        if not self.ours:
            return "not taken by this suite (no rovn:migration/run-id/expires-at tags matching its name)"
        if self.status != "available":
            return f"status {self.status}"
        return f"within {snapshot.RETENTION_DAYS} days (expires {self.tags.get(snapshot.TAG_EXPIRES)})"


def manual_snapshots(rds, instance: str) -> list[Snap]:
    out = [Snap(s["DBSnapshotIdentifier"], s["DBSnapshotArn"], s["SnapshotCreateTime"], s["Status"],
                snapshot._tags(rds, s["DBSnapshotArn"])) for s in snapshot.manual(rds, instance)]
    return sorted(out, key=lambda s: s.created)


@dataclass
class Prepared:
    delete: list[Snap]
    keep: list[tuple[Snap, str]]
    plan: Plan

    def _repr_markdown_(self) -> str:
        rows = [f"| DELETE | `{s.id}` | {s.created:%Y-%m-%d} | expired: {s.tags.get(snapshot.TAG_EXPIRES)} |"
                for s in self.delete]
        rows += [f"| keep | `{s.id}` | {s.created:%Y-%m-%d} | {why} |" for s, why in self.keep]
        return ("| action | snapshot | created | why |\n|---|---|---|---|\n" + "\n".join(rows) + "\n"
                if rows else "No manual snapshots.\n")


class Steps:
    def __init__(self, ctx, now: datetime | None = None):
        self.ctx, self.p = ctx, ctx.params
        self.rds = ctx.client("rds")
        self.now = now or datetime.now(timezone.utc)

    def prepare(self) -> Prepared:
        authorize(self.ctx, "snapshot retention", self.p.rds_instance)
        snaps = manual_snapshots(self.rds, self.p.rds_instance)
        delete = [s for s in snaps if s.ours and s.status == "available" and s.expired(self.now)]
        keep = [(s, s.why_kept(self.now)) for s in snaps if s not in delete]
        plan = Plan("snapshot retention", self.p.rds_instance,
                    {"instance": self.p.rds_instance, "retention_days": snapshot.RETENTION_DAYS,
                     "delete": [{"id": s.id, "created": s.created.isoformat(),
                                 "migration": s.tags[snapshot.TAG_MIGRATION]} for s in delete],
                     "keep": [s.id for s, _ in keep]},
                    (f"delete {len(delete)} expired pre-migration snapshot(s) of {self.p.rds_instance}",
                     f"keep {len(keep)}: younger than {snapshot.RETENTION_DAYS} days, or not this suite's"))
        return Prepared(delete, keep, plan)

    def replan(self) -> Plan:
        """The plan again from the live state, for protocol.Change.execute to compare with
        the approved one before anything changes."""
        return self.prepare().plan

    def execute(self, prepared: Prepared) -> list[str]:
        """Idempotent: a snapshot already gone (an earlier, killed run) counts as deleted."""
        done = []
        for s in prepared.delete:
            try:
                self.rds.delete_db_snapshot(DBSnapshotIdentifier=s.id)
            except self.rds.exceptions.DBSnapshotNotFoundFault:
                pass
            done.append(s.id)
            print(f"  deleted {s.id} (created {s.created:%Y-%m-%d}, {s.tags[snapshot.TAG_MIGRATION]})", flush=True)
        return done

    def verify(self, prepared: Prepared) -> dict:
        """The world: the deleted are gone (or deleting), every kept one is still there."""
        left = {s.id: s.status for s in manual_snapshots(self.rds, self.p.rds_instance)}
        still = [i for i in (s.id for s in prepared.delete) if left.get(i) not in (None, "deleting")]
        lost = [s.id for s, _ in prepared.keep if s.id not in left]
        if still or lost:
            raise RovnError("snapshot retention did not verify: "
                            + "; ".join([f"{i} still exists" for i in still] + [f"{i} is gone" for i in lost]))
        return {"deleted": [s.id for s in prepared.delete], "kept": sorted(left)}

    @staticmethod
    def details(prepared: Prepared, verified: dict | None) -> dict:
        return {"deleted": [{"id": s.id, "created": s.created.isoformat(), "arn": s.arn,
                             "migration": s.tags[snapshot.TAG_MIGRATION]} for s in prepared.delete],
                "kept": [{"id": s.id, "why": why} for s, why in prepared.keep], "verified": verified}


def summary(ctx, change, prepared: Prepared):
    from IPython.display import Markdown

    if not change.approval.executed:
        return Markdown(f"### Preview only: nothing was deleted\n\nrun id: `{ctx.run_id}`")
    return Markdown(f"### Done: {len(prepared.delete)} expired snapshot(s) deleted, {len(prepared.keep)} kept\n\n"
                    f"run id: `{ctx.run_id}`")
