"""Schedules, declared in parameters/schedules.yaml and reconciled with EventBridge
Scheduler: each one is an ECS RunTask of the suite's task definition whose container
runs `rovn-ops scheduled NAME` (scheduled.py), so what runs is always the committed
entry of the image, never a copy held in AWS.

Scheduler's API (https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html,
Target https://docs.aws.amazon.com/scheduler/latest/APIReference/API_Target.html):
a templated ECS target takes the cluster ARN, a role Scheduler assumes, EcsParameters
(task definition, launch type, awsvpcConfiguration) and `Input`, the RunTask overrides
as JSON. ListSchedules pages with NextToken and answers summaries only, so each
schedule is read whole with GetSchedule."""
from __future__ import annotations

import json
from dataclasses import dataclass

from rovn_ops.core.errors import RovnError
from rovn_ops.core import paths
from rovn_ops.core.escape import code, markdown
from rovn_ops.core.errors import BadInput
from rovn_ops.protocol.authorization import committed_file
from rovn_ops.protocol.change import Plan, authorize
from rovn_ops.safety import params
from rovn_ops.safety.schedules_file import Declared, Entry, declared

SCHEDULER_ROLE = "rovn-ops-scheduler"  # the role Scheduler assumes to call RunTask (infra/README.md)


@dataclass(frozen=True)
class Wiring:
    """Where a schedule's task runs: the remote section's names, resolved to ARNs."""
    cluster_arn: str
    task_definition_arn: str  # the family's ARN without a revision: its latest ACTIVE one
    role_arn: str
    network: dict
    container: str
    task_roles: dict
    read_role: str
    account: str


def desired(d: Declared, w: Wiring, env: str) -> dict[str, dict]:
    """Each schedule as CreateSchedule takes it (less Name and GroupName)."""
    out = {}
    for s in d.schedules:
        role = w.task_roles.get(s.runbook) or w.read_role
        overrides = {"containerOverrides": [{"name": w.container, "command": ["scheduled", s.name, "--env", env]}],
                     "taskRoleArn": f"arn:aws:iam::{w.account}:role/{role}"}
        out[s.name] = {
            "ScheduleExpression": s.expression, "ScheduleExpressionTimezone": s.timezone, "State": "ENABLED",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Description": f"rovn-ops: {s.runbook or ' '.join(s.command)} (pages {s.page} on failure)",
            "Target": {"Arn": w.cluster_arn, "RoleArn": w.role_arn, "Input": json.dumps(overrides, sort_keys=True),
                       "RetryPolicy": {"MaximumRetryAttempts": 0},  # a runbook is not retried blindly
                       "EcsParameters": {"TaskDefinitionArn": w.task_definition_arn, "LaunchType": "FARGATE",
                                         "TaskCount": 1, "NetworkConfiguration": w.network}},
        }
    return out


COMPARED = ("ScheduleExpression", "ScheduleExpressionTimezone", "State", "FlexibleTimeWindow", "Description", "Target")


def _comparable(schedule: dict) -> dict:
    s = {k: schedule.get(k) for k in COMPARED}
    t = dict(s.get("Target") or {})
    if t.get("Input"):
        try:
            t["Input"] = json.dumps(json.loads(t["Input"]), sort_keys=True)
        except ValueError:
            pass
    t.pop("RetryPolicy", None)  # Scheduler adds MaximumEventAgeInSeconds to it: compared elsewhere never
    s["Target"] = t
    return json.loads(json.dumps(s, sort_keys=True, default=str))


def live(scheduler, group: str) -> dict[str, dict]:
    names, token = [], None
    while True:
        page = scheduler.list_schedules(GroupName=group, **({"NextToken": token} if token else {}))
        names += [s["Name"] for s in page.get("Schedules", [])]
        token = page.get("NextToken")
        if not token:
            break
    return {n: scheduler.get_schedule(GroupName=group, Name=n) for n in names}


def difference(want: dict[str, dict], have: dict[str, dict]) -> dict[str, list[str]]:
    return {"create": sorted(set(want) - set(have)),
            "update": sorted(n for n in set(want) & set(have) if _comparable(want[n]) != _comparable(have[n])),
            "delete": sorted(set(have) - set(want))}


@dataclass
class Prepared:
    group: str
    want: dict
    diff: dict
    plan: Plan

    def _repr_markdown_(self) -> str:
        """Names, expressions and parameters are the file's or Scheduler's text: escaped (a
        pipe too: GFM splits a table cell at one even inside a code span)."""
        rows = [f"| {action.upper()} | `{cell(n)}` | `{cell(self.want.get(n, {}).get('ScheduleExpression', '-'))}` | "
                f"{markdown(self.want.get(n, {}).get('Description', 'not in parameters/schedules.yaml'))} "
                f"{self._params(n)}|"
                for action in ("create", "update", "delete") for n in self.diff[action]]
        if not rows:
            return (f"Nothing to do: EventBridge Scheduler's group `{code(self.group)}` matches "
                    "parameters/schedules.yaml.\n")
        return "| action | schedule | expression | what |\n|---|---|---|---|\n" + "\n".join(rows) + "\n"

    def _params(self, name: str) -> str:
        given = (self.plan.changes.get("entries", {}).get(name) or {}).get("parameters") or {}
        return "".join(f"`{cell(f'{k}={v}')}` " for k, v in given.items())


