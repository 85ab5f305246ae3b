"""P0, P1 or no incident (§5, §6), and the rule that decided, in words.

- P0: a customer-impacting outage (/health fails, no task running, 5xx at outage
  level), suspected PHI exposure (a log line carrying PHI-shaped data), a data-integrity
  event (audit_log's chain broken or its append-only triggers gone), or what a
  human reports: suspected PHI exposure, a suspected security incident, a
  data-integrity event. Escalate within 5 minutes; page on-call.
- P1: degraded but not down: 5xx above 1% sustained, RDS CPU above 85% sustained,
  fewer tasks than desired, an alarm in ALARM. Slack in business hours.
The most severe signal decides; every signal is listed. An alarm in ALARM carries its
own label (P0 or P1 in its description, §5: "P0 alarms wake the on-call rotation");
where it differs from the verdict, the verdict says why (`label_notes`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from rovn_ops.ecs import cloudwatch_alarms
from rovn_ops.core.escape import markdown as md
from rovn_ops.triage import metrics
from rovn_ops.triage.window import utc
from rovn_ops.core import controls

RANK = {"P0": 0, "P1": 1, "none": 2}
HUMAN_FLAGS = {
    "suspected_phi_exposure": "suspected PHI exposure",
    "suspected_security_incident": "a suspected security incident",
    "data_integrity_concern": "a data-integrity event",
}


@dataclass(frozen=True)
class Signal:
    severity: str
    kind: str        # what it is about: errors, database, tasks, health, alarm, human
    rule: str        # the rule in words
    since: datetime | None = None


@dataclass(frozen=True)
class Verdict:
    severity: str
    rule: str
    signals: tuple[Signal, ...]
    label_notes: tuple[str, ...] = ()  # an alarm's own P0/P1 that differs from the verdict, and why

    @property
    def incident(self) -> bool:
        return self.severity != "none"

    def onset(self, *kinds: str) -> datetime | None:
        times = [s.since for s in self.signals if s.since and (not kinds or s.kind in kinds)]
        return min(times) if times else None

    def table(self):
        import pandas as pd

        return pd.DataFrame([{"severity": s.severity, "signal": s.kind, "rule": s.rule,
                              "since (UTC)": s.since.strftime("%H:%M") if s.since else "-"} for s in self.signals],
                            columns=["severity", "signal", "rule", "since (UTC)"])

    def _repr_markdown_(self) -> str:
        head = {"P0": "**P0**: page on-call now, escalate within 5 minutes (§6)",
                "P1": "**P1**: degraded, not down; ack within 15 minutes in business hours (§6)",
                "none": "**No incident**"}[self.severity]
        lines = [head, "", f"Decided by: {md(self.rule)}"]
        if len(self.signals) > 1:
            lines += ["", "Also seen:"] + [f"- {md(s.severity)}: {md(s.rule)}" for s in self.signals[1:]]
        if self.label_notes:
            lines += ["", "Alarm labels:"] + [f"- {md(n)}" for n in self.label_notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"{self.severity}: {self.rule}"


def _threshold(df, column: str, above: float, minutes: int):
    runs = metrics.sustained(df[column] > above, minutes) if column in df else []
    return runs[0] if runs else None


def signals(p, found) -> list[Signal]:
    out = [Signal("P0", "human", f"a human reported {words} (§6: P0)")
           for flag, words in HUMAN_FLAGS.items() if getattr(p, flag)]
    out += [Signal("P0", "integrity", f"data-integrity event: {problem} (§6: P0)", found.gathered_at)
            for problem in getattr(found, "integrity", [])]
    df, n = found.metrics, p.sustained_minutes
    phi = getattr(found.logs, "phi_lines", 0)
    if phi:
        kinds = ", ".join(sorted(found.logs.phi))
        out.append(Signal("P0", "phi", f"suspected PHI exposure: {phi} log line(s) in {found.logs.group} carry "
                                       f"PHI-shaped data ({kinds}); §5 scrubs PHI before write (§6: P0)",
                          found.logs.phi_first))
    out += _security(found.changes)
    if found.health is not None and not found.health.ok:
        out.append(Signal("P0", "health", f"customer-impacting outage: {found.health_source} fails "
                                          f"({found.health.detail or found.health.status})", found.gathered_at))
    svc = found.service
    if svc and svc["desiredCount"] > 0 and svc["runningCount"] == 0:
        out.append(Signal("P0", "tasks", f"customer-impacting outage: 0 of {svc['desiredCount']} tasks running",
                          _tasks_onset(df, 0)))
    elif svc and svc["runningCount"] < svc["desiredCount"]:
        out.append(Signal("P1", "tasks", f"degraded: {svc['runningCount']} of {svc['desiredCount']} tasks running "
                                         "(§5: ECS running tasks < desired)", _tasks_onset(df, svc["runningCount"])))
    outage = _threshold(df, "error_rate_pct", p.outage_error_rate_pct, n)
    errors = _threshold(df, "error_rate_pct", p.error_rate_pct, n)
    if outage:
        out.append(Signal("P0", "errors", f"customer-impacting outage: 5xx above {p.outage_error_rate_pct:g}% of "
                                          f"requests for {outage[2]} minutes", outage[0].to_pydatetime()))
    elif errors:
        peak = df.loc[errors[0]:errors[1], "error_rate_pct"].max()
        out.append(Signal("P1", "errors", f"degraded: 5xx above {p.error_rate_pct:g}% of requests for {errors[2]} "
                                          f"minutes (peak {peak:.1f}%; §5: 5xx > 1% / 5 min)",
                          errors[0].to_pydatetime()))
    cpu = _threshold(df, "rds_cpu_pct", p.rds_cpu_pct, n)
    if cpu:
        peak = df.loc[cpu[0]:cpu[1], "rds_cpu_pct"].max()
        out.append(Signal("P1", "database", f"degraded: RDS CPU above {p.rds_cpu_pct:g}% for {cpu[2]} minutes "
                                            f"(peak {peak:.0f}%; §5: RDS CPU > 85% sustained)", cpu[0].to_pydatetime()))
    covered = {s.kind for s in out}
    for a in found.alarms:
        if "AlarmRule" in a:
            continue  # a composite aggregates alarms read here one by one; it adds no signal of its own
        if a["StateValue"] == "ALARM" and _alarm_kind(a) not in covered:
            out.append(Signal("P1", _alarm_kind(a), f"alarm {a['AlarmName']} is in ALARM: {a.get('StateReason', '')}",
                              utc(a["StateUpdatedTimestamp"])))
    return sorted(out, key=lambda s: (RANK[s.severity], s.since is None, s.since or found.gathered_at))


def exposed(changes) -> dict[str, object]:
    """Secrets a principal off §8's allow-list can read (secrets_audit's `secrets_drift`
    rows), each with the row that found it, unless a successful rotation of that secret
    came after: then the value it could read is retired."""
    out = {}
    for c in changes:
        if c.action == "secrets_drift":
            out.update({s: c for s in c.details.get("secrets") or []})
        elif c.action == "secret_rotation" and c.outcome == "success" and c.target in out and out[c.target].at <= c.at:
            del out[c.target]
    return out


def _security(changes) -> list[Signal]:
    return [Signal("P0", "security", f"suspected security incident: {c.target} can read {name}, not on §8's "
                                     f"allow-list (secrets_audit, audit_log {c.audit_id}; §6: P0)", c.at)
            for name, c in exposed(changes).items()]


def _tasks_onset(df, running: float):
    below = df["ecs_running"] <= running if "ecs_running" in df else None
    if below is None or not below.any():
        return None
    # the start of the last run of minutes at or below today's count
    runs = metrics.sustained(below, 1)
    return runs[-1][0].to_pydatetime() if runs else None


def _alarm_kind(alarm: dict) -> str:
    """By the namespace of the alarm's metrics (a metric-math alarm has them in its
    Metrics, not at the top); an alarm over several namespaces, or none, is "alarm"."""
    kinds = {"AWS/ApplicationELB": "errors", "AWS/RDS": "database", "ECS/ContainerInsights": "tasks"}
    found = {kinds.get(ns, "alarm") for ns in cloudwatch_alarms.of(alarm).namespaces}
    return found.pop() if len(found) == 1 else "alarm"


_LABEL = re.compile(r"\b(P[01])\b", re.ASCII)


def alarm_label(alarm: dict) -> str | None:
    """The severity an alarm names for itself in its description ("… (P0)")."""
    m = _LABEL.search(alarm.get("AlarmDescription") or "")
    return m.group(1) if m else None


def label_notes(found, severity: str, found_signals: list[Signal]) -> tuple[str, ...]:
    """Each alarm in ALARM whose own label differs from the verdict, with the reason."""
    notes = []
    for a in found.alarms:
        label = alarm_label(a)
        if a["StateValue"] != "ALARM" or label is None or label == severity:
            continue
        own = [s for s in found_signals if s.kind == _alarm_kind(a)]
        if RANK[label] < RANK[severity]:  # the alarm says worse than triage finds
            reading = own[0].rule if own else "no signal of its kind crossed triage's threshold"
            notes.append(f"alarm {a['AlarmName']} is labelled {label} (it pages on-call itself) but triage finds "
                         f"{severity}: {reading}. Check the alarm's threshold against §6 before standing down.")
        else:  # triage finds worse than the alarm's label
            top = found_signals[0].rule if found_signals else ""
            notes.append(f"alarm {a['AlarmName']} is labelled {label} but triage finds {severity}: {top}")
    return tuple(notes)


@controls.enforces('§5/§6 severity')
def classify(p, found) -> Verdict:
    found_signals = signals(p, found)
    if not found_signals:
        return Verdict("none", "no signal crossed a §5 threshold, every alarm is OK, /health answers, and no "
                               "human flag is set", ())
    top = found_signals[0]
    return Verdict(top.severity, top.rule, tuple(found_signals), label_notes(found, top.severity, found_signals))
