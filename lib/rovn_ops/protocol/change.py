"""The protocol of every production write: preview → confirm → execute → verify → log (§10).

A `Change` walks the steps in order and refuses to skip one. Preview-only is the
default: without `confirm=True` nothing executes, and the preview prints the plan
hash and the exact command that would execute this plan.

The API a writing runbook uses (deploy, rollback, migration_reversal, secret rotation):

    authorize(ctx, action, target)      # §10, first: the operator is on the committed
                                        # deployers list; a `deployers` parameter is refused
    plan = Plan(action, target, changes, summary, approvals_needed=2, approvals_why="PHI (§3)")
    change = Change(ctx, plan)
    change.confirm()                    # preview only, or a bound approval (below)
    change.execute(steps.execute, prepared, ...)   # re-derives the plan first (below); a failure
                                        # (or SIGINT) is logged, then re-raised
    change.verify(fn, ..., details=f)   # on success *this* step writes the success row
    refuse(ctx, action, target, why)    # a gate said no before anything changed

Confirm binds a yes to one plan, in both modes alike:
- `plan_hash` is required: the hash (or a 12+ character prefix) a preview of the same
  plan printed; a plan that changed since is refused;
- `approved_by` names approvers from `approvers` in parameters/<env>.yaml (see
  authorization.py), compared case-insensitively; none may be the operator, compared
  by normalized STS identity; `plan.approvals_needed` distinct ones (two for PHI, §3);
- interactive (JupyterLab) also asks the operator to type the target's name.
A refused confirm is logged (`refused` in audit_log) and raises `Refused`; the run is
archived with outcome `refused` (exit code 3), distinct from `failed` mid-change; a refusal
at execute (a stale or spent approval) is a `StaleApproval`, exit 2, naming `confirm`; so is a
plan hash that already executed, refused first thing (`refuse_spent`, called by begin) and
again at confirm, naming the run that executed it and when.

Execute binds the approval to what executes, in every mode (a JupyterLab user can re-run
any cell, skip one, or edit the parameters cell between them):
- the plan is re-derived from the live state and the run's parameters (the owner of `fn`,
  a runbook's Steps, has `replan()`; or `Change(..., replan=)`), and so is every plan
  handed to `fn` (a `prepared` from a re-run cell): each must hash to the approved one;
- interactively, the parameters the kernel holds must still be those begin() validated;
- an approval is used once: a Change executes once (a re-run after an interrupt resumes,
  the steps being idempotent), and a plan hash with a final (success/failed) audit row
  never executes again. The hash covers the id of the last final row of the same action
  on the same target (`Plan.after`), so a fresh preview after a change gets a new hash
  while a re-run after a crash (no final row) computes the very hash that was approved.
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from rovn_ops.core.escape import code, markdown as md
from rovn_ops.audit import log as audit, notify
from rovn_ops.core import plaintext
from rovn_ops.protocol.authorization import Lists, committed
from rovn_ops.core.errors import Refused, StaleApproval
from rovn_ops.core import controls

MIN_HASH_PREFIX = 12
UNBOUND = frozenset({"confirm", "approved_by", "plan_hash"})  # the confirmation, not the plan


def bound_parameters(params) -> dict:
    """What an approval binds: every parameter of the run except the confirmation itself."""
    return params.model_dump(mode="json", exclude=set(UNBOUND))


@dataclass(frozen=True)
class Plan:
    action: str          # e.g. "deploy"
    target: str          # what the operator must name to confirm, e.g. "rovn-passport-api"
    changes: dict        # before/after, SQL, labels: what will change, JSON-able
    summary: tuple[str, ...] = ()
    approvals_needed: int = 1   # distinct approvers other than the operator (PHI, overrides: 2)
    approvals_why: str = ""
    # PHI (§3): its approvals count only as signed approval records (`rovn-ops approve`),
    # in every environment; `approved_by=` then names who must be among them, never a claim
    signed_only: bool = False
    # approvers who already are the change's other engineer (a PHI reversal's GitHub
    # reviewer, by github_logins): never its approver as well
    reviewed_by: tuple[str, ...] = ()
    parameters: dict = field(default_factory=dict)  # the run's bound parameters (see bind)
    after: int | None = None  # the last final audit row of this action on this target (see Change)
    lock: str = ""  # what one change at a time is about (change_lock.service(...)); not in the hash

    def bind(self, params, after: int | None = None) -> "Plan":
        """This plan with the run's parameters in its hash: every one but the confirmation
        itself, so an approved hash cannot run with another health_url, bake, deadline or
        auto_rollback. Change binds every plan it walks; binding twice gives the same hash."""
        return replace(self, parameters=bound_parameters(params), after=self.after if after is None else after)

    @property
    def hash(self) -> str:
        body = json.dumps({"action": self.action, "target": self.target, "changes": self.changes,
                           "parameters": self.parameters, "after": self.after}, sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()

    @property
    def why(self) -> dict:
        """The change's ticket and reason (issue 27, build 2), as the run's parameters give them."""
        return {k: self.parameters.get(k) or "" for k in ("ticket", "reason")}

    def _why_lines(self) -> list[str]:
        w = self.why
        return [f"ticket: {w['ticket'] or '(none)'} · reason: {w['reason'] or '(none)'}"] \
            if "ticket" in self.parameters else []

    def _repr_markdown_(self) -> str:
        lines = [f"**Plan: {md(self.action)} `{code(self.target)}`**", ""]
        lines += [f"- {md(s)}" for s in self._why_lines()]
        lines += [f"- {md(s)}" for s in self.summary]
        if self.approvals_needed > 1:
            lines += [f"- needs {self.approvals_needed} approvers other than the operator: {self.approvals_why}"]
        lines += ["", "```json", json.dumps(self.changes, indent=2, default=str), "```",
                  "", f"plan hash: `{self.hash}`"]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return "\n".join([f"Plan: {self.action} {self.target}", *(f"- {s}" for s in self._why_lines()),
                          *(f"- {s}" for s in self.summary),
                          f"plan hash: {self.hash}"])


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

    __repr__ = __str__


class Change:
    """One production write, walked through the protocol's steps."""

    def __init__(self, ctx, plan: Plan, replan=None):
        self.ctx, self.replan = ctx, replan
        self.plan = self._bound(plan)
        self.spent = False  # this approval executed (or failed): it never executes again
        self.lock = None    # change_lock.ChangeLock, held from execute to the final log
        self.approval: Approval | None = None
        self.records: list[dict] = []  # the approval records confirm counted (approval_records.py)
        self.result = None
        self.verification = None
        self.outcome: str | None = None
        self.entry: audit.Entry | None = None
        self.deliveries: list[notify.Delivery] = []

    def _bound(self, plan: Plan) -> Plan:
        return plan.bind(self.ctx.params, after=last_final(self.ctx.db, plan.action, plan.target))

    # preview ---------------------------------------------------------------
    def execute_command(self) -> str:
        from rovn_ops.safety.params import environment_defaults

        p = self.ctx.params
        fields = type(p).model_fields
        baseline = {n: f.get_default(call_default_factory=True) for n, f in fields.items()}
        baseline.update({k: v for k, v in environment_defaults(p.env).items() if k in fields})
        args = ["rovn-ops", "run", self.ctx.runbook, "--env", p.env]
        for name, value in p.model_dump(exclude={"env", "deployers", *UNBOUND}).items():
            if value != baseline[name]:  # only what differs from what `rovn-ops run` would take
                value = ",".join(value) if isinstance(value, list) else value
                args += ["-p", f"{name}={value}"]
        who = ",".join(["<approver>"] * self.plan.approvals_needed)
        args += ["-p", "confirm=true", "-p", f"approved_by={who}", "-p", f"plan_hash={self.plan.hash}"]
        return shlex.join(args).replace(f"'approved_by={who}'", f"approved_by={who}")

    # confirm ---------------------------------------------------------------
    @controls.enforces('§10 protocol')
    def confirm(self, ask=input) -> Approval:
        p = self.ctx.params
        if not p.confirm:
            self.approval = Approval(False, self.plan.hash, how="preview only (confirm=False)")
            # The manifest's plan hash is what `-p plan_hash=` must match; the outcome
            # `preview` is recorded by finish(), in the last cell.
            self.ctx.record(plan_hash=self.plan.hash, targets=[self.plan.target])
            return self.approval
        try:
            approvers = self._approvers(ask)
        except Refused as e:  # kept as its kind: a spent plan hash is a StaleApproval (exit 2)
            refuse(self.ctx, self.plan.action, self.plan.target, str(e), {"plan_hash": self.plan.hash},
                   error=type(e))
        how = ("headless" if self.ctx.headless else "interactive: the operator typed the target's name") + \
            f"; plan {self.plan.hash[:12]} previewed and approved by {', '.join(approvers)}" + \
            (f" (approval records {', '.join(str(r['id']) for r in self.records)}, each signed by the approver's "
             "own registered key)" if self.records else " (named by the operator: sandbox only)")
        self.approval = Approval(True, self.plan.hash, approvers, how,
                                 **({"at": self.records[-1]["at"]} if self.records else {}))
        self._record_approval()
        return self.approval

    def _record_approval(self) -> None:
        """What was approved, in the run's record the moment it is approved, before execute
        writes anything: a run killed mid-execute is recovered as the approved change it was
        (its approvals, plan hash, target and diff), never as a run with no approval."""
        self.ctx.record(plan_hash=self.plan.hash, targets=[self.plan.target], plan_changes=self.plan.changes,
                        approvals=[{"approvers": self.approval.approvers, "at": self.approval.at,
                                    "plan_hash": self.plan.hash, "how": self.approval.how,
                                    # whole, signature included: the evidence alone proves who approved
                                    "records": [{k: v for k, v in r.items() if k != "actor"} for r in self.records]}])

    def _approvers(self, ask) -> list[str]:
        p, op = self.ctx.params, self.ctx.operator
        # A refusal never prints today's hash: copied from an error, it would skip the review.
        if self.ctx.mode == "papermill":  # bare papermill: no one to type the name, no stdin to ask on
            raise Refused(f"no one can confirm in this kernel (no stdin: bare papermill?): preview with "
                          f"`rovn-ops run {self.ctx.runbook}`, review, then run it with -p confirm=true "
                          "-p approved_by=<approver> -p plan_hash=<the preview's hash>")
        if os.environ.get("ROVN_DRAFT") == "1":  # the runner's (a notebook not the committed runbook) or the recorder's
            raise Refused(f"this notebook is a draft, not the committed runbooks/{self.ctx.runbook}.ipynb: an approval "
                          "is spent only by reviewed code. Next: run the committed runbook with the same parameters "
                          f"(rovn-ops run {self.ctx.runbook} … -p confirm=true -p plan_hash=…)")
        if not p.plan_hash:
            raise Refused(f"confirm=True needs plan_hash: run the preview (`rovn-ops run {self.ctx.runbook}` "
                          "with the same parameters, without confirm), review the plan it prints, then confirm "
                          f"with the plan hash it shows. Next: preview: rovn-ops run {self.ctx.runbook}")
        spent = executed(self.ctx.db, self.plan.action, p.plan_hash.strip().lower())
        if spent:  # before the comparison: a spent hash never matches today's plan (Plan.after moved)
            raise StaleApproval(spent_reason(self.ctx, spent))
        if not _hash_matches(p.plan_hash, self.plan.hash):
            raise Refused(f"plan_hash {p.plan_hash} does not match today's plan: the world or a parameter "
                          "changed since the preview. Next: preview again with the same parameters, review the "
                          "new plan, then confirm with its hash")
        lists = Lists.of(self.ctx.env)  # from the protected branch, never a local commit
        self.ctx.record(environment_file={**committed(self.ctx.env), "lists_from": lists.source})
        approvers = self._approved_by(lists)
        if not self.ctx.headless:
            typed = ask(f"Type the target's name ({self.plan.target}) to {self.plan.action}: ").strip()
            if typed != self.plan.target:
                raise Refused(f"confirmation refused: typed {typed!r}, expected {self.plan.target!r}")
        return approvers

    def _approved_by(self, lists) -> list[str]:
        """Who approved: the approval records of this exact plan (`rovn-ops approve`, each the
        approver's own act, approval_records.py), never the operator. `approved_by=` names
        people instead only in the sandbox and never for PHI (a claim, recorded as such), or,
        where a two-person rule needs two (§3 PHI), names who must be among the records."""
        from rovn_ops.protocol import approval_records, approver_reach

        p, op, plan = self.ctx.params, self.ctx.operator, self.plan
        named = [a for a in (p.approved_by or []) if a.strip()]
        if named:
            names = lists.approvers_for(named, op.arn, plan.approvals_needed, plan.approvals_why,
                                        local_user=op.local_user)
            if self.ctx.env != "prod" and not plan.signed_only:  # the sandbox's old path: a named claim, not an act
                self.records = []
                return self._not_reviewers(names)
            if self.ctx.env == "prod" and plan.approvals_needed < 2:
                raise Refused("approved_by: a parameter naming a person is not an approval in prod: the approver runs "
                              f"`rovn-ops approve {plan.hash} --env prod` under their own credentials; then run the "
                              "same command without approved_by")
        iam = self.ctx.client("iam")
        approver_reach.check(iam, op.arn, lists)  # no one approves for an operator who can be them
        self.records = approval_records.approvers_from_records(self.ctx.db, lists, plan.hash, op.arn,
                                                               plan.approvals_needed, plan.approvals_why,
                                                               local_user=op.local_user, iam=iam,
                                                               ticket=plan.why["ticket"])
        have = [r["approver"] for r in self.records]
        missing = [n for n in (named and names) if n not in have]
        if missing:
            raise Refused(f"approved_by: {', '.join(missing)} has no approval record for plan {plan.hash[:12]}: "
                          f"each named approver runs `rovn-ops approve {plan.hash}` under their own credentials"
                          + (" (PHI, §3: a named approver is never a claim, in any environment)"
                             if plan.signed_only else ""))
        self.records = [r for r in self.records if r["approver"] not in plan.reviewed_by]
        return self._not_reviewers(have)

    def _not_reviewers(self, names: list[str]) -> list[str]:
        """The approvers, none of them the change's other engineer already (§3: two people)."""
        plan = self.plan
        both = [n for n in names if n in plan.reviewed_by]
        if both and len(names) - len(both) < plan.approvals_needed:
            raise Refused(f"approved_by: {', '.join(both)} already reviewed this change on GitHub (the second "
                          f"engineer, §3): the approver must be someone else, and not the operator. Next: "
                          f"another approver runs `rovn-ops approve {plan.hash}`, then run the same command")
        return [n for n in names if n not in plan.reviewed_by]

    # execute / verify --------------------------------------------------------
    def execute(self, fn, *args, **kwargs):
        """Run fn once approved; a preview-only run returns None and changes nothing."""
        if self.approval is None:
            raise Refused("execute before confirm: call confirm() first")
        if not self.approval.executed:
            return None
        if _stop_requested():  # interrupted between cells: nothing has changed yet
            raise KeyboardInterrupt("interrupted before execute")
        self._take_lock()  # first: the plan is re-derived under it, so no other change slips in between
        why = self._unapproved(fn, args)
        if why:
            self._release()
            refuse(self.ctx, self.plan.action, self.plan.target,
                   f"confirm: expected plan {self.approval.plan_hash[:12]} (the approved one) to execute, but {why}",
                   {"plan_hash": self.approval.plan_hash}, error=StaleApproval)
        try:
            self.result = self._logged_on_failure("execute", fn, *args, **kwargs)
        except KeyboardInterrupt:
            raise  # not spent: a re-run resumes the change (each runbook's execute is idempotent)
        except BaseException:
            self.spent = True
            raise
        self.spent = True
        return self.result

    def _take_lock(self) -> None:
        from rovn_ops.protocol.lock import ChangeLock

        if not self.plan.lock or (self.lock is not None and self.lock.held):
            return
        op = self.ctx.operator
        try:
            self.lock = ChangeLock.take(self.plan.lock, self.ctx.run_id, f"{op.name} ({op.local_user})")
        except Refused as e:
            refuse(self.ctx, self.plan.action, self.plan.target, str(e), {"plan_hash": self.approval.plan_hash,
                                                                          "lock": self.plan.lock})

    def _release(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def _unapproved(self, fn, args) -> str | None:
        """Why what is about to execute is not what was approved; None when it is."""
        approved, ctx = self.approval.plan_hash, self.ctx
        again = f"preview again (`rovn-ops run {ctx.runbook}`, or run every cell from begin), review, and confirm"
        if self.spent:
            return (f"plan {approved[:12]} already executed in this kernel: an approval executes once; {again}")
        done = executed(ctx.db, self.plan.action, approved)
        if done:
            return (f"plan {approved[:12]} already executed (run {done['run_id']}, {done['outcome']} at "
                    f"{done['at']}): an approval executes once; {again}")
        changed = ctx.changed_parameters() if hasattr(ctx, "changed_parameters") else []
        if changed:
            return (f"parameters changed since begin() validated them ({', '.join(changed)}): the approval is for "
                    f"the plan previewed with the old values; {again}")
        for arg in args:
            plan = getattr(arg, "plan", None)
            if isinstance(plan, Plan) and self._bound(plan).hash != approved:
                return (f"the plan handed to execute is not the approved plan {approved[:12]} (a cell was re-run "
                        f"after the confirmation?); {again}")
        replan = self.replan or getattr(getattr(fn, "__self__", None), "replan", None)
        if replan is None:
            return ("execute cannot re-derive the plan from the live state (expected a runbook's Steps.execute, "
                    "whose replan() recomputes it): nothing was executed")
        if self._bound(replan()).hash != approved:
            # Never today's hash: copied from an error, it would skip the review.
            return (f"the live state or a parameter changed since plan {approved[:12]} was approved: today's plan "
                    f"differs; {again}")
        return None

    def verify(self, fn, *args, details=None, **kwargs):
        """Check the world; when it passes, this step writes the success row itself
        (`details`: a dict, or a callable returning one), so no verified change is
        ever missing from audit_log, whatever happens to the cells after it."""
        if self.approval is None or (self.approval.executed and self.result is None):
            raise Refused("verify before execute")
        if not self.approval.executed:
            return None
        self.verification = self._logged_on_failure("verify", self._verify_locked, fn, *args, **kwargs)
        self.ctx.record(verification=checks_of(self.verification))
        self.log("success", details() if callable(details) else details)
        return self.verification

    def _verify_locked(self, fn, *args, **kwargs):
        """Verify only under the lock execute took: a lock lost with its database session
        (failover, timeout, pg_terminate_backend) raises LockLost, logged as the failure."""
        if self.lock is not None:
            self.lock.check()
        return fn(*args, **kwargs)

    def _logged_on_failure(self, step: str, fn, *args, **kwargs):
        """A failed or interrupted step is still a logged change: audit_log says so,
        with what was done before it stopped (the error's `details`), then it raises."""
        try:
            if _stop_requested():
                raise KeyboardInterrupt(f"interrupted before {step}")
            return fn(*args, **kwargs)
        except KeyboardInterrupt as e:  # SIGINT/SIGTERM: the change may be half made
            self.log("interrupted", {"interrupted_step": step, **getattr(e, "details", {})})
            raise
        except Exception as e:
            if step == "verify":
                self.ctx.record(verification=[{"check": "verify", "verdict": "FAIL", "detail": str(e)[:300]}])
            # An error may carry what was done before it failed (e.g. a deploy's revisions).
            self.log("failed", {"failed_step": step, "error": f"{type(e).__name__}: {e}",
                                **getattr(e, "details", {})})
            raise

    def _repr_markdown_(self) -> str:
        if self.approval is None:
            return self.plan._repr_markdown_()
        if not self.approval.executed:
            return (f"**Preview only: nothing was changed.** Plan hash `{self.plan.hash}`.\n\n"
                    f"Deployers and approvers: {self._lists_source()}.\n\n"
                    f"To execute exactly this plan, headless:\n\n```sh\n{self.execute_command()}\n```\n\n"
                    "or, interactively, set `confirm = True`, `approved_by` and "
                    f"`plan_hash = \"{self.plan.hash}\"` in the parameters cell and run all cells."
                    + (f"\n\nNeeds {self.plan.approvals_needed} approvers other than the operator: "
                       f"{self.plan.approvals_why}." if self.plan.approvals_needed > 1 else ""))
        state = self.outcome or ("verified" if self.verification is not None else
                                 "executed" if self.result is not None else "confirmed")
        return f"**{self.plan.action} `{self.plan.target}`: {state}.** {self.approval}"

    __repr__ = plaintext.markdown_repr

    def _lists_source(self) -> str:
        """Which commit of the protected branch the allow-list and approvers come from."""
        try:
            return Lists.of(self.ctx.env).source
        except Exception as e:  # noqa: BLE001 - the preview still shows; confirm refuses with the reason
            return f"unreadable ({e})"

    def finish(self) -> str | None:
        """The last cell: the run's outcome for its evidence (an interactive recording is
        archived when it is recorded, so the cells before it, the summary too, are in it)."""
        executed = self.approval is not None and self.approval.executed
        outcome = self.outcome if executed else "preview" if self.approval is not None else None
        if outcome == "preview":
            self.ctx.record(outcome="preview", plan_hash=self.plan.hash, targets=[self.plan.target],
                            confirm_command=self.execute_command(),
                            summary={"plan": self.plan._why_lines() + list(self.plan.summary)})
        elif outcome:
            self.ctx.record(outcome=outcome)
        return outcome

    # log -------------------------------------------------------------------
    def log(self, outcome: str, details: dict | None = None, conn=None) -> audit.Entry | None:
        """Append the audit row first, then notify; a preview-only run logs nothing.
        The success row is written once (by verify): a later call returns it."""
        if self.outcome == "success" and self.entry is not None:
            return self.entry
        self.outcome = outcome
        ctx = self.ctx
        if not self.approval or not self.approval.executed:
            self.outcome = None
            self.finish()  # a preview: nothing to log, the outcome `preview` for the evidence
            return None
        if outcome != "success":  # a success is the run's outcome once its last cell ran (finish())
            ctx.record(outcome=outcome)
        entry = audit.append(conn or ctx.db, actor=str(ctx.operator), action=self.plan.action,
                             target=self.plan.target, outcome=outcome, run_id=ctx.run_id,
                             details={"plan_hash": self.plan.hash, "change_request": self.plan.why, "approvers": self.approval.approvers,
                                      "approval": self.approval.how, "changes": self.plan.changes,
                                      "approval_records": [r["id"] for r in self.records],
                                      "operator": ctx.operator.as_dict()["person"],  # the person (issue 27, build 3)
                                      **(details or {})})
        ctx.record(acted_on=[{"action": self.plan.action, "target": self.plan.target, "outcome": outcome,
                              **(details or {})}])
        self._release()  # the change is logged (ended, or interrupted: a re-run takes the lock again)
        self.deliveries.append(notify.slack(
            webhook(ctx, "slack_webhook_url"),
            f"[{ctx.env}] {self.plan.action} {self.plan.target}: {outcome} "
            f"(run {ctx.run_id}, approved by {', '.join(self.approval.approvers)})"))
        self.entry = entry
        return entry


@controls.enforces('§10 deployers')
def authorize(ctx, action: str, target: str) -> str:
    """§10, the first step of every writing runbook (and of `migrations apply`): the
    operator is on the deployers allow-list of the committed parameters/<env>.yaml.
    A `deployers` parameter (-p/-f) is refused: it would replace the allow-list.
    Returns the check's detail; refuses (audit row, exit 3) otherwise."""
    given = getattr(ctx.params, "deployers", None)
    if given:
        refuse(ctx, action, target, f"parameter 'deployers' ({', '.join(given)}) is refused: the allow-list comes "
               f"only from the committed parameters/{ctx.env}.yaml (§10)")
    lists = Lists.of(ctx.env)  # from the protected branch (origin/main), never a local commit
    problem = lists.deployer_problem(ctx.operator.arn)
    if problem:
        refuse(ctx, action, target, problem)
    return f"{ctx.operator.arn} is on the deployers of {lists.source}"


def checks_of(verification) -> list[dict]:
    """A verify step's result as rows (check, verdict, detail) for the manifest and the index."""
    if hasattr(verification, "as_dicts"):
        return [{k: c.get(k, "") for k in ("check", "verdict", "detail")} for c in verification.as_dicts()]
    ok = getattr(verification, "ok", True)
    return [{"check": "verify", "verdict": "pass" if ok else "FAIL", "detail": str(verification)[:300]}]


def refuse(ctx, action: str, target: str, reason: str, details: dict | None = None, error=Refused):
    """A check refused the change before anything ran: audit_log says so, then it raises.
    A refused attempt is evidence too (who tried what, and why it was stopped). Slack hears
    of no refusal, previewed or confirmed: nothing changed, and the overview asks Slack for
    alarms, incidents and rotations only (§5, §6, §8); posting refusals would train the
    channel to be ignored. audit_log and the evidence keep the attempt."""
    ctx.record(outcome="refused", targets=[target])
    why = {k: getattr(ctx.params, k, "") for k in ("ticket", "reason")}
    audit.append(ctx.db, actor=str(ctx.operator), action=action, target=target, outcome="refused",
                 run_id=ctx.run_id, details={"reason": reason, **({"change_request": why} if any(why.values()) else {}),
                                             **(details or {})})
    raise error(reason)


def webhook(ctx, name: str) -> str:
    try:
        return ctx.webhook(name)
    except Exception as e:  # noqa: BLE001 - a notification never blocks the change it reports
        print(f"warning: {name} could not be resolved ({type(e).__name__}); not notified")
        return ""


def _stop_requested() -> bool:
    """`rovn-ops run` got SIGINT/SIGTERM while no cell was running (see runner.py)."""
    import os

    stop = os.environ.get("ROVN_STOP_FILE")
    return bool(stop) and os.path.exists(stop)


FINAL = ("success", "failed")  # a change that ended; `interrupted` is resumed by a re-run


def last_final(conn, action: str, target: str) -> int | None:
    """The id of the last final row a Change wrote for this action on this target."""
    if conn is None:
        return None
    row = conn.execute("SELECT max(id) FROM audit_log WHERE action = %s AND target = %s AND outcome = ANY(%s) "
                       "AND details ? 'plan_hash'", [action, target, list(FINAL)]).fetchone()
    return row[0] if row else None


def refuse_spent(ctx) -> None:
    """First thing in a confirmed run (begin): a plan hash that already executed is refused
    before any preflight, so every protocol runbook says the same (StaleApproval, exit 2,
    the run and when), not whatever check of today's world happens to fail first."""
    p = ctx.params
    plan_hash = (getattr(p, "plan_hash", "") or "").strip().lower()
    if not (getattr(p, "confirm", False) and plan_hash):
        return
    try:
        conn = ctx.db
    except Exception:  # noqa: BLE001 - an unreachable audit_log is the steps' to report, as they do
        return
    spent = executed(conn, None, plan_hash)
    if spent:
        refuse(ctx, spent["action"], spent["target"], spent_reason(ctx, spent), {"plan_hash": plan_hash},
               error=StaleApproval)


def spent_reason(ctx, spent: dict) -> str:
    return (f"plan_hash {ctx.params.plan_hash.strip()} already executed (run {spent['run_id']}, {spent['outcome']} "
            f"at {spent['at']}): an approval executes once. Next: preview again (rovn-ops run {ctx.runbook}), "
            "review the new plan, and confirm with its hash")


def executed(conn, action: str | None, plan_hash: str) -> dict | None:
    """The final audit row of a Change that executed this plan hash (or its 12+ character
    prefix, as `plan_hash=` takes it), or None (a runbook's own journal rows, e.g.
    secret_rotation_step, are another action: they never count)."""
    if conn is None or len(plan_hash or "") < MIN_HASH_PREFIX or not all(c in "0123456789abcdef" for c in plan_hash):
        return None
    # action None: any Change's (a hash covers its action, so a spent one is spent everywhere)
    row = conn.execute("SELECT run_id, outcome, occurred_at, action, target FROM audit_log WHERE "
                       "(%s::text IS NULL OR action = %s) AND starts_with(details->>'plan_hash', %s) "
                       "AND outcome = ANY(%s) ORDER BY id LIMIT 1",
                       [action, action, plan_hash, list(FINAL)]).fetchone()
    return {"run_id": row[0], "outcome": row[1], "at": row[2].isoformat(timespec="seconds"), "action": row[3],
            "target": row[4]} if row else None


def _hash_matches(given: str, actual: str) -> bool:
    given = given.strip().lower()
    return len(given) >= MIN_HASH_PREFIX and actual.startswith(given)