def cell(value) -> str:
    return code(value).replace("|", "\\|")


class Steps:
    def __init__(self, ctx, wiring: Wiring | None = None):
        self.ctx = ctx
        self.scheduler = ctx.client("scheduler")
        self.wiring = wiring

    def _wiring(self) -> Wiring:
        if self.wiring is None:
            self.wiring = wire(self.ctx)
        return self.wiring

    def prepare(self) -> Prepared:
        d = declared()
        authorize(self.ctx, "schedules", d.group)
        committed_file(paths.parameters() / "schedules.yaml", self.ctx.env, "schedules")  # reviewed, as the allow-list
        for e in d.schedules:
            check_entry(e, self.ctx.env)  # a schedule whose run would be bad input is refused now, not at 3 a.m.
        want = desired(d, self._wiring(), self.ctx.env)
        have = live(self.scheduler, d.group) if self._group(d.group, create=False) else {}
        diff = difference(want, have)
        plan = Plan("schedules", d.group, {"group": d.group, **diff,
                                           "schedules": {n: want[n] for n in diff["create"] + diff["update"]},
                                           "entries": {e.name: e.model_dump() for e in d.schedules}},
                    tuple(f"{a} {len(diff[a])}: {', '.join(diff[a]) or '-'}" for a in ("create", "update", "delete")))
        return Prepared(d.group, want, diff, plan)

    def replan(self) -> Plan:
        return self.prepare().plan

    def _group(self, group: str, create: bool) -> bool:
        try:
            self.scheduler.get_schedule_group(Name=group)
            return True
        except self.scheduler.exceptions.ResourceNotFoundException:
            if create:
                self.scheduler.create_schedule_group(Name=group)
                return True
            return False

    def execute(self, prepared: Prepared) -> dict:
        """Idempotent: a create that exists already is an update, a delete already gone is done."""
        s, g = self.scheduler, prepared.group
        self._group(g, create=True)
        for name in prepared.diff["create"] + prepared.diff["update"]:
            try:
                s.create_schedule(Name=name, GroupName=g, **prepared.want[name])
                print(f"  created {name}", flush=True)
            except s.exceptions.ConflictException:
                s.update_schedule(Name=name, GroupName=g, **prepared.want[name])
                print(f"  updated {name}", flush=True)
        for name in prepared.diff["delete"]:
            try:
                s.delete_schedule(Name=name, GroupName=g)
            except s.exceptions.ResourceNotFoundException:
                pass
            print(f"  deleted {name}", flush=True)
        return prepared.diff

    def verify(self, prepared: Prepared) -> dict:
        left = difference(prepared.want, live(self.scheduler, prepared.group))
        if any(left.values()):
            raise RovnError("schedules did not verify: " + "; ".join(f"{a}: {', '.join(n)}" for a, n in left.items() if n))
        return {"schedules": sorted(prepared.want)}

    @staticmethod
    def details(prepared: Prepared, verified: dict | None) -> dict:
        return {"group": prepared.group, **prepared.diff, "verified": verified}


def check_entry(e: Entry, env: str) -> None:
    if not e.runbook:
        return
    try:
        params.resolve(e.runbook, env, [], e.assignments())
    except BadInput as bad:
        raise BadInput(f"parameters/schedules.yaml: {e.name}: {bad}") from None


def wire(ctx) -> Wiring:
    from rovn_ops.remote import settings, task as task_mod

    r = settings.load(ctx.env)
    account = ctx.operator.arn.split(":")[4]
    ecs = ctx.client("ecs")
    td = ecs.describe_task_definition(taskDefinition=r.task_definition)["taskDefinition"]["taskDefinitionArn"]
    cluster = ecs.describe_clusters(clusters=[r.cluster])["clusters"]
    if not cluster:
        raise RovnError(f"schedules: no ECS cluster {r.cluster} (parameters/{ctx.env}.yaml remote.cluster)")
    net = task_mod.network(ctx.client("ec2"), r)["awsvpcConfiguration"]
    network = {"awsvpcConfiguration": {"Subnets": net["subnets"], "SecurityGroups": net["securityGroups"],
                                       "AssignPublicIp": "DISABLED"}}
    return Wiring(cluster[0]["clusterArn"], td.rsplit(":", 1)[0], f"arn:aws:iam::{account}:role/{SCHEDULER_ROLE}",
                  network, r.container, r.task_roles, r.read_role, account)


def summary(ctx, change, prepared: Prepared):
    from IPython.display import Markdown

    if not any(prepared.diff.values()):
        return Markdown(f"### Nothing to do: the schedules match\n\nrun id: `{ctx.run_id}`")
    if not change.approval.executed:
        return Markdown(f"### Preview only: no schedule was changed\n\nrun id: `{ctx.run_id}`")
    return Markdown("### Done: " + ", ".join(f"{len(v)} {k}d" for k, v in prepared.diff.items()) +
                    f"\n\nrun id: `{ctx.run_id}`")
