"""Rollback (§7, the ECS path): put the service back on an earlier task definition
revision and watch that deployment to its verdict. When ECS's circuit breaker is
already rolling back to that revision, its deployment is watched instead of
starting another.

The target, by default, is the newest revision audit_log records as verified healthy
(a deploy's or a rollback's success row), not "revision - 1", which may be one that
failed (fabfuel/ecs-deploy #8). §7's operational rule is read from the schema's
truth: every migration applied since the target was last verified healthy, by any
path (migrations/compat.py), must be one the target's older image can run on. A
breaking or unknown one refuses, naming it and the order to follow (the reversal,
then this rollback); `override_schema_gate=True` with two approvers goes ahead anyway,
and the override is recorded. The RTO, confirm to verified traffic, is recorded
against §7's ~3 minutes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property

from rovn_ops.core.escape import code, markdown as md
from rovn_ops.protocol import lock as change_lock
from rovn_ops.clients import db
from rovn_ops.core import paths, plaintext
from rovn_ops.ecs import rollback_target
from rovn_ops.ecs.rollback_target import verified
from rovn_ops.ecs import preflight, rollout, taskdef, verify
from rovn_ops.protocol.checks import Checks
from rovn_ops.core.errors import RovnError
from rovn_ops.migrations import compat
from rovn_ops.protocol.change import Plan, authorize, refuse
from rovn_ops.core import controls

RTO_TARGET_S = 180  # §7: "RTO ~3 minutes from decision to traffic"


def last_deploy_to(conn, td_arn: str) -> dict | None:
    """The latest deploy that put this revision in place, succeeded or not (audit_log)."""
    row = conn.execute("SELECT id, run_id, details FROM audit_log WHERE action = 'deploy' AND outcome IN ('success', 'failed') "
                       "AND details->>'new_task_definition' = %s ORDER BY id DESC LIMIT 1", [td_arn]).fetchone()
    return {"audit_id": row[0], "run_id": row[1], **row[2]} if row else None


@dataclass
class Prepared:
    current: taskdef.TaskDefinition
    target: taskdef.TaskDefinition
    deploy: dict | None
    checks: Checks
    plan: Plan
    since: dict | None             # the target's newest verified-healthy row
    gate: list[compat.Applied]

    @property
    def blocking(self) -> list[compat.Applied]:
        return [a for a in self.gate if a.verdict in (compat.BREAKING, compat.UNKNOWN)]

    def _repr_markdown_(self) -> str:
        diff = "\n".join(f"| `{code(k)}` | `{code(a)}` | `{code(b)}` |" for k, (a, b) in self.plan.changes["diff"].items())
        when = (f"verified healthy at {self.since['at']:%Y-%m-%d %H:%M:%S} UTC ({self.since['action']} run "
                f"`{code(self.since['run_id'])}`)" if self.since else "never recorded as verified healthy")
        rows = "\n".join(f"| `{code(a.name)}` | {md(a.path)} | **{md(a.verdict)}** | {md('; '.join(a.reasons))} |"
                         for a in self.gate)
        gate = (f"| migration | applied by | verdict | why |\n|---|---|---|---|\n{rows}" if rows
                else "none: the schema is the one the target ran on")
        return (f"**Roll back `{code(self.current.short)}` → `{code(self.target.short)}`** ({md(self.target.image_tag)}, {when})\n\n"
                f"| field | now | after |\n|---|---|---|\n{diff}\n\n"
                f"**Migrations applied since the target was verified (§7):** {gate}\n")

    __repr__ = plaintext.markdown_repr


class Steps:
    def __init__(self, ctx):
        self.ctx, self.p = ctx, ctx.params
        self.ecs = ctx.client("ecs")
        self.prepared: Prepared | None = None
        self.verdict: rollout.Verdict | None = None
        self.confirmed_at: datetime | None = None
        self.rto_s: float | None = None
        # A named target that cannot run: the deployable one to name instead (None: none passes).
        self.instead: taskdef.TaskDefinition | None | bool = False

    @cached_property
    def conn(self):
        return db.connect(db.migration_url())

    def prepare(self) -> Prepared:
        p, ctx = self.p, self.ctx
        authorize(ctx, "rollback", p.service)
        service = rollout.describe(self.ecs, p.cluster, p.service)
        current = taskdef.TaskDefinition.describe(self.ecs, service["taskDefinition"])
        family = current.spec["family"]
        history = verified(self.conn, family)
        checks = Checks()
        target = self._target(checks, current, history)
        since = next((h for h in history if h["task_definition"] == target.arn), None)
        checks.add("a different revision", None if target.arn != current.arn else
                   f"the service already runs {current.short}", f"{current.short} → {target.short}", "§7")
        checks.add("same family", None if target.spec["family"] == family else
                   f"{target.short} is not a revision of {family}")
        # A circuit breaker (or a killed run of ours) already rolling back to the target is
        # taken over by to_revision(), so it is ours too.
        ours = preflight.suite_deployments(self.conn) | {
            d["id"] for d in service["deployments"] if d["taskDefinition"] == target.arn}
        forced = preflight.stable(checks, service, ours=ours, force=p.force, what="rollback")
        gate = self._gate(checks, target, since)
        why = (["overriding §7's schema gate"] if p.override_schema_gate else []) + (
            ["force: over a deployment in flight the suite did not start"] if forced else [])
        plan = Plan("rollback", p.service, {
            "service": f"{p.cluster}/{p.service}", "from": current.arn, "to": target.arn,
            "diff": taskdef.diff(current.spec, target.spec), "target_verified": since and since["audit_id"],
            "schema_gate": [a.as_dict() for a in gate], "override_schema_gate": p.override_schema_gate,
            **({"forced_over": preflight.forced_over(forced)} if forced else {})},
            (f"{current.short} ({current.image_tag}) → {target.short} ({target.image_tag})",),
            2 if why else 1, "; ".join(why), lock=change_lock.service(p.cluster, p.service))
        if not checks.ok:
            refuse(ctx, "rollback", p.service, checks.refusal().replace("deploy refused", "rollback refused"),
                   {"checks": checks.as_dicts(), "schema_gate": plan.changes["schema_gate"]})
        self.prepared = Prepared(current, target, last_deploy_to(self.conn, current.arn), checks, plan, since, gate)
        return self.prepared


    def _named_target(self, ref: str):
        """The revision `to_revision` names; one ECS does not have is the operator's typo
        (bad input, exit 2), not a failed run with AWS's ClientException."""
        from botocore.exceptions import ClientError

        from rovn_ops.core.errors import BadInput

        try:
            return taskdef.TaskDefinition.describe(self.ecs, ref)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") not in ("ClientException", "InvalidParameterException"):
                raise
            raise BadInput(f"parameter 'to_revision': ECS has no task definition {ref} (a FAMILY:REVISION it "
                           "registered; leave to_revision empty for the newest verified revision)") from None
    def _target(self, checks: Checks, current: taskdef.TaskDefinition, history: list[dict]) -> taskdef.TaskDefinition:
        """The revision to go back to: ACTIVE, its image in ECR and scanned clean (rollback_target).
        Named: that one, or a refusal naming why and the newest verified one that passes.
        By default: the newest verified-healthy revision that passes, naming those skipped."""
        p, ctx, family = self.p, self.ctx, current.spec["family"]
        ecr = ctx.client("ecr")
        others = [h["task_definition"] for h in history if h["task_definition"] != current.arn]
        name = f"target deployable (ACTIVE, image in ECR, scan below {p.severity_threshold})"
        if p.to_revision:
            judged = rollback_target.judge(ecr, self._named_target(p.to_revision), p.severity_threshold)
            if not judged.ok:
                alt, _ = rollback_target.choose(self.ecs, ecr, [a for a in others if a != judged.target.arn],
                                                p.severity_threshold)
                self.instead = alt.target if alt else None
                checks.add(name, judged.problems + [f"the newest verified revision that passes is {alt.target.short}"
                                                    f": -p to_revision={alt.target.short}" if alt else
                                                    "no verified revision passes"], rule="§7")
            else:
                checks.add(name, None, judged.scan, "§7")
            if judged.warnings:
                checks.add("target scan current", judged.warnings, rule="§9", warn=True)
            return judged.target
        chosen, skipped = rollback_target.choose(self.ecs, ecr, others, p.severity_threshold)
        if chosen is None:
            reason = (f"audit_log records no revision of {family} other than {current.short} as verified healthy"
                      if not skipped else "no revision verified healthy can run: "
                      + "; ".join(j.line() for j in skipped))
            refuse(ctx, "rollback", p.service, f"rollback refused: {reason}. Name the target with "
                   "to_revision=FAMILY:N, or deploy a fix")
        checks.add(name, None, chosen.scan + "".join(f"; skipped {j.line()}" for j in skipped), "§7")
        if chosen.warnings:
            checks.add("target scan current", chosen.warnings, rule="§9", warn=True)
        return chosen.target

    @controls.enforces('§7 migration before rollback')
    def _gate(self, checks: Checks, target: taskdef.TaskDefinition, since: dict | None) -> list[compat.Applied]:
        """§7: what changed in the schema since the target last ran verified, and can it run on it."""
        p = self.p
        if since is None:
            gate = [compat.Applied("(all migrations)", None, "unknown", None, compat.UNKNOWN,
                                   [f"audit_log never recorded {target.short} as verified healthy: "
                                    "the schema it ran on is unknown"])]
        else:
            gate = compat.since(self.conn, paths.project_path(p.migrations_dir), since["at"])
        blocking = [a for a in gate if a.verdict in (compat.BREAKING, compat.UNKNOWN)]
        safe = "; ".join(f"{a.name}: {'; '.join(a.reasons)}" for a in gate) or "no migration since"
        if not blocking:
            checks.add("schema: the target's image reads it", None, safe, "§7")
        elif p.override_schema_gate:
            checks.add("schema: OVERRIDDEN (two approvers)", [f"{a.name} ({a.verdict}): {'; '.join(a.reasons)}"
                                                            for a in blocking], rule="§7", warn=True)
        else:
            checks.add("schema: the target's image reads it", [self._order(blocking, target)], rule="§7")
        return gate

    def _order(self, blocking: list[compat.Applied], target: taskdef.TaskDefinition) -> str:
        env = self.ctx.env
        named = "; ".join(f"{a.name} ({a.verdict}, applied by {a.path}): {'; '.join(a.reasons)}" for a in blocking)
        steps = [f"rovn-ops run migration_reversal --env {env} -p migration={a.name}"
                 for a in reversed(blocking) if a.applied_at is not None]
        # The order ends with a rollback that would be accepted: never the refused target again
        # (INACTIVE, its image gone, its scan not clean), but the deployable one it names.
        to = target if self.instead is False else self.instead
        last = (f"rovn-ops run rollback --env {env} -p to_revision={to.short}" if to else
                "no verified revision can run: deploy a fix (rovn-ops run deploy) instead of a rollback")
        return (f"{named}. {target.short}'s image cannot be trusted on this schema. Order to follow: "
                + "; then ".join(steps + [last])
                + (" (or, reviewed by two approvers, -p override_schema_gate=true)" if to else ""))

    def replan(self) -> Plan:
        """The plan again from the live state, for protocol.Change.execute to compare with
        the approved one before anything changes."""
        return self.prepare().plan

    def execute(self, prepared: Prepared, approval) -> rollout.Verdict:
        p = self.p
        self.confirmed_at = datetime.fromisoformat(approval.at)
        v = rollout.to_revision(self.ecs, p.cluster, p.service, prepared.target.arn, deadline_s=p.deadline_s,
                        first=p.poll_min, longest=p.poll_max, say=lambda s: print(s, flush=True))
        if not v.ok:
            raise RovnError(f"rollback {v.state}: {v.reason}")
        self.verdict = v
        return v

    def verify(self, prepared: Prepared) -> Checks:
        p = self.p
        checks = Checks()
        wait = verify.health_wait(p.deadline_s, p.poll_max)
        checks.add("/health reports the rolled-back tag",
                   verify.health(p.health_url, prepared.target.image_tag, deadline_s=wait,
                                 first=p.poll_min, longest=p.poll_max), prepared.target.image_tag)
        checks.add("running = desired", verify.running(rollout.describe(self.ecs, p.cluster, p.service)))
        if not checks.ok:
            raise RovnError("rollback verification failed: " + "; ".join(c.detail for c in checks.failures))
        self.rto_s = round((datetime.now(timezone.utc) - self.confirmed_at).total_seconds(), 1)
        checks.add(f"RTO within §7's ~{RTO_TARGET_S // 60} minutes", None if self.rto_s <= RTO_TARGET_S else
                   f"{self.rto_s:.0f}s from confirm to verified traffic", f"{self.rto_s:.1f}s", "§7", warn=True)
        self.ctx.record(facts={"rto_s": self.rto_s, "rto_target_s": RTO_TARGET_S})
        return checks

    def details(self) -> dict:
        """The success row, written by the verify step itself."""
        prepared, verdict = self.prepared, self.verdict
        return {"from_task_definition": prepared.current.arn, "from_image_tag": prepared.current.image_tag,
                "to_task_definition": prepared.target.arn, "to_image_tag": prepared.target.image_tag,
                "deployment": verdict.as_dict() if verdict else None,
                "undoes_deploy_run": (prepared.deploy or {}).get("run_id"),
                "schema_gate": prepared.plan.changes["schema_gate"],
                "override": ({"schema_gate": [a.as_dict() for a in prepared.blocking]}
                             if self.p.override_schema_gate and prepared.blocking else {})
                | ({"force": prepared.plan.changes["forced_over"]} if "forced_over" in prepared.plan.changes
                   else {}) or None,
                "rto_s": self.rto_s, "rto_target_s": RTO_TARGET_S}


def summary(ctx, change, prepared: Prepared, steps: Steps | None = None):
    change.finish()
    if not change.approval.executed:
        return plaintext.Note(f"### Preview only: nothing was rolled back\n\nrun id: `{ctx.run_id}`")
    ctx.record(summary={"revision_from": prepared.current.short, "revision_to": prepared.target.short,
                        "image_from": prepared.current.image_tag, "image_to": prepared.target.image_tag})
    rto = (f"RTO {steps.rto_s:.1f}s from confirm to verified traffic (§7: ~{RTO_TARGET_S // 60} minutes"
           f"{'' if steps.rto_s <= RTO_TARGET_S else ', MISSED'}).\n\n" if steps and steps.rto_s is not None else "")
    return plaintext.Note(f"### Rolled back: `{ctx.params.service}` is back on `{prepared.target.short}` "
                          f"({prepared.target.image_tag})\n\n{rto}Next: `rovn-ops run service_status`, then find why "
                          f"`{prepared.current.short}` went wrong.\n\nrun id: `{ctx.run_id}`")
