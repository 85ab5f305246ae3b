"""The last cell: severity, cause, the next command, who was told, the draft."""
from __future__ import annotations

from dataclasses import dataclass

from ..escape import code, markdown as md


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
        head = {"P0": "### P0", "P1": "### P1", "none": "### No incident"}[v.severity]
        lines = [f"{head} on `{code(self.service)}`", "", f"- Rule: {md(v.rule)}", f"- Likely cause: **{md(s.suspect)}**. "
                 f"{md(s.explanation)}"]
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


def outcome(ctx, verdict, story, notice, draft) -> Outcome:
    inc = notice.incident
    ctx.record(outcome="success", targets=[f"{ctx.params.cluster}/{ctx.params.service}"], facts={"triage": {
        "severity": verdict.severity, "rule": verdict.rule, "suspect": story.suspect,
        "alarm_labels": list(verdict.label_notes),
        "incident_id": inc.id if inc else None, "notifications": notice.channels,
        "next_commands": story.commands,
        "postmortem": f"artifacts/{draft.path.name}" if draft else None,
        "postmortem_due": draft.due if draft else None}})
    return Outcome(ctx.run_id, ctx.params.service, verdict, story, notice, draft)
