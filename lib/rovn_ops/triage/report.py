"""The last cell: severity, cause, the next command, who was told, the draft."""
from __future__ import annotations

from dataclasses import dataclass

from rovn_ops.core.escape import code, markdown as md
from rovn_ops.triage import traces


@dataclass
class Outcome:
    run_id: str
    service: str
    verdict: object
    story: object
    notice: object
    draft: object

    def _repr_markdown_(self) -> str:
        v, s, n = self.verdict, self.story, self.notice
        lines = [f"### {md(line(v, s))}", "", f"Service `{code(self.service)}`", "", f"- Rule: {md(v.rule)}",
                 f"- Likely cause: **{md(s.suspect)}**. {md(s.explanation)}"]
        if n.incident:
            lines.append(f"- Incident `{code(n.incident.id)}`: " + ", ".join(
                f"{md(c)} {md(x['status'])}" for c, x in n.channels.items()) + f" (audit_log {n.audit_id})")
        if self.draft:
            lines.append(f"- Post-mortem draft: `artifacts/{self.draft.path.name}`, due **{self.draft.due} UTC**")
        if s.commands:
            lines += ["", "Next:", "", "```sh", *s.commands, "```"]
        elif not v.incident:
            lines += ["", "Next: nothing; re-run triage if the symptoms come back."]
        lines += ["", f"run id: `{self.run_id}`"]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self._repr_markdown_()


def brief(rule: str) -> str:
    """A signal's rule, short enough for one line: `customer-impacting outage: 0 of 3 tasks
    running` → `0 of 3 tasks running`; parentheses and an alarm's reason dropped."""
    text = rule.split(" (", 1)[0]
    for prefix in ("customer-impacting outage: ", "degraded: "):
        text = text.removeprefix(prefix)
    return text.split(" is in ALARM", 1)[0] + " in ALARM" if " is in ALARM" in text else text


def line(verdict, story) -> str:
    """The verdict in one line, e.g. `P0 · 0 of 3 tasks running · next: rovn-ops run rollback …`."""
    head = "No incident" if verdict.severity == "none" else verdict.severity
    fix = getattr(story, "mended_by", None)
    what = [f"mended by the {fix.what} at {fix.at:%H:%M} UTC", f"was: {brief(verdict.rule)}"] if fix else (
        [brief(verdict.rule)] if verdict.incident else [])
    return " · ".join([head, *what, f"next: {story.next_step}"])


@dataclass(frozen=True)
class Headline:
    text: str

    def _repr_markdown_(self) -> str:
        return f"### {md(self.text)}"

    def __repr__(self) -> str:
        return self.text


def announce(ctx, verdict, story) -> Headline:
    """The verdict the moment it is known, before the charts, the evidence tables, the
    notifications and the archive: recorded for `rovn-ops run`, which prints it on stdout
    (and as --json's first member) at once (run/early.py)."""
    text = line(verdict, story)
    ctx.record(verdict={"headline": text, "severity": verdict.severity,
                        "next_command": story.commands[0] if story.commands else None})
    return Headline(text)


def outcome(ctx, verdict, story, notice, draft, found=None) -> Outcome:
    inc = notice.incident
    # P0 and P1 need someone: outcome `attention`, exit code 4 (a script, a CI job, sees it).
    ctx.record(outcome="attention" if verdict.incident else "success",
               summary={"headline": line(verdict, story), "severity": verdict.severity, "rule": verdict.rule,
                        "cause": story.suspect, "explanation": story.explanation,
                        "next_command": story.commands[0] if story.commands else None,
                        "then": story.commands[1:], "incident_id": inc.id if inc else None,
                        "mended_by": story.mended_by.what if story.mended_by else None},
               targets=[f"{ctx.params.cluster}/{ctx.params.service}"], facts={"triage": {
        "severity": verdict.severity, "rule": verdict.rule, "suspect": story.suspect,
        "alarm_labels": list(verdict.label_notes),
        "incident_id": inc.id if inc else None, "notifications": notice.channels,
        "next_commands": story.commands,
        "postmortem": f"artifacts/{draft.path.name}" if draft else None,
        "postmortem_due": draft.due if draft else None,
        # §5 X-Ray: faults and errors by URL path, /admin/* and /audit/* first
        "xray": traces.facts(found.trace_table()) if found is not None else None}})
    return Outcome(ctx.run_id, ctx.params.service, verdict, story, notice, draft)
