"""One timeline of changes (audit_log), alarms, symptoms and first errors, and what
it points at:

- the errors (or the outage) began within `deploy_lead_minutes` after a deploy: that
  deploy, with the ready-made rollback command; if it ran migrations, §7's path
  instead (reverse them first, or confirm the older image reads the schema);
- the database led (RDS CPU crossed before the errors did): the database, and no
  rollback;
- otherwise no change explains it, and the command to look further.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..escape import markdown as md
from ..commands import run_command
from .changes import Change


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str
    what: str


@dataclass
class Story:
    events: list[Event]
    suspect: str                       # "deploy", "database", "tasks", "unknown" or "none"
    explanation: str
    commands: list[str] = field(default_factory=list)
    change: Change | None = None
    rollback_suggested: bool = False

    def table(self):
        import pandas as pd

        return pd.DataFrame([{"at (UTC)": e.at.strftime("%Y-%m-%d %H:%M:%S"), "kind": e.kind, "what": e.what}
                             for e in self.events], columns=["at (UTC)", "kind", "what"])

    def _repr_markdown_(self) -> str:
        cmds = "\n".join(self.commands)
        body = f"**Likely cause: {md(self.suspect)}.** {md(self.explanation)}"
        return body + (f"\n\nNext:\n\n```sh\n{cmds}\n```" if cmds else "")

    def __repr__(self) -> str:
        return f"likely cause: {self.suspect}. {self.explanation}" + "".join(f"\n  {c}" for c in self.commands)


def timeline(found, verdict) -> list[Event]:
    events = [Event(c.at, "change", f"{c.what} ({c.outcome}, audit_log {c.audit_id})") for c in found.changes]
    events += [Event(t.at, "alarm", f"{t.alarm}: {t.old} → {t.new}") for t in found.transitions]
    events += [Event(s.since, f"signal {s.severity}", s.rule) for s in verdict.signals if s.since and s.kind != "human"]
    events += [Event(i.first_seen, "sentry", f"{i.kind} issue {i.short_id}: {i.title}") for i in found.sentry_issues
               if i.first_seen >= found.window.start - timedelta(hours=2)]
    if found.logs and found.logs.onset():
        events.append(Event(found.logs.onset(), "logs", f"first ERROR line in the window ({found.logs.lines} in all)"))
    return sorted(events, key=lambda e: e.at)


def _rollback(ctx, deploy: Change) -> tuple[list[str], str]:
    p = ctx.params
    target = (deploy.details.get("previous_task_definition") or "").rsplit("/", 1)[-1]
    ran = deploy.details.get("migrations") or []
    base = [f"to_revision={target}"]
    if not ran:
        return [run_command(p, "rollback", *base)], (
            f"Preview the rollback to {target} with the command below, then run the command it prints "
            "(confirm, approver, plan hash).")
    steps = [run_command(p, "migration_reversal", f"migration={m}", same=()) for m in reversed(ran)]
    steps.append(run_command(p, "rollback", *base, "migrations_reviewed=true"))
    return steps, (f"That deploy ran migrations ({', '.join(ran)}): §7 says never roll back the task first. Reverse "
                   f"them (or confirm {deploy.details.get('previous_image_tag') or target} reads the new schema), then "
                   "roll back with migrations_reviewed=true.")


def correlate(ctx, found, verdict) -> Story:
    events = timeline(found, verdict)
    if not verdict.incident:
        return Story(events, "none", "Nothing to explain: no incident.")
    lead = timedelta(minutes=ctx.params.deploy_lead_minutes)
    symptoms = verdict.onset("errors", "tasks", "health") or verdict.onset()
    db = verdict.onset("database")
    deploys = [c for c in found.changes if c.action == "deploy" and c.outcome == "success"]
    suspect = next((d for d in reversed(deploys) if symptoms and d.at <= symptoms <= d.at + lead), None)
    db_leads = db is not None and (symptoms is None or db <= symptoms) and not (
        suspect and suspect.at <= db <= suspect.at + lead)
    if db_leads:
        return Story(events, "database", f"RDS CPU crossed at {db:%H:%M} UTC, before the errors"
                     + (f" ({symptoms:%H:%M})" if symptoms else "") + ": the database leads. Do not roll back; look "
                     "at the database (top queries, connections, recent migrations) and scale or shed load.",
                     [run_command(ctx.params, "service_status")])
    if suspect:
        minutes = int((symptoms - suspect.at).total_seconds() // 60)
        commands, how = _rollback(ctx, suspect)
        return Story(events, "deploy", f"Symptoms began {minutes} min after the {suspect.what} at {suspect.at:%H:%M} UTC "
                     f"(run {suspect.run_id}). {how}", commands, suspect, rollback_suggested=True)
    if any(s.kind == "tasks" for s in verdict.signals):
        return Story(events, "tasks", "Tasks stopped with no change before them: read the service events and the "
                     "error log (crashes, OOM), then check the service.", [run_command(ctx.params, "service_status")])
    return Story(events, "unknown", "No change in audit_log precedes the symptoms: look at the Sentry issues and "
                 "error log above.", [run_command(ctx.params, "service_status")])
