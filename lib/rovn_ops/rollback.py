"""Rollback (§7, the ECS path): put the service back on an earlier task definition
revision and watch that deployment to its verdict. When ECS's circuit breaker is
already rolling back to that revision, its deployment is watched instead of
starting another.

§7's operational rule: never roll back the task without first confirming whether a
migration ran in the deploy being undone. audit_log is the source of truth: the
deploy row that put the current revision in place names its migrations, and a
rollback over them is refused until `migrations_reviewed=True` says someone checked
that the older image reads the schema (or reversed the migrations first)."""
from __future__ import annotations

from dataclasses import dataclass

from .deploy import preflight, rollout, taskdef, verify
from .deploy.checks import Checks
from . import plaintext
from .errors import RovnError
from .protocol import Plan, authorize, refuse


def to_revision(ecs, cluster: str, service: str, td_arn: str, *, deadline_s: float, first: float,
                longest: float, say=print) -> rollout.Verdict:
    deployment_id, started = rollout.start(ecs, cluster, service, td_arn)
    say(f"rollback to {td_arn.rsplit('/', 1)[-1]}: "
        + ("update-service started deployment " if started else "watching the deployment already under way, ")
        + deployment_id)
    return rollout.watch(ecs, cluster, service, deployment_id, deadline_s=deadline_s, first=first,
                         longest=longest, say=say)


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

    def _repr_markdown_(self) -> str:
        diff = "\n".join(f"| `{k}` | `{a}` | `{b}` |" for k, (a, b) in self.plan.changes["diff"].items())
        where = (f"deploy run `{self.deploy['run_id']}` (audit_log {self.deploy['audit_id']}), migrations: "
                 f"{', '.join(self.deploy['migrations']) or 'none'}" if self.deploy else "no deploy row found")
        return (f"**Roll back `{self.current.short}` → `{self.target.short}`**\n\n"
                f"| field | now | after |\n|---|---|---|\n{diff}\n\nThe deploy being undone: {where}\n")

    __repr__ = plaintext.markdown_repr


class Steps:
    def __init__(self, ctx):
        self.ctx, self.p = ctx, ctx.params
        self.ecs = ctx.client("ecs")

    def prepare(self) -> Prepared:
        p, ctx = self.p, self.ctx
        authorize(ctx, "rollback", p.service)
        service = rollout.describe(self.ecs, p.cluster, p.service)
        current = taskdef.TaskDefinition.describe(self.ecs, service["taskDefinition"])
        deploy = last_deploy_to(ctx.db, current.arn)
        checks = Checks()
        target_ref = p.to_revision or (deploy or {}).get("previous_task_definition")
        if not target_ref:
            refuse(ctx, "rollback", p.service, f"no successful deploy of {current.short} in audit_log names its "
                   "previous revision: name it with to_revision=FAMILY:N")
        target = taskdef.TaskDefinition.describe(self.ecs, target_ref)
        checks.add("a different revision", None if target.arn != current.arn else
                   f"the service already runs {current.short}", f"{current.short} → {target.short}", "§7")
        checks.add("same family", None if target.spec["family"] == current.spec["family"] else
                   f"{target.short} is not a revision of {current.spec['family']}")
        ran = (deploy or {}).get("migrations") or []
        checks.add("migrations of the deploy being undone", [
            f"the deploy that put {current.short} in place ran {', '.join(ran)}: confirm {target.image_tag} reads "
            "the new schema, or reverse them first (migration_reversal); then set migrations_reviewed=True"]
            if ran and not p.migrations_reviewed else None,
            "none ran" if not ran else f"{', '.join(ran)}: reviewed", "§7")
        preflight.stable(checks, service)
        plan = Plan("rollback", p.service, {"service": f"{p.cluster}/{p.service}", "from": current.arn,
                                            "to": target.arn, "diff": taskdef.diff(current.spec, target.spec),
                                            "migrations_of_the_deploy": ran},
                    (f"{current.short} ({current.image_tag}) → {target.short} ({target.image_tag})",))
        if not checks.ok:
            refuse(ctx, "rollback", p.service, checks.refusal().replace("deploy refused", "rollback refused"),
                   {"checks": checks.as_dicts()})
        return Prepared(current, target, deploy, checks, plan)

    def execute(self, prepared: Prepared) -> rollout.Verdict:
        p = self.p
        v = to_revision(self.ecs, p.cluster, p.service, prepared.target.arn, deadline_s=p.deadline_s,
                        first=p.poll_min, longest=p.poll_max, say=lambda s: print(s, flush=True))
        if not v.ok:
            raise RovnError(f"rollback {v.state}: {v.reason}")
        return v

    def verify(self, prepared: Prepared) -> Checks:
        p = self.p
        checks = Checks()
        checks.add("/health reports the rolled-back tag",
                   verify.health(p.health_url, prepared.target.image_tag, deadline_s=max(30.0, p.poll_max * 4),
                                 first=p.poll_min, longest=p.poll_max), prepared.target.image_tag)
        checks.add("running = desired", verify.running(rollout.describe(self.ecs, p.cluster, p.service)))
        if not checks.ok:
            raise RovnError("rollback verification failed: " + "; ".join(c.detail for c in checks.failures))
        return checks

    @staticmethod
    def details(prepared: Prepared, verdict: rollout.Verdict | None) -> dict:
        return {"from_task_definition": prepared.current.arn, "from_image_tag": prepared.current.image_tag,
                "to_task_definition": prepared.target.arn, "to_image_tag": prepared.target.image_tag,
                "deployment": verdict.as_dict() if verdict else None,
                "undoes_deploy_run": (prepared.deploy or {}).get("run_id")}


def summary(ctx, change, prepared: Prepared):
    if not change.approval.executed:
        return plaintext.Note(f"### Preview only: nothing was rolled back\n\nrun id: `{ctx.run_id}`")
    ctx.record(summary={"revision_from": prepared.current.short, "revision_to": prepared.target.short,
                        "image_from": prepared.current.image_tag, "image_to": prepared.target.image_tag})
    return plaintext.Note(f"### Rolled back: `{ctx.params.service}` is back on `{prepared.target.short}` ({prepared.target.image_tag})"
                    f"\n\nNext: `rovn-ops run service_status`, then find why the deploy of "
                    f"`{prepared.current.short}` went wrong.\n\nrun id: `{ctx.run_id}`")
