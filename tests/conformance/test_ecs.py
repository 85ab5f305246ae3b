"""ECS as its API reference documents it (table.py explains a row). Every row runs on a
freshly reset sandbox with its clock paused: a row moves time itself."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rovn_sandbox import control
from rovn_sandbox.ecs_rollout import STEP_S

from .table import Row, rows, run

API = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/"
GUIDE = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
CLUSTER, SERVICE, FAMILY = "rovn-prod", "rovn-passport-api", "rovn-passport-api"
SVC = {"cluster": CLUSTER, "service": SERVICE}


def _describe(ctx) -> dict:
    return ctx.client("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]


def _deploy(ctx, revision: int = 287) -> str:
    svc = ctx.client("ecs").update_service(**SVC, taskDefinition=f"{FAMILY}:{revision}")["service"]
    return next(d["id"] for d in svc["deployments"] if d["status"] == "PRIMARY")


def _later(ctx, steps: int) -> None:
    control.clock(ctx.sandbox, advance_s=steps * STEP_S)


def _unpullable(ctx, steps: int = 12) -> None:
    """A new revision whose image tag was never pushed to ECR."""
    ecs = ctx.client("ecs")
    td = ecs.describe_task_definition(taskDefinition=f"{FAMILY}:288")["taskDefinition"]
    keep = ("family", "networkMode", "requiresCompatibilities", "cpu", "memory", "executionRoleArn",
            "taskRoleArn", "volumes", "containerDefinitions")
    spec = {k: td[k] for k in keep if k in td}
    spec["containerDefinitions"][0]["image"] = td["containerDefinitions"][0]["image"].rsplit(":", 1)[0] + ":never-pushed"
    ctx.arn = ecs.register_task_definition(**spec)["taskDefinition"]["taskDefinitionArn"]
    ctx.ours = ecs.update_service(**SVC, taskDefinition=ctx.arn)["service"]["deployments"][0]["id"]
    _later(ctx, steps)


def _deregister(ctx, revision: int = 287) -> None:
    ctx.client("ecs").deregister_task_definition(taskDefinition=f"{FAMILY}:{revision}")


def _running_tasks_agree(resp, ctx):
    running = _describe(ctx)["runningCount"]
    assert running == 3 and len(resp["taskArns"]) == running, (resp["taskArns"], running)
    tasks = ctx.client("ecs").describe_tasks(cluster=CLUSTER, tasks=resp["taskArns"])
    assert not tasks["failures"] and {t["lastStatus"] for t in tasks["tasks"]} == {"RUNNING"}
    assert {t["group"] for t in tasks["tasks"]} == {f"service:{SERVICE}"}


def _mid_rollout_tasks(resp, ctx):
    import collections

    svc = _describe(ctx)
    described = ctx.client("ecs").describe_tasks(cluster=CLUSTER, tasks=resp["taskArns"])["tasks"]
    running = collections.Counter(t["taskDefinitionArn"].rsplit(":", 1)[-1] for t in described
                                  if t["lastStatus"] == "RUNNING")
    deps = {d["taskDefinition"].rsplit(":", 1)[-1]: d["runningCount"] for d in svc["deployments"]}
    assert len(svc["deployments"]) == 2 and running == {k: v for k, v in deps.items() if v}, (running, deps)


def _pull_failure_stopped_tasks(resp, ctx):
    listed = ctx.client("ecs").describe_tasks(cluster=CLUSTER, tasks=resp["taskArns"])["tasks"]
    tasks = [t for t in listed if t["taskDefinitionArn"] == ctx.arn]
    assert tasks and all(t["stoppedReason"].startswith("CannotPullContainerError") for t in tasks), tasks
    assert {t["stopCode"] for t in tasks} == {"TaskFailedToStart"}
    # the rest: tasks of the old revision the rollback's fresh tasks replaced
    assert {t["stopCode"] for t in listed if t not in tasks} <= {"ServiceSchedulerInitiated"}


def _breaker_tripped(resp, ctx):
    ours = next(d for d in resp["services"][0]["deployments"] if d["id"] == ctx.ours) if any(
        d["id"] == ctx.ours for d in resp["services"][0]["deployments"]) else None
    assert ours is not None and ours["rolloutState"] == "FAILED", resp["services"][0]["deployments"]
    assert "circuit breaker" in ours["rolloutStateReason"]
    primary = resp["services"][0]["deployments"][0]
    assert primary["taskDefinition"].endswith(":288") and "rolling back" in primary["rolloutStateReason"]


def _sorted(order):
    def check(resp, ctx):
        revs = [int(a.rsplit(":", 1)[-1]) for a in resp["taskDefinitionArns"]]
        assert len(revs) == 5 and revs == sorted(revs, reverse=order == "DESC"), revs
        assert revs[0] == (288 if order == "DESC" else 1)
        assert resp.get("nextToken")
    return check


def _pages_cover_everything(resp, ctx):
    ecs, seen, token = ctx.client("ecs"), list(resp["taskDefinitionArns"]), resp.get("nextToken")
    while token:
        page = ecs.list_task_definitions(familyPrefix=FAMILY, maxResults=100, nextToken=token)
        seen += page["taskDefinitionArns"]
        token = page.get("nextToken")
    assert len(seen) == len(set(seen)) == 288


def _default_page_is_100(resp, ctx):
    assert len(resp["taskDefinitionArns"]) == 100 and resp["nextToken"]


def _registered(resp, ctx):
    td = resp["taskDefinition"]
    assert td["registeredAt"] and td["registeredBy"].startswith("arn:aws:iam::"), td.keys()
    assert td["registeredBy"].endswith(":user/claude-deploy")


def _deregistered(resp, ctx):
    td = resp["taskDefinition"]
    assert td["status"] == "INACTIVE" and td["deregisteredAt"] >= td["registeredAt"]


def _deployments_listed(resp, ctx):
    deps = resp["serviceDeployments"]
    assert deps and deps[0]["status"] in ("IN_PROGRESS", "SUCCESSFUL"), deps
    assert all(d["serviceDeploymentArn"].startswith("arn:aws:ecs:") for d in deps)
    got = ctx.client("ecs").describe_service_deployments(serviceDeploymentArns=[deps[0]["serviceDeploymentArn"]])
    assert not got["failures"] and got["serviceDeployments"][0]["targetServiceRevision"]["arn"]


def _revision_of_deployment(ctx) -> dict:
    _deploy(ctx)
    brief = ctx.client("ecs").list_service_deployments(**SVC)["serviceDeployments"][0]
    return {"serviceRevisionArns": [brief["targetServiceRevisionArn"], brief["targetServiceRevisionArn"] + "0"]}


def _revision_names_its_task_definition(resp, ctx):
    rev, = resp["serviceRevisions"]
    assert rev["taskDefinition"].endswith(f":task-definition/{FAMILY}:287"), rev
    assert rev["containerImages"][0]["image"] and rev["launchType"] == "FARGATE", rev
    assert [f["reason"] for f in resp["failures"]] == ["MISSING"], resp


def _none_listed(resp, ctx):
    assert resp["serviceDeployments"] == [], resp


def _deployments_after_rollout(resp, ctx):
    statuses = [d["status"] for d in resp["serviceDeployments"]]
    assert statuses[0] == "SUCCESSFUL" and len(statuses) == 2, statuses


def _rollback_listed(resp, ctx):
    by = {d["status"] for d in resp["serviceDeployments"]}
    assert "ROLLBACK_SUCCESSFUL" in by, by
    arns = [d["serviceDeploymentArn"] for d in resp["serviceDeployments"]]
    full = ctx.client("ecs").describe_service_deployments(serviceDeploymentArns=arns)["serviceDeployments"]
    tripped = [d for d in full if d.get("deploymentCircuitBreaker", {}).get("status") == "TRIGGERED"]
    assert tripped and tripped[0]["deploymentCircuitBreaker"]["failureCount"] >= 3


def _missing_deployment(resp, ctx):
    assert resp["serviceDeployments"] == [] and resp["failures"][0]["reason"] == "MISSING"


def _missing_task(resp, ctx):
    assert resp["tasks"] == [] and resp["failures"] == [{"arn": "0123456789abcdef0123456789abcdef",
                                                         "reason": "MISSING"}]


def _missing_service(resp, ctx):
    assert resp["services"] == [] and resp["failures"] == [
        {"arn": f"arn:aws:ecs:us-east-2:123456789012:service/{CLUSTER}/no-such-service", "reason": "MISSING"}]


def _replaced_tasks_stopped(resp, ctx):
    """The old revision's tasks, replaced by the rollout, are STOPPED by the scheduler and
    keep their ARNs (the ones ListTasks gave while they ran)."""
    stopped = ctx.client("ecs").describe_tasks(cluster=CLUSTER, tasks=resp["taskArns"])["tasks"]
    assert set(ctx.before) <= set(resp["taskArns"]), (ctx.before, resp["taskArns"])
    ours = [t for t in stopped if t["taskArn"] in ctx.before]
    assert {(t["lastStatus"], t["desiredStatus"], t["stopCode"]) for t in ours} == {
        ("STOPPED", "STOPPED", "ServiceSchedulerInitiated")}
    assert all(t["stoppedReason"].startswith("Scaling activity initiated by (deployment ecs-svc/") and t["stoppedAt"]
               for t in ours)


def _before_rollout(ctx) -> None:
    ctx.before = ctx.client("ecs").list_tasks(cluster=CLUSTER, serviceName=SERVICE)["taskArns"]
    _deploy(ctx)
    _later(ctx, 8)


def _forgotten_after_an_hour(resp, ctx):
    assert set(ctx.before) <= set(resp["taskArns"]), "stopped under an hour ago: still listed"
    _later(ctx, 10)
    gone = ctx.client("ecs").list_tasks(cluster=CLUSTER, serviceName=SERVICE, desiredStatus="STOPPED")
    assert not set(ctx.before) & set(gone["taskArns"]), "stopped over an hour ago: forgotten"


def _crashing(ctx, steps: int = 4) -> None:
    """tasks_crashing: revision 289's container is OOM-killed soon after each start."""
    control.scenario(ctx.sandbox, "tasks_crashing")
    _later(ctx, steps)


