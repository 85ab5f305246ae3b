"""What `rovn-ops run` says when a run ends: a few lines on stdout for a person, one
JSON object for a script (`--json`), and the step summary under GitHub Actions.

All three come from the run's manifest: its outcome, plan hash and error, and the
`summary` fields the runbook recorded (e.g. a deploy's revisions, image tag, build
and rollback command), so the terminal, the CI page and the archive agree."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# What to do next when the runbook's own message does not say.
NEXT_BY_OUTCOME = {
    "failed": "read the run's notebook (below), then check the service: rovn-ops run service_status",
    "interrupted": "run the same command again: a re-run finds what was done and finishes the job",
    "refused": "fix what the refusal names, then preview again",
    "attention": "open RUNBOOK.md for the matching runbook and page if P0 (§6)",
}


@dataclass
class Report:
    run_id: str
    runbook: str
    outcome: str
    exit_code: int
    plan_hash: str | None
    notebook: Path
    html: Path | None
    summary: dict
    confirm_command: str | None
    reason: str
    next_step: str

    @classmethod
    def of(cls, manifest: dict, exit_code: int, directory: Path, notebook: Path) -> "Report":
        summary = dict(manifest.get("summary") or {})
        reason, next_step = split_next(manifest.get("error") or "")
        if manifest.get("outcome") == "attention" and not reason:
            reason = summary.get("rule") or "; ".join(summary.get("problems") or []) or "the verdict needs attention"
        html = next((directory / f["path"] for f in manifest.get("files", []) if f["kind"] == "html"), None)
        approved = next((a.get("plan_hash") for a in manifest.get("approvals", [])), None)
        return cls(run_id=manifest["run_id"], runbook=manifest.get("runbook", ""), outcome=manifest["outcome"],
                   exit_code=exit_code, plan_hash=manifest.get("plan_hash") or approved, notebook=notebook, html=html,
                   summary=summary, confirm_command=manifest.get("confirm_command"), reason=reason,
                   next_step=next_step or summary.get("next_command") or summary.get("triage_command")
                   or summary.get("next_step")
                   or NEXT_BY_OUTCOME.get(manifest["outcome"], ""))

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def headline(self) -> str:
        """A runbook's verdict in one line (triage: `P0 · 0 of 3 tasks running · next: …`), or ""."""
        return str(self.summary.get("headline") or "")

    def lines(self) -> list[str]:
        """The human summary, between the `run …` line and the `evidence:` line, for a
        terminal: a value's control characters and ANSI sequences shown, never obeyed; a
        runbook's one-line verdict (its `headline`) comes first."""
        from rovn_ops.core.escape import terminal

        return [terminal(line) for line in self._lines()]

    def _lines(self) -> list[str]:
        rest = {k: v for k, v in self.summary.items() if k != "headline"}
        head = [self.headline] if self.headline else []
        if self.outcome == "preview":
            out = [f"preview only: nothing was changed. plan hash {self.plan_hash}"]
            if self.confirm_command:
                out += ["to execute exactly this plan (name the approvers):", f"  {self.confirm_command}"]
            return head + out + summary_lines(rest)
        if self.ok:
            return head + summary_lines(rest)
        return head + [f"reason: {self.reason}", f"next: {self.next_step}"] + summary_lines(rest)

    def as_dict(self) -> dict:
        return {"run_id": self.run_id, "runbook": self.runbook, "outcome": self.outcome,
                "exit_code": self.exit_code, "plan_hash": self.plan_hash,
                "confirm_command": self.confirm_command, "evidence": str(self.notebook.parent),
                "notebook": str(self.notebook), "html": str(self.html) if self.html else None,
                "error": self.reason or None, "next_step": None if self.ok else self.next_step,
                "next": self.next, "summary": self.summary}

    @property
    def next(self) -> str | None:
        """The one thing to do now (`--json`'s `next`): a preview's command that executes its
        plan, a failure's or refusal's next step, nothing after a success."""
        if self.outcome == "preview":
            return self.confirm_command
        return None if self.ok else self.next_step or None

    def markdown(self) -> str:
        """The GitHub Actions step summary (GitHub-flavoured Markdown)."""
        from rovn_ops.core.escape import code, markdown as md

        head = (f"### {md(self.runbook)}: {md(self.headline or self.outcome)}"
                + ("" if self.ok else f" (exit {self.exit_code})"))
        def span(v) -> str:  # a code span in a table cell: its pipes escaped too (GFM)
            return "`" + code(v).replace("|", "\\|") + "`"

        rows = [("run id", span(self.run_id))]
        rows += [("plan hash", span(self.plan_hash))] if self.plan_hash else []
        rows += [(md(k), span(v)) for k, v in pairs(self.summary) if k != "headline"]
        rows += [("reason", md(self.reason)), ("next", md(self.next_step))] if not self.ok else []
        rows += [("evidence", span(self.notebook))]
        table = "\n".join(f"| {k} | {v} |" for k, v in rows)
        extra = f"\n\nTo execute exactly this plan:\n\n```sh\n{self.confirm_command}\n```" \
            if self.outcome == "preview" and self.confirm_command else ""
        return f"{head}\n\n| | |\n|---|---|\n{table}{extra}\n"


def split_next(error: str) -> tuple[str, str]:
    """`deploy FAILED: … Next: roll back by hand: …` → (reason, next step), each one line."""
    first = " ".join(error.split("\n", 1)[0].split())
    # the kernel's `Refused: …`: the outcome already says what kind, the operator reads the why
    first = re.sub(r"^(Refused|BadInput|RovnError|EnvironmentGuard): ", "", first)
    reason, sep, nxt = first.partition(" Next: ")
    return reason.strip(), nxt.strip() if sep else ""


def pairs(summary: dict) -> list[tuple[str, str]]:
    """Summary fields as (label, text): NAME_from and NAME_to become one `from → to` row."""
    out, done = [], set()
    for key, value in summary.items():
        if key in done or key == "next_step" or value in (None, "", []):  # the `next:` line says it
            continue
        stem = key.removesuffix("_from")
        if key.endswith("_from") and f"{stem}_to" in summary:
            out.append((stem.replace("_", " "), f"{value} → {summary[f'{stem}_to']}"))
            done.add(f"{stem}_to")
            continue
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        out.append((key.replace("_", " "), text))
    return out


def summary_lines(summary: dict) -> list[str]:
    out = []
    for label, text in pairs(summary):
        value = summary.get(label.replace(" ", "_"))
        if isinstance(value, list) and any(len(str(v)) > 40 for v in value):  # e.g. a plan's lines
            out += [f"{label}:"] + [f"  {v}" for v in value]
        else:
            out.append(f"{label}: {text}")
    return out


def github(report: Report) -> None:
    """GitHub Actions: a failure as an `::error::` annotation (on stderr, which Actions
    reads like stdout; stdout stays the summary or the JSON), and the summary appended
    to the job's step summary file."""
    import os
    import sys

    if not report.ok:
        message = f"{report.reason} Next: {report.next_step}".strip()
        print(f"::error title={escape(f'{report.runbook} {report.outcome}', True)}::{escape(message)}",
              file=sys.stderr, flush=True)
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(report.markdown() + "\n")


def escape(text: str, prop: bool = False) -> str:
    """A workflow command's data (and, for properties, `:` and `,` too)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text
