"""The P0 post-mortem draft (§6: written within 24 hours, blameless): a Markdown file
from the template below, filled from triage's own findings, kept with the run's
evidence as an artifact. Every line passes the personal-data scrubber on the way out."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from rovn_ops.core import paths
from rovn_ops.safety import personal_data
from rovn_ops.core.escape import code, markdown as md

DUE_AFTER = timedelta(hours=24)

TEMPLATE = """# Post-mortem (draft): {incident_id} — {service}

*Blameless: this describes systems and decisions, not people. Draft written by incident
triage run `{run_id}`; edit it, then distribute it to the team (and, when relevant, the
affected design partners) by the due time.*

| | |
|---|---|
| Severity | {severity} |
| Detected | {detected} UTC |
| **Due** | **{due} UTC** (detection + 24 h, §6) |
| Environment | {env} |
| Service | {cluster}/{service} |

## Summary

{summary}

## Impact

{impact}

## Timeline (UTC)

{timeline}

## Detection

{detection}

## Root-cause hypotheses

{hypotheses}

## Actions

{actions}

## Evidence

- Triage run `{run_id}` (executed notebook and this draft in the evidence archive).
- audit_log row {audit_id} (`incident`).
"""


@dataclass(frozen=True)
class Draft:
    path: Path
    incident_id: str
    due: str
    text: str

    def _repr_markdown_(self) -> str:
        return (f"Post-mortem draft for `{code(self.incident_id)}`, **due {self.due} UTC**, kept with this run's "
                f"evidence (`artifacts/{code(self.path.name)}`).\n\n---\n\n{self.text}")

    def __repr__(self) -> str:
        return f"post-mortem draft {self.path.name}, due {self.due} UTC\n\n{self.text}"


def _bullets(lines) -> str:
    return "\n".join(f"- {line}" for line in lines) or "- (none found)"


def render(ctx, found, verdict, story, notice) -> str:
    p, inc = ctx.params, notice.incident
    df = found.metrics
    peak = df["error_rate_pct"].max() if "error_rate_pct" in df else float("nan")
    svc = found.service or {}
    impact = [f"Severity {md(verdict.severity)}: {md(verdict.rule)}."]
    if peak == peak:  # not NaN
        impact.append(f"Peak 5xx share in the window: {peak:.1f}% of requests.")
    if svc:
        impact.append(f"Tasks running at triage: {svc.get('runningCount')} of {svc.get('desiredCount')}.")
    if found.health is not None:
        impact.append(f"{md(found.health_source)}: {'OK' if found.health.ok else 'FAILING'}"
                      + (f" ({md(found.health.detail)})" if found.health.detail else "") + ".")
    impact.append("Affected users and design partners: to be confirmed by the incident lead.")
    first_alarm = next((t for t in found.transitions if t.new == "ALARM"), None)
    detection = [f"Detected at {inc.detected_at:%Y-%m-%d %H:%M} UTC"
                 + (f" by alarm {md(first_alarm.alarm)} ({first_alarm.at:%H:%M})" if first_alarm else " by triage")
                 + "."]
    detection += [f"Notified: {md(c)} {md(v['status'])}" + (f" ({md(v['detail'])})" if v.get("detail") else "")
                  for c, v in notice.channels.items()]
    hypotheses = [f"Likely cause ({md(story.suspect)}): {md(story.explanation)}"]
    hypotheses += [f"Sentry {md(i.kind)} issue {md(i.short_id)}: {md(i.title)} ({md(i.count)} events)"
                   for i in found.sentry_issues]
    if found.logs:
        hypotheses += [f"Error log, {c}×: {md(m)}" for m, c in found.logs.counts.most_common(3)]
    actions = [f"Mitigate: `{code(c)}`" for c in story.commands]
    actions += ["Confirm recovery: `rovn-ops run incident_triage` shows no incident, and `rovn-ops run service_status` "
                "is healthy.", "Assign an owner to each hypothesis; record what confirmed or ruled it out.",
                "Add the alarm, test or check that would have caught this earlier."]
    text = TEMPLATE.format(
        incident_id=md(inc.id), service=md(p.service), cluster=md(p.cluster), env=md(p.env), run_id=code(ctx.run_id),
        severity=md(verdict.severity), detected=f"{inc.detected_at:%Y-%m-%d %H:%M}",
        due=f"{inc.detected_at + DUE_AFTER:%Y-%m-%d %H:%M}", summary=f"{md(verdict.severity)} on {md(p.service)}: "
        f"{md(verdict.rule)}. Likely cause: {md(story.suspect)}.", impact=_bullets(impact),
        timeline=_bullets(f"{e.at:%H:%M:%S} {md(e.kind)}: {md(e.what)}" for e in story.events),
        detection=_bullets(detection), hypotheses=_bullets(hypotheses), actions=_bullets(actions),
        audit_id=notice.audit_id)
    return personal_data.redact(text)


def _directory() -> Path:
    """Beside the run's result file (headless: the runner keeps it as an artifact),
    else the evidence root's drafts/ (interactive)."""
    result = os.environ.get("ROVN_RESULT_FILE")
    d = Path(result).parent if result else paths.evidence() / "drafts"
    d.mkdir(parents=True, exist_ok=True)
    return d


def draft(ctx, found, verdict, story, notice) -> Draft | None:
    """Only a P0 gets one."""
    if verdict.severity != "P0" or notice.incident is None:
        return None
    text = render(ctx, found, verdict, story, notice)
    path = _directory() / f"postmortem-{notice.incident.id}.md"
    path.write_text(text)
    ctx.record(artifacts=[str(path)])
    due = notice.incident.detected_at + DUE_AFTER
    return Draft(path, notice.incident.id, f"{due:%Y-%m-%d %H:%M}", text)
