"""What a run changed, truthfully, as the index and the run's HTML header both show it (issue 27,
finding 5: a `set_env` or `cpu` change read "image same → same", a change that rolled back read
as made, and the header said "What changed -" where the index had the revisions).

One function, `lines`, from what the run recorded: the runbook's summary (revision, image,
migrations, secrets by name), a failed deploy's facts, the plan's task-definition diff (cpu,
memory, environment variables, secret references by name only), and the final outcome:
made, rolled back, failed or refused."""
from __future__ import annotations

import re

IMAGE = re.compile(r"containerDefinitions\[[^\]]+\]\.image$")
ENV = re.compile(r"containerDefinitions\[([^\]]+)\]\.environment\[([^\]]+)\]$")
SECRET = re.compile(r"containerDefinitions\[([^\]]+)\]\.secrets\[([^\]]+)\]$")


# audit_log actions that are no change to the world: the ledger, approvals, findings
NOT_CHANGES = frozenset({"evidence", "evidence-genesis", "approve", "incident", "secrets_drift"})


def is_change(m: dict) -> bool:
    """A run is a change when it wrote to the world: an audit_log row naming it (read by the
    runner when it archived the run, `audit_rows`) of a writing action that was not refused, or
    an approved execution. A draft that writes is a change too, marked as a draft (issue 27,
    finding 1: a draft's rollback 291 → 289 was 'not a change'); its claims never approve it."""
    wrote = any(r.get("action") not in NOT_CHANGES and r.get("outcome") != "refused"
                for r in m.get("audit_rows") or [])
    return wrote or (bool(m.get("approvals")) and not m.get("draft"))


def lines(summary: dict | None, facts: dict | None, plan_changes: dict | None, outcome: str) -> list[str]:
    from rovn_ops.evidence.report import pairs

    summary = dict(summary or {})
    facts = facts or {}
    if not summary and facts.get("new_task_definition"):  # a failed deploy: what it reached
        summary = {"revision_from": (facts.get("previous_task_definition") or "").rsplit("/", 1)[-1],
                   "revision_to": facts["new_task_definition"].rsplit("/", 1)[-1],
                   "image_from": facts.get("previous_image_tag"), "image_to": facts.get("new_image_tag"),
                   "migrations": facts.get("migrations")}
    out = [f"{k}: {_same(v)}" for k, v in pairs(summary) if not k.endswith("command") and k not in ("plan", "problems")]
    out += task_definition(((plan_changes or {}).get("task_definition") or {}).get("diff") or {})
    final = result(outcome, facts)
    return out + ([final] if final and out else [])


def task_definition(diff: dict) -> list[str]:
    """The diff's lines but the image (the summary has it): cpu/memory, env, secret refs by name."""
    out = []
    for path, (before, after) in sorted(diff.items()):
        if IMAGE.search(path):
            continue
        if m := ENV.fullmatch(path):
            out.append(f"env {m.group(2)}: {_v(before)} → {_v(after)}")
        elif m := SECRET.fullmatch(path):  # a reference's ARN is not shown, its name is
            what = "added" if before is None else "removed" if after is None else "repointed"
            out.append(f"secret ref {m.group(2)}: {what}")
        else:
            out.append(f"{path}: {_v(before)} → {_v(after)}")
    return out


def result(outcome: str, facts: dict) -> str:
    """The change's final outcome, in words."""
    rollback = facts.get("rollback") or {}
    if rollback.get("done"):
        to = str(rollback.get("to") or "").rsplit("/", 1)[-1]
        return (f"outcome: rolled back to {to} (the change did not stay)" if rollback.get("ok") else
                f"outcome: failed; the rollback to {to} did not verify")
    return {"success": "outcome: made", "failed": "outcome: failed (see the notebook for how far it got)",
            "interrupted": "outcome: interrupted (a re-run finishes it)",
            "refused": "outcome: refused, nothing changed"}.get(outcome, "")


def _same(text: str) -> str:
    """`a → a` says nothing changed there: `a (unchanged)`."""
    before, sep, after = text.partition(" → ")
    return f"{before} (unchanged)" if sep and before == after else text


def _v(value) -> str:
    return "(none)" if value is None else str(value)
