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