def _crashed_tasks(resp, ctx):
    """Tasks that ran and whose essential container exited: stopCode EssentialContainerExited,
    stoppedReason "Essential container in task exited", the container's exitCode and reason
    (137, OutOfMemoryError); they started, so startedAt is set."""
    tasks = ctx.client("ecs").describe_tasks(cluster=CLUSTER, tasks=resp["taskArns"])["tasks"]
    ours = [t for t in tasks if t["taskDefinitionArn"].endswith(":289")]
    assert len(ours) >= 6, len(ours)  # the three that ran, and the scheduler's replacements since
    assert {(t["lastStatus"], t["stopCode"], t["stoppedReason"]) for t in ours} == {
        ("STOPPED", "EssentialContainerExited", "Essential container in task exited")}, ours
    assert all(t["startedAt"] <= t["stoppedAt"] for t in ours)
    containers = [c for t in ours for c in t["containers"]]
    assert {c["exitCode"] for c in containers} == {137}
    assert all(c["reason"].startswith("OutOfMemoryError") and c["lastStatus"] == "STOPPED" for c in containers)


def _crashing_counts_follow(resp, ctx):
    """The scheduler keeps starting replacements; none stays up, so nothing is RUNNING and
    ListTasks agrees with runningCount, and each step adds stopped tasks."""
    ecs = ctx.client("ecs")
    svc = _describe(ctx)
    assert svc["runningCount"] == 0 and resp["taskArns"] == []
    stopped = lambda: len(ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE, desiredStatus="STOPPED")["taskArns"])
    before = stopped()
    _later(ctx, 2)
    assert stopped() > before and _describe(ctx)["runningCount"] == 0


