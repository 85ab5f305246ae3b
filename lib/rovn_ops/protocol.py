"""The protocol of every production write: preview → confirm → execute → verify → log (§10).

A `Change` walks the steps in order and refuses to skip one. Preview-only is the
default: without `confirm=True` nothing executes, and the preview prints the plan
hash and the exact command that would execute this plan.

- interactive (a person at JupyterLab): the operator types the target's name;
- headless (`rovn-ops run`): `confirm=True` and `approved_by` are required, and a
  given `plan_hash` must match today's plan, so what was reviewed is what runs.
"""
from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass, field
from datetime import datetime, timezone

from . import audit, notify
from .errors import Refused

MIN_HASH_PREFIX = 12


@dataclass(frozen=True)
class Plan:
    action: str          # e.g. "deploy"
    target: str          # what the operator must name to confirm, e.g. "rovn-passport-api"
    changes: dict        # before/after, SQL, labels: what will change, JSON-able
    summary: tuple[str, ...] = ()

    @property
    def hash(self) -> str:
        body = json.dumps({"action": self.action, "target": self.target, "changes": self.changes},
                          sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()

    def _repr_markdown_(self) -> str:
        lines = [f"**Plan: {self.action} `{self.target}`**", ""]
        lines += [f"- {s}" for s in self.summary]
        lines += ["", "```json", json.dumps(self.changes, indent=2, default=str), "```",
                  "", f"plan hash: `{self.hash}`"]
        return "\n".join(lines)


@dataclass
class Approval:
    executed: bool
    plan_hash: str
    approvers: list[str] = field(default_factory=list)
    how: str = ""
    at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())

    def __str__(self) -> str:
        if not self.executed:
            return "preview only: nothing was changed"
        return f"approved by {', '.join(self.approvers)} ({self.how}) at {self.at}"


