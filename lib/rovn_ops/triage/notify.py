"""Telling people, once per incident (§5, §6):

- P0: a PagerDuty Events API v2 `trigger` (dedup key from the incident id, so
  PagerDuty folds repeats into one incident) and Slack, at any hour;
- P1: Slack only, and only in business hours; outside them the post is queued for
  the next business morning (recorded in audit_log; the next triage run in business
  hours delivers it);
- no incident: nothing.

Every triage of an incident appends an `incident` row to audit_log: severity, the
rule, the suspected change, and what each channel got. A re-run reads those rows
first and sends nothing a channel already received (one page per incident)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from rovn_ops.core.escape import code, markdown as md
from rovn_ops.audit import log as audit, notify as notifier
from rovn_ops.protocol import change as protocol

OPEN_INCIDENT_HOURS = 24  # an empty incident_id joins the service's incident of the last day


@dataclass
class Incident:
    id: str
    detected_at: datetime
    reused: bool          # an earlier triage opened it
    previous: list[dict]  # its earlier audit rows' details, oldest first


@dataclass
class Notice:
    incident: Incident | None
    channels: dict = field(default_factory=dict)  # channel -> {status, at, detail}
    audit_id: int | None = None

    def table(self):
        import pandas as pd

        return pd.DataFrame([{"channel": c, **v} for c, v in self.channels.items()],
                            columns=["channel", "status", "at", "detail"])

    def _repr_markdown_(self) -> str:
        if self.incident is None:
            return "Nothing posted: no incident."
        rows = "\n".join(f"| {md(c)} | {md(v['status'])} | {md(v.get('detail', ''))} |" for c, v in self.channels.items())
        return (f"Incident `{code(self.incident.id)}`" + (" (re-run: continues the open incident)" if self.incident.reused
                                                     else "") + f", audit_log row {self.audit_id}\n\n"
                f"| channel | status | detail |\n|---|---|---|\n{rows}")

    def __repr__(self) -> str:
        return self._repr_markdown_()


def _rows(conn, incident_id: str) -> list[dict]:
    cur = conn.execute("SELECT details FROM audit_log WHERE action = 'incident' AND details->>'incident_id' = %s "
                       "ORDER BY id", [incident_id])
    return [r[0] for r in cur]


def _open_incident(conn, service: str, now: datetime) -> str | None:
    row = conn.execute("SELECT details->>'incident_id' FROM audit_log WHERE action = 'incident' AND target = %s "
                       "AND occurred_at >= %s ORDER BY id DESC LIMIT 1",
                       [service, now - timedelta(hours=OPEN_INCIDENT_HOURS)]).fetchone()
    return row[0] if row else None


def incident(ctx, verdict, now: datetime | None = None) -> Incident | None:
    """The incident this triage belongs to: the parameter, else the service's open one,
    else a new id from the service and the time. None when there is no incident."""
    if not verdict.incident and not ctx.params.incident_id:
        return None
    now = now or datetime.now(timezone.utc)
    p = ctx.params
    iid = p.incident_id or _open_incident(ctx.db, p.service, now) or \
        f"INC-{now:%Y%m%d-%H%M}-{p.service}"
    previous = _rows(ctx.db, iid)
    detected = min([datetime.fromisoformat(r["detected_at"]) for r in previous if r.get("detected_at")]
                   + [verdict.onset("alarm", "errors", "tasks", "health", "database", "phi") or now, now])
    return Incident(iid, detected, bool(previous), previous)


def _already(incident: Incident, channel: str, severity: str) -> dict | None:
    """What an earlier triage of this incident delivered on `channel` at this severity
    (a P1 post does not stand for the P0 one when the incident escalates)."""
    for row in reversed(incident.previous):
        got = (row.get("notifications") or {}).get(channel) or {}
        if got.get("status") == "delivered" and row.get("severity") == severity:
            return got
    return None


def _queued(incident: Incident) -> bool:
    return any(((r.get("notifications") or {}).get("slack") or {}).get("status") == "queued" for r in incident.previous)


def _text(ctx, inc: Incident, verdict, story) -> str:
    return (f"[{ctx.env}] {verdict.severity} incident {inc.id} on {ctx.params.service}: {verdict.rule}. "
            f"Likely cause: {story.suspect}. Triage run {ctx.run_id}.")


def send(ctx, verdict, story, inc: Incident | None, hours, now: datetime | None = None) -> Notice:
    """Page and post as the severity says, skipping what this incident already got."""
    now = now or datetime.now(timezone.utc)
    notice = Notice(inc)
    if inc is None:
        return notice
    p = ctx.params
    text = _text(ctx, inc, verdict, story)
    stamp = now.isoformat(timespec="seconds")
    if verdict.severity == "P0":
        notice.channels["pagerduty"] = _once(ctx, inc, "pagerduty", "P0", stamp, lambda: notifier.pagerduty(
            protocol.webhook(ctx, "pagerduty_webhook_url"), text[:1024], source=f"{p.cluster}/{p.service}",
            severity="critical", dedup_key=f"rovn-{inc.id}", routing_key=_routing_key(ctx)))
    if verdict.severity == "P0" or (verdict.severity == "P1" and hours.is_open(now)):
        notice.channels["slack"] = _once(ctx, inc, "slack", verdict.severity, stamp, lambda: notifier.slack(
            protocol.webhook(ctx, "slack_webhook_url"), text + (" (queued overnight)" if _queued(inc) else "")))
    elif verdict.severity == "P1":
        when = hours.next_open(now)
        notice.channels["slack"] = {"status": "queued", "at": stamp, "detail": (
            f"outside business hours ({hours}): queued for {when:%Y-%m-%d %H:%M} UTC" if when
            else f"no business hours configured ({hours}): nothing posts")}
    return notice


def _once(ctx, inc: Incident, channel: str, severity: str, stamp: str, deliver) -> dict:
    done = _already(inc, channel, severity)
    if done:
        return {"status": "already delivered", "at": done.get("at", ""),
                "detail": "this incident's earlier triage delivered it; not sent again"}
    if not ctx.params.notify:
        return {"status": "not sent", "at": stamp, "detail": "notify=false"}
    d = deliver()
    return {"status": "delivered" if d.ok else "failed", "at": stamp,
            "detail": f"{d.attempts} attempt(s)" + (f": {d.detail}" if d.detail else "")}


def _routing_key(ctx):
    """The PagerDuty integration key, as a masked Secret (or "" when none is named)."""
    ref = ctx.params.pagerduty_routing_key
    if not ref:
        return ""
    from rovn_ops.safety import secret_values

    try:
        return secret_values.read(ctx.client("secretsmanager"), ref.removeprefix("secret:"))
    except Exception as e:  # noqa: BLE001 - the page still goes; PagerDuty says why it is refused
        print(f"warning: pagerduty_routing_key could not be read ({type(e).__name__})")
        return ""


def log(ctx, verdict, story, notice: Notice) -> Notice:
    """The incident row: severity, rule, suspect, detection time and what each channel got."""
    inc = notice.incident
    if inc is None:
        return notice
    change = story.change
    details = {"incident_id": inc.id, "severity": verdict.severity, "rule": verdict.rule,
               "signals": [s.rule for s in verdict.signals], "detected_at": inc.detected_at.isoformat(),
               "suspect": story.suspect, "explanation": story.explanation,
               "suspected_change": ({"audit_id": change.audit_id, "run_id": change.run_id, "what": change.what}
                                    if change else None),
               "next_commands": story.commands, "notifications": notice.channels}
    entry = audit.append(ctx.db, actor=str(ctx.operator), action="incident", target=ctx.params.service,
                         outcome=verdict.severity, run_id=ctx.run_id, details=details)
    notice.audit_id = entry.id
    return notice


def notify(ctx, verdict, story) -> Notice:
    """The incident, then the posts it still needs, then its audit_log row."""
    from rovn_ops.triage.window import BusinessHours

    p = ctx.params
    hours = BusinessHours.of(p.business_hours, p.business_days, p.time_zone)
    return log(ctx, verdict, story, send(ctx, verdict, story, incident(ctx, verdict), hours))