def _polled(ctx, polls: int = 40) -> None:
    """A rollout started, then DescribeServices polled `polls` times with the clock stopped."""
    _deploy(ctx)
    ctx.first = _rollout(_describe(ctx))
    for _ in range(polls):
        _describe(ctx)


def _rollout(svc: dict) -> list:
    return [(d["status"], d["taskDefinition"], d["rolloutState"], d["runningCount"], d["pendingCount"])
            for d in svc["deployments"]]


def _polls_moved_nothing(resp, ctx):
    """DescribeServices only describes: a rollout moves with time (ECS's scheduler), never with
    how often a client looks (issue 22: each DescribeServices was a step of the rollout)."""
    now = _rollout(resp["services"][0])
    assert now == ctx.first, (ctx.first, now)
    assert now[0][:3] == ("PRIMARY", ctx.first[0][1], "IN_PROGRESS")


def _inactive_listed(resp, ctx):
    assert [a.rsplit(":", 1)[-1] for a in resp["taskDefinitionArns"]] == ["287"]


ROWS = [
    Row("ListTasks lists the service's running tasks, as many as runningCount", API + "API_ListTasks.html",
        "ecs", "list_tasks", {"cluster": CLUSTER, "serviceName": SERVICE}, _running_tasks_agree),
    Row("ListTasks mid-rollout: each deployment's running tasks, under its revision", API + "API_ListTasks.html",
        "ecs", "list_tasks", {"cluster": CLUSTER, "serviceName": SERVICE}, _mid_rollout_tasks,
        setup=lambda ctx: (_deploy(ctx), _later(ctx, 2))),
    Row("ListTasks of an unknown service is ServiceNotFound-like ClientException", API + "API_ListTasks.html",
        "ecs", "list_tasks", {"cluster": CLUSTER, "serviceName": "no-such-service"}, "ClientException"),
    Row("ListTasks of an unknown cluster is ClusterNotFoundException", API + "API_ListTasks.html",
        "ecs", "list_tasks", {"cluster": "no-such-cluster"}, "ClusterNotFoundException"),
    Row("DescribeTasks of an unknown task: a MISSING failure, not an error", API + "API_DescribeTasks.html",
        "ecs", "describe_tasks", {"cluster": CLUSTER, "tasks": ["0123456789abcdef0123456789abcdef"]}, _missing_task),
    Row("DescribeServices of an unknown service: MISSING, named by its long-format ARN",
        GUIDE + "ecs-account-settings.html", "ecs", "describe_services",
        {"cluster": CLUSTER, "services": ["no-such-service"]}, _missing_service),
    Row("ListTasks STOPPED after a rollout: the replaced tasks, ServiceSchedulerInitiated",
        GUIDE + "stopped-task-error-codes.html", "ecs", "list_tasks",
        {"cluster": CLUSTER, "serviceName": SERVICE, "desiredStatus": "STOPPED"}, _replaced_tasks_stopped,
        setup=_before_rollout),
    Row("Stopped tasks stay visible for an hour, then ListTasks forgets them", GUIDE + "stopped-task-errors.html",
        "ecs", "list_tasks", {"cluster": CLUSTER, "serviceName": SERVICE, "desiredStatus": "STOPPED"},
        _forgotten_after_an_hour, setup=lambda ctx: (_before_rollout(ctx), _later(ctx, 3300 // STEP_S))),
    Row("An image not in ECR: tasks STOPPED with CannotPullContainerError", GUIDE + "task_cannot_pull_image.html",
        "ecs", "list_tasks", {"cluster": CLUSTER, "serviceName": SERVICE, "desiredStatus": "STOPPED"},
        _pull_failure_stopped_tasks, setup=_unpullable),
    Row("An image not in ECR: the circuit breaker trips and rolls back", GUIDE + "deployment-circuit-breaker.html",
        "ecs", "describe_services", {"cluster": CLUSTER, "services": [SERVICE]}, _breaker_tripped,
        setup=lambda ctx: _unpullable(ctx, steps=2)),
    Row("Crashed tasks: STOPPED, EssentialContainerExited, the container's exit code 137",
        GUIDE + "stopped-task-error-codes.html", "ecs", "list_tasks",
        {"cluster": CLUSTER, "serviceName": SERVICE, "desiredStatus": "STOPPED"}, _crashed_tasks, setup=_crashing),
    Row("Crashing tasks: the scheduler replaces them, none runs, ListTasks agrees with runningCount",
        API + "API_ListTasks.html", "ecs", "list_tasks", {"cluster": CLUSTER, "serviceName": SERVICE},
        _crashing_counts_follow, setup=_crashing),
    Row("UpdateService to an INACTIVE revision is refused", API + "API_UpdateService.html",
        "ecs", "update_service", {**SVC, "taskDefinition": f"{FAMILY}:287"}, "ClientException", setup=_deregister),
    Row("UpdateService to a revision never registered is refused", API + "API_UpdateService.html",
        "ecs", "update_service", {**SVC, "taskDefinition": f"{FAMILY}:999"}, "ClientException"),
    Row("UpdateService of an unknown service is ServiceNotFoundException", API + "API_UpdateService.html",
        "ecs", "update_service", {"cluster": CLUSTER, "service": "no-such-service"}, "ServiceNotFoundException"),
    Row("DescribeTaskDefinition of a missing revision is ClientException", API + "API_DescribeTaskDefinition.html",
        "ecs", "describe_task_definition", {"taskDefinition": f"{FAMILY}:999"}, "ClientException"),
    Row("ListTaskDefinitions sort=DESC lists the newest revision first", API + "API_ListTaskDefinitions.html",
        "ecs", "list_task_definitions", {"familyPrefix": FAMILY, "sort": "DESC", "maxResults": 5}, _sorted("DESC")),
    Row("ListTaskDefinitions sort=ASC (the default order) lists the oldest first", API + "API_ListTaskDefinitions.html",
        "ecs", "list_task_definitions", {"familyPrefix": FAMILY, "sort": "ASC", "maxResults": 5}, _sorted("ASC")),
    Row("ListTaskDefinitions pages: nextToken walks every revision once", API + "API_ListTaskDefinitions.html",
        "ecs", "list_task_definitions", {"familyPrefix": FAMILY, "maxResults": 100}, _pages_cover_everything),
    Row("ListTaskDefinitions without maxResults returns up to 100 and a nextToken",
        API + "API_ListTaskDefinitions.html", "ecs", "list_task_definitions", {"familyPrefix": FAMILY},
        _default_page_is_100),
    Row("ListTaskDefinitions status=INACTIVE lists deregistered revisions", API + "API_ListTaskDefinitions.html",
        "ecs", "list_task_definitions", {"familyPrefix": FAMILY, "status": "INACTIVE"}, _inactive_listed,
        setup=_deregister),
    Row("ListTaskDefinitions maxResults above 100 is InvalidParameterException", API + "API_ListTaskDefinitions.html",
        "ecs", "list_task_definitions", {"familyPrefix": FAMILY, "maxResults": 101}, "InvalidParameterException"),
    Row("DescribeTaskDefinition carries registeredAt and registeredBy", API + "API_TaskDefinition.html",
        "ecs", "describe_task_definition", {"taskDefinition": f"{FAMILY}:288"}, _registered),
    Row("DeregisterTaskDefinition sets INACTIVE and deregisteredAt", API + "API_DeregisterTaskDefinition.html",
        "ecs", "deregister_task_definition", {"taskDefinition": f"{FAMILY}:286"}, _deregistered),
    Row("DescribeServices polled 40 times moves no rollout: only time does", API + "API_DescribeServices.html",
        "ecs", "describe_services", {"cluster": CLUSTER, "services": [SERVICE]}, _polls_moved_nothing,
        setup=_polled),
    Row("ListServiceDeployments lists the service's deployments", API + "API_ListServiceDeployments.html",
        "ecs", "list_service_deployments", SVC, _deployments_listed, setup=lambda ctx: _deploy(ctx)),
    Row("ListServiceDeployments filters by createdAt (after, before)", API + "API_ListServiceDeployments.html",
        "ecs", "list_service_deployments", {**SVC, "createdAt": {"after": datetime.now(timezone.utc) - timedelta(hours=1),
                                                                 "before": datetime.now(timezone.utc) + timedelta(hours=1)}},
        _deployments_listed, setup=lambda ctx: _deploy(ctx)),
    Row("DescribeServiceRevisions: a deployment's target revision names its task definition",
        API + "API_DescribeServiceRevisions.html", "ecs", "describe_service_revisions", _revision_of_deployment,
        _revision_names_its_task_definition),
    Row("DescribeServiceRevisions: more than 20 ARNs is InvalidParameterException",
        API + "API_DescribeServiceRevisions.html", "ecs", "describe_service_revisions",
        {"serviceRevisionArns": [f"arn:aws:ecs:us-east-2:123456789012:service-revision/c/s/{i}" for i in range(21)]},
        "InvalidParameterException"),
    Row("ListServiceDeployments: createdAt after the last one lists none", API + "API_ListServiceDeployments.html",
        "ecs", "list_service_deployments", {**SVC, "createdAt": {"after": datetime.now(timezone.utc) + timedelta(days=1)}},
        _none_listed),
    Row("ListServiceDeployments: a completed rollout is SUCCESSFUL, its predecessor kept",
        API + "API_ListServiceDeployments.html", "ecs", "list_service_deployments", SVC, _deployments_after_rollout,
        setup=lambda ctx: (_deploy(ctx), _later(ctx, 8))),
    Row("DescribeServiceDeployments: the breaker TRIGGERED, the rollback ROLLBACK_SUCCESSFUL",
        API + "API_DescribeServiceDeployments.html", "ecs", "list_service_deployments", SVC, _rollback_listed,
        setup=_unpullable),
    Row("DescribeServiceDeployments of an unknown ARN: a MISSING failure", API + "API_DescribeServiceDeployments.html",
        "ecs", "describe_service_deployments",
        {"serviceDeploymentArns": [f"arn:aws:ecs:us-east-2:123456789012:service-deployment/{CLUSTER}/{SERVICE}/1"]},
        _missing_deployment),
]


@rows(ROWS)
def test_ecs(row, client, paused):
    run(row, paused, client)
