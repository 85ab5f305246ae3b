"""One timeline of changes (audit_log), alarms, symptoms and first errors, and what
it points at:

- the errors (or the outage) began within `deploy_lead_minutes` after a deploy: that
  deploy, with the ready-made rollback command; if it ran migrations, §7's path
  instead (reverse them first, or confirm the older image reads the schema);
- the database led (RDS CPU crossed before the errors did): the database, and no
  rollback;
- audit_log itself broken (a data-integrity event): the commands that name the bad rows;
- otherwise no change explains it, and the command to look further.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rovn_ops.core.escape import markdown as md
from rovn_ops.protocol.commands import run_command
from rovn_ops.triage.changes import Change


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
    mended_by: Change | None = None    # a later change that left the service healthy: the incident is over

    @property
    def next_step(self) -> str:
        """The one thing to do next: the exact command, else what to read or work on."""
        if self.commands:
            return self.commands[0]
        return {"none": "nothing", "database": "work on the database (do not roll back)",
                "tasks": "read the service events and the error log",
                "deploy": "read the service events and the error log"}.get(
            self.suspect, "read the Sentry issues and the error log")

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
    rollback = run_command(p, "rollback", f"to_revision={target}")
    how = (f"Preview the rollback to {target} with the command below, then run the command it prints "
           "(confirm, approver, plan hash).")
    if not ran:
        return [rollback], how
    blocking = _blocking(ctx, deploy, ran)
    if not blocking:
        return [rollback], (f"That deploy ran migrations ({', '.join(ran)}), each one the older image reads "
                            f"(additive: §7's gate lets the rollback through). {how}")
    steps = [run_command(p, "migration_reversal", f"migration={m}", same=()) for m in reversed(blocking)]
    return steps + [rollback], (
        f"That deploy ran migrations ({', '.join(ran)}); {', '.join(blocking)} the older image cannot be trusted "
        "on: §7 says never roll back the task first. Reverse "
        + ("it" if len(blocking) == 1 else "them, newest first") + " (preview, then execute each), then roll back.")


def _blocking(ctx, deploy: Change, ran: list[str]) -> list[str]:
    """The deploy's migrations §7's gate would refuse the rollback over (breaking or
    unknown, and not yet reversed), oldest first; all of them if the schema cannot be read."""
    from rovn_ops.migrations import compat
    from rovn_ops.safety.params import environment_defaults
    from rovn_ops.core import paths

    try:
        directory = paths.project_path(environment_defaults(ctx.params.env).get("migrations_dir") or "")
        gate = compat.since(ctx.db, directory, deploy.at - timedelta(minutes=30))
    except Exception:  # noqa: BLE001 - unread, every migration is treated as blocking (§7)
        return list(ran)
    verdicts = {a.name: a.verdict for a in gate}
    return [m for m in ran if verdicts.get(m, compat.UNKNOWN) in (compat.BREAKING, compat.UNKNOWN)]


def _undone(found, deploy: Change) -> Change | None:
    """A later change that took the service off the deploy's revision (a rollback, or
    another deploy), if the service no longer runs that revision."""
    revision = deploy.details.get("new_task_definition")
    running = (found.service or {}).get("taskDefinition")
    if not revision or running == revision:
        return None
    return next((c for c in found.changes if c.at >= deploy.at and c.audit_id != deploy.audit_id
                 and c.outcome == "success" and c.action in ("rollback", "deploy")), None)


def _healthy(found) -> bool:
    svc = found.service or {}
    return bool(svc) and svc["runningCount"] >= svc["desiredCount"] and found.health is not None and found.health.ok


_RECOVERED = ("the service has recovered (tasks running, /health answers): the alarms clear once their "
              "periods pass; re-run triage to confirm, then write the post-mortem")


def _mended(found, since: datetime | None) -> Change | None:
    """The latest successful deploy or rollback at or after the symptoms began, if the
    service is healthy now: that change (a hotfix, a rollback) mended it."""
    if since is None or not _healthy(found):
        return None
    return next((c for c in reversed(found.changes) if c.at >= since and c.outcome == "success"
                 and c.action in ("rollback", "deploy")), None)


def correlate(ctx, found, verdict) -> Story:
    """What the timeline points at, judged against the service as it is now: a remedy is
    never recommended once a later change (a rollback, a hotfix) left the service healthy."""
    story = _story(ctx, found, verdict)
    if story.mended_by is None and story.rollback_suggested:
        fix = _mended(found, verdict.onset("errors", "tasks", "health") or verdict.onset())
        if fix is not None:
            story.explanation = (f"{story.explanation.split('. ', 1)[0]}, but the {fix.what} at {fix.at:%H:%M} UTC "
                                 f"(run {fix.run_id}) came after the symptoms began and mended it: do not roll "
                                 f"back. Now {_RECOVERED}.")
            story.commands, story.rollback_suggested, story.mended_by = [
                run_command(ctx.params, "incident_triage")], False, fix
    return story


def _story(ctx, found, verdict) -> Story:
    events = timeline(found, verdict)
    if not verdict.incident:
        return Story(events, "none", "Nothing to explain: no incident.")
    if verdict.signals[0].kind == "integrity":  # no runbook change may be judged on a record that lies
        return Story(events, "audit_log", f"{verdict.signals[0].rule}. audit_log is §7's source of truth and the "
                     "rollback's gate reads it: deploy and roll back nothing until it is settled, and write no "
                     "fix-up rows. `rovn-ops audit verify` names the first bad row; `rovn-ops evidence verify` "
                     "compares the rows with the signed checkpoints (what they said before). A database superuser "
                     "restores the append-only triggers (the 2026_04_14_audit_log_harden.sql statements); treat who "
                     "did it as a suspected security incident; post-mortem within 24 h.",
                     ["rovn-ops audit verify", "rovn-ops evidence verify"])
    if verdict.signals[0].kind == "security":  # no deploy causes it; rotating retires what was exposed
        from rovn_ops.triage.classify import exposed

        names = list(exposed(found.changes))
        return Story(events, "secret", f"{verdict.signals[0].rule}. Whoever holds that grant may have read the "
                     "value: rotate " + ("it" if len(names) == 1 else "each") + " (preview, then execute), so what "
                     "was read no longer works; then remove the grant in IAM and run secrets_audit.",
                     [run_command(ctx.params, "secret_rotation", f"secret={n}", same=()) for n in names])
    lead = timedelta(minutes=ctx.params.deploy_lead_minutes)
    symptoms = verdict.onset("errors", "tasks", "health") or verdict.onset()
    db = verdict.onset("database")
    deploys = [c for c in found.changes if c.action == "deploy" and c.outcome == "success"]
    suspect = next((d for d in reversed(deploys) if symptoms and d.at <= symptoms <= d.at + lead), None)
    db_leads = db is not None and (symptoms is None or db <= symptoms) and not (
        suspect and suspect.at <= db <= suspect.at + lead)
    # Never service_status as the next step: it points back here whenever something is wrong.
    if db_leads:
        return Story(events, "database", f"RDS CPU crossed at {db:%H:%M} UTC, before the errors"
                     + (f" ({symptoms:%H:%M})" if symptoms else "") + ": the database leads. Do not roll back; look "
                     "at the database (top queries, connections, recent migrations) and scale or shed load.")
    if suspect:
        minutes = int((symptoms - suspect.at).total_seconds() // 60)
        began = f"Symptoms began {minutes} min after the {suspect.what} at {suspect.at:%H:%M} UTC (run {suspect.run_id})."
        undone = _undone(found, suspect)
        if undone is not None:  # what happened after it: never recommend a rollback that already ran
            now = (_RECOVERED if _healthy(found) else
                   "the service is still unhealthy: the deploy was not the whole cause; read the service events "
                   "and error log above")
            return Story(events, "deploy", f"{began} Already undone: the {undone.what} at {undone.at:%H:%M} UTC "
                         f"(run {undone.run_id}); do not roll back again. Now {now}.",
                         [run_command(ctx.params, "incident_triage")] if _healthy(found) else [], suspect,
                         mended_by=undone if _healthy(found) else None)
        commands, how = _rollback(ctx, suspect)
        return Story(events, "deploy", f"{began} {how}", commands, suspect, rollback_suggested=True)
    pull = _pull_failures(found)
    if pull:
        return Story(events, "image", f"Tasks cannot start: {pull}. The running revision's image is gone from ECR; "
                     "roll back to the newest verified revision whose image is there (the rollback checks each "
                     "target's image and scan).", [run_command(ctx.params, "rollback")], rollback_suggested=True)
    if any(s.kind == "tasks" for s in verdict.signals):
        return Story(events, "tasks", "Tasks stopped with no change before them: read the service events and the "
                     "error log above (crashes, OOM).")
    return Story(events, "unknown", "No change in audit_log precedes the symptoms: look at the Sentry issues and "
                 "error log above.")


def _pull_failures(found) -> str:
    """The newest service event saying a task could not pull its image, or ""."""
    for e in (found.service or {}).get("events", [])[:20]:
        if "CannotPullContainerError" in e.get("message", ""):
            return e["message"].split(") ", 1)[-1]
    return ""
