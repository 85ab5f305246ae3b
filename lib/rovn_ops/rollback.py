"""Rollback (§7, the ECS path): put the service back on an earlier task definition
revision and watch that deployment to its verdict. When ECS's circuit breaker is
already rolling back to that revision, its deployment is watched instead of
starting another. The migration question (§7's operational rule) is the caller's:
the deploy rolls back only when no migration ran."""
from __future__ import annotations

from .deploy import rollout


def to_revision(ecs, cluster: str, service: str, td_arn: str, *, deadline_s: float, first: float,
                longest: float, say=print) -> rollout.Verdict:
    deployment_id, started = rollout.start(ecs, cluster, service, td_arn)
    say(f"rollback to {td_arn.rsplit('/', 1)[-1]}: "
        + ("update-service started deployment " if started else "watching the deployment already under way, ")
        + deployment_id)
    return rollout.watch(ecs, cluster, service, deployment_id, deadline_s=deadline_s, first=first,
                         longest=longest, say=say)