class Change:
    """One production write, walked through the protocol's steps."""

    def __init__(self, ctx, plan: Plan):
        self.ctx, self.plan = ctx, plan
        self.approval: Approval | None = None
        self.result = None
        self.verification = None
        self.outcome: str | None = None
        self.deliveries: list[notify.Delivery] = []

    # preview ---------------------------------------------------------------
    def execute_command(self) -> str:
        from .params import environment_defaults

        p = self.ctx.params
        fields = type(p).model_fields
        baseline = {n: f.get_default(call_default_factory=True) for n, f in fields.items()}
        baseline.update({k: v for k, v in environment_defaults(p.env).items() if k in fields})
        args = ["rovn-ops", "run", self.ctx.runbook, "--env", p.env]
        for name, value in p.model_dump(exclude={"env", "confirm", "approved_by", "plan_hash"}).items():
            if value != baseline[name]:  # only what differs from what `rovn-ops run` would take
                value = ",".join(value) if isinstance(value, list) else value
                args += ["-p", f"{name}={value}"]
        args += ["-p", "confirm=true", "-p", "approved_by=<approver>", "-p", f"plan_hash={self.plan.hash}"]
        return shlex.join(args).replace("'approved_by=<approver>'", "approved_by=<approver>")

    # confirm ---------------------------------------------------------------
    def confirm(self, ask=input) -> Approval:
        p = self.ctx.params
        if not p.confirm:
            self.approval = Approval(False, self.plan.hash, how="preview only (confirm=False)")
            return self.approval
        if p.plan_hash and not _hash_matches(p.plan_hash, self.plan.hash):
            raise Refused(f"plan_hash {p.plan_hash} does not match today's plan {self.plan.hash}: "
                          "the world changed since the preview; preview again and review")
        approvers = self._approvers(ask)
        how = "headless: confirm=True with approved_by" if self.ctx.headless else \
            "interactive: operator typed the target's name"
        self.approval = Approval(True, self.plan.hash, approvers, how)
        return self.approval

    def _approvers(self, ask) -> list[str]:
        p, op = self.ctx.params, self.ctx.operator
        named = list(dict.fromkeys(a.strip() for a in p.approved_by if a.strip()))
        if any(a in (op.name, op.local_user) for a in named) and self.ctx.headless:
            raise Refused(f"approved_by names the operator ({op.name}): an approver must be someone else")
        if self.ctx.headless:
            if not named:
                raise Refused("confirm=True needs approved_by: expected the name of at least one approver")
            return named
        typed = ask(f"Type the target's name ({self.plan.target}) to {self.plan.action}: ").strip()
        if typed != self.plan.target:
            raise Refused(f"confirmation refused: typed {typed!r}, expected {self.plan.target!r}")
        return named or [op.local_user]

    # execute / verify --------------------------------------------------------
    def execute(self, fn, *args, **kwargs):
        """Run fn once approved; a preview-only run returns None and changes nothing."""
        if self.approval is None:
            raise Refused("execute before confirm: call confirm() first")
        if not self.approval.executed:
            return None
        self.result = self._logged_on_failure("execute", fn, *args, **kwargs)
        return self.result

    def verify(self, fn, *args, **kwargs):
        if self.approval is None or (self.approval.executed and self.result is None):
            raise Refused("verify before execute")
        if not self.approval.executed:
            return None
        self.verification = self._logged_on_failure("verify", fn, *args, **kwargs)
        return self.verification

    def _logged_on_failure(self, step: str, fn, *args, **kwargs):
        """A failed step is still a logged change: audit_log says so, then it raises."""
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            # An error may carry what was done before it failed (e.g. a deploy's revisions).
            self.log("failed", {"failed_step": step, "error": f"{type(e).__name__}: {e}",
                                **getattr(e, "details", {})})
            raise

    def _repr_markdown_(self) -> str:
        if self.approval is None:
            return self.plan._repr_markdown_()
        if not self.approval.executed:
            return (f"**Preview only: nothing was changed.** Plan hash `{self.plan.hash}`.\n\n"
                    f"To execute exactly this plan, headless:\n\n```sh\n{self.execute_command()}\n```\n\n"
                    "or, interactively, set `confirm = True` in the parameters cell and run all cells.")
        state = self.outcome or ("verified" if self.verification is not None else
                                 "executed" if self.result is not None else "confirmed")
        return f"**{self.plan.action} `{self.plan.target}`: {state}.** {self.approval}"

    # log -------------------------------------------------------------------
    def log(self, outcome: str, details: dict | None = None, conn=None) -> audit.Entry | None:
        """Append the audit row first, then notify; a preview-only run logs nothing."""
        self.outcome = outcome
        ctx = self.ctx
        if not self.approval or not self.approval.executed:
            ctx.record(outcome="preview", plan_hash=self.plan.hash, targets=[self.plan.target])
            return None
        ctx.record(outcome=outcome)
        entry = audit.append(conn or ctx.db, actor=str(ctx.operator), action=self.plan.action,
                             target=self.plan.target, outcome=outcome, run_id=ctx.run_id,
                             details={"plan_hash": self.plan.hash, "approvers": self.approval.approvers,
                                      "approval": self.approval.how, "changes": self.plan.changes,
                                      **(details or {})})
        ctx.record(acted_on=[{"action": self.plan.action, "target": self.plan.target, "outcome": outcome,
                              **(details or {})}])
        ctx.record(targets=[self.plan.target], approvals=[{"approvers": self.approval.approvers, "at": self.approval.at,
                               "plan_hash": self.plan.hash, "how": self.approval.how}])
        self.deliveries.append(notify.slack(
            webhook(ctx, "slack_webhook_url"),
            f"[{ctx.env}] {self.plan.action} {self.plan.target}: {outcome} "
            f"(run {ctx.run_id}, approved by {', '.join(self.approval.approvers)})"))
        return entry


def refuse(ctx, action: str, target: str, reason: str, details: dict | None = None):
    """A check refused the change before anything ran: audit_log says so, then it raises.
    A refused attempt is evidence too (who tried what, and why it was stopped)."""
    ctx.record(outcome="refused", targets=[target])
    audit.append(ctx.db, actor=str(ctx.operator), action=action, target=target, outcome="refused",
                 run_id=ctx.run_id, details={"reason": reason, **(details or {})})
    delivery = notify.slack(webhook(ctx, "slack_webhook_url"),
                            f"[{ctx.env}] {action} {target}: refused (run {ctx.run_id}): {reason}")
    raise Refused(reason + ("" if delivery.ok else f" [{delivery}]"))


def webhook(ctx, name: str) -> str:
    try:
        return ctx.webhook(name)
    except Exception as e:  # noqa: BLE001 - a notification never blocks the change it reports
        print(f"warning: {name} could not be resolved ({type(e).__name__}); not notified")
        return ""


def _hash_matches(given: str, actual: str) -> bool:
    given = given.strip().lower()
    return len(given) >= MIN_HASH_PREFIX and actual.startswith(given)
