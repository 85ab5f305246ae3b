"""Rolling the service's tasks onto a rotated secret: ECS injects secrets when a task
starts, so running tasks keep the old value until they are replaced. A forced new
deployment replaces them all; it is watched by its deployment id with the deploy's
rollout watcher, and the old value is retired only after it COMPLETES."""
from __future__ import annotations

from rovn_ops.ecs import rollout


def uses(ecs, cluster: str, service: str, secret_arn: str) -> list[str]:
    """The container variables of the service's task definition that take this secret."""
    td_arn = rollout.describe(ecs, cluster, service)["taskDefinition"]
    td = ecs.describe_task_definition(taskDefinition=td_arn)["taskDefinition"]
    return [s["name"] for c in td["containerDefinitions"] for s in c.get("secrets", [])
            if s["valueFrom"] == secret_arn or s["valueFrom"].startswith(secret_arn + ":")]


def start(ecs, cluster: str, service: str) -> tuple[str, str]:
    """(deployment id, `family:revision` it rolls): the revision is what reconcile matches an
    ECS deployment by, so the rotation's journal names it (a redeploy moves no revision)."""
    svc = ecs.update_service(cluster=cluster, service=service, forceNewDeployment=True)["service"]
    primary = next(d for d in svc["deployments"] if d["status"] == "PRIMARY")
    return primary["id"], primary["taskDefinition"].rsplit("/", 1)[-1]


def resumable(ecs, cluster: str, service: str, deployment_id: str, since) -> bool:
    """Our deployment is still the PRIMARY one, has not failed, and started after the new
    value existed: watch it rather than start another. A FAILED or superseded one, or one
    older than the rotation (a forged journal row), is replaced by a new deployment: the
    old value is never retired on the word of a rollout that did not carry the new one."""
    return any(d["id"] == deployment_id and d["status"] == "PRIMARY" and d.get("rolloutState") != "FAILED"
               and d["createdAt"] >= since for d in rollout.describe(ecs, cluster, service)["deployments"])


def watch(ecs, cluster: str, service: str, deployment_id: str, *, deadline_s: float, first: float,
          longest: float, say=print) -> rollout.Verdict:
    return rollout.watch(ecs, cluster, service, deployment_id, deadline_s=deadline_s, first=first,
                         longest=longest, say=say)
