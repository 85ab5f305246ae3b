"""What changed: deploys, rollbacks, migrations and secret rotations from audit_log
(the source of truth, §7), in the window and the `before` minutes ahead of it."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rovn_ops.triage.window import Window, parse_time, utc

ACTIONS = ("deploy", "rollback", "migration", "migration_reversal", "rotation", "secret_rotation",
           "secrets_drift")  # secrets_audit's deviation: a principal off §8's allow-list can read secrets


@dataclass(frozen=True)
class Change:
    audit_id: int
    at: datetime
    action: str
    target: str
    outcome: str
    run_id: str
    details: dict = field(default_factory=dict, compare=False)

    @property
    def what(self) -> str:
        d = self.details
        if self.action == "deploy":
            new = (d.get("new_task_definition") or "").rsplit("/", 1)[-1]
            return f"deploy of {new or '?'} ({d.get('new_image_tag') or '?'})" + (
                f", migrations {', '.join(d['migrations'])}" if d.get("migrations") else "")
        if self.action == "rollback":
            return f"rollback to {(d.get('to_task_definition') or '?').rsplit('/', 1)[-1]}"
        if self.action == "secrets_drift":
            return f"secrets drift: {self.target} can read {', '.join(d.get('secrets') or ['?'])}"
        return f"{self.action} {self.target}"


def read(conn, window: Window, before_minutes: int) -> list[Change]:
    """Rows whose change time falls in [window.start - before, window.end]. A row's time
    is its `details.at` when it records history (the sandbox's seeded past), else when
    it was written."""
    since = window.start - timedelta(minutes=before_minutes)
    cur = conn.execute(
        "SELECT id, occurred_at, action, target, outcome, coalesce(run_id, ''), details FROM audit_log "
        "WHERE (action = ANY(%s) OR action LIKE '%%rotat%%') AND outcome IN ('success', 'failed', 'deviation') "
        "AND coalesce((details->>'at')::timestamptz, occurred_at) BETWEEN %s AND %s ORDER BY id",
        [list(ACTIONS), since, window.end])
    out = [Change(r[0], parse_time(r[6]["at"]) if r[6].get("at") else utc(r[1]), *r[2:]) for r in cur]
    return sorted(out, key=lambda c: c.at)


def last_deploy(conn, before: datetime) -> Change | None:
    """The latest deploy at or before `before`, however long ago (Sentry's baseline)."""
    row = conn.execute(
        "SELECT id, occurred_at, action, target, outcome, coalesce(run_id, ''), details FROM audit_log "
        "WHERE action = 'deploy' AND outcome = 'success' AND coalesce((details->>'at')::timestamptz, occurred_at) "
        "<= %s ORDER BY coalesce((details->>'at')::timestamptz, occurred_at) DESC, id DESC LIMIT 1",
        [before]).fetchone()
    if not row:
        return None
    return Change(row[0], parse_time(row[6]["at"]) if row[6].get("at") else utc(row[1]), *row[2:])


def table(changes: list[Change], window: Window):
    import pandas as pd

    return pd.DataFrame([{"at (UTC)": c.at.strftime("%Y-%m-%d %H:%M"),
                          "when": "in window" if c.at >= window.start else "before window",
                          "change": c.what, "outcome": c.outcome, "audit_log": c.audit_id, "run": c.run_id}
                         for c in changes], columns=["at (UTC)", "when", "change", "outcome", "audit_log", "run"])
