"""The rollout: update-service to the new revision, then watch *our* deployment by
its id until a verdict. Success is only our deployment PRIMARY and COMPLETED; a
FAILED deployment, a circuit-breaker rollback, or another deployment taking over
is a failure, however steady the service looks afterwards (the false success of
aws-actions/amazon-ecs-deploy-task-definition #191, #494)."""
from __future__ import annotations

from dataclasses import dataclass, field

from rovn_ops.core.polling import Poller
from rovn_ops.ecs.names import short_td


@dataclass
class Verdict:
    ok: bool
    state: str            # completed | failed | rolled_back | superseded | deadline
    deployment_id: str
    reason: str
    polls: int = 0
    elapsed: float = 0.0
    failed_seen_at: int | None = None   # the poll that first showed our deployment FAILED
    history: list[str] = field(default_factory=list)
    service: dict | None = field(default=None, repr=False)  # the last description read: verify reuses it

    def __str__(self) -> str:
        return (f"deployment {self.deployment_id}: {self.state.upper()} after {self.polls} polls, "
                f"{self.elapsed:.1f}s: {self.reason}")

    __repr__ = __str__

    def as_dict(self) -> dict:
        return {"deployment_id": self.deployment_id, "state": self.state, "reason": self.reason,
                "polls": self.polls, "elapsed_s": round(self.elapsed, 2), "failed_seen_at": self.failed_seen_at}


def describe(ecs, cluster: str, service: str) -> dict:
    return ecs.describe_services(cluster=cluster, services=[service])["services"][0]


@dataclass(frozen=True)
class Started:
    deployment_id: str
    now: bool        # update-service started it now; else an earlier attempt's, taken over
    service: dict    # the description it was decided on (UpdateService answers with the service)

    @property
    def created_at(self):
        """When the deployment started (update-service), or None if it is gone."""
        return next((d.get("createdAt") for d in self.service["deployments"] if d["id"] == self.deployment_id),
                    None)


def start(ecs, cluster: str, service: str, td_arn: str, current: dict | None = None) -> Started:
    """Start (or take over) the deployment of `td_arn`. A PRIMARY deployment of this
    revision already in place (a re-run after a crash) is taken over instead of started
    again. `current` is the service as this phase already read it (under the change
    lock), so the start costs no DescribeServices of its own (issue 24)."""
    current = current or describe(ecs, cluster, service)
    for d in current["deployments"]:
        if d["taskDefinition"] == td_arn and d["status"] == "PRIMARY":
            return Started(d["id"], False, current)
    svc = ecs.update_service(cluster=cluster, service=service, taskDefinition=td_arn)["service"]
    return Started(next(d["id"] for d in svc["deployments"] if d["status"] == "PRIMARY"), True, svc)


def judge(deployments: list[dict], ours_id: str) -> tuple[bool, str, str] | None:
    """(ok, state, reason) once the deployments settle our deployment's fate; else None."""
    ours = next((d for d in deployments if d["id"] == ours_id), None)
    primary = next((d for d in deployments if d["status"] == "PRIMARY"), None)
    other = primary if primary and primary["id"] != ours_id else None
    if ours is not None and ours.get("rolloutState") == "FAILED":
        if other and "rolling back" in (other.get("rolloutStateReason") or "").lower():
            return False, "rolled_back", (f"{ours.get('rolloutStateReason')} The circuit breaker is rolling back "
                                          f"to {short_td(other['taskDefinition'])} (deployment {other['id']}).")
        return False, "failed", ours.get("rolloutStateReason") or "deployment FAILED"
    if other is not None:
        return False, "superseded", (f"deployment {other['id']} of {short_td(other['taskDefinition'])} "
                                     "took over as PRIMARY")
    if ours is None:
        return False, "superseded", "our deployment is gone from the service"
    if ours.get("rolloutState") == "COMPLETED":
        return True, "completed", f"PRIMARY and COMPLETED: {ours['runningCount']}/{ours['desiredCount']} running"
    return None


def _line(elapsed: float, deployments: list[dict], ours_id: str) -> str:
    parts = [f"{'*' if d['id'] == ours_id else ' '}{d['status']:<8}{short_td(d['taskDefinition'])}"
             f" {d.get('rolloutState', ''):<11} running {d['runningCount']}/{d['desiredCount']}"
             f" pending {d['pendingCount']} failed {d.get('failedTasks', 0)}" for d in deployments]
    return f"  {elapsed:6.1f}s  " + "\n           ".join(parts)


def watch(ecs, cluster: str, service: str, deployment_id: str, *, deadline_s: float, first: float,
          longest: float, say=print, fresh: dict | None = None) -> Verdict:
    """Poll until judge() decides or the deadline passes; progress is said on change.
    `fresh`, a description read just now (UpdateService's answer), is the first poll."""
    poller, seen, failed_at, history = Poller(deadline_s, first, longest), None, None, []
    for n in poller:
        svc, fresh = fresh or describe(ecs, cluster, service), None
        deps = svc["deployments"]
        state = [(d["id"], d["status"], d.get("rolloutState"), d["runningCount"], d["pendingCount"],
                  d.get("failedTasks", 0)) for d in deps]
        if state != seen:
            history.append(_line(poller.elapsed, deps, deployment_id))
            say(history[-1])
            seen = state
            poller.moved()
        ours = next((d for d in deps if d["id"] == deployment_id), {})
        if failed_at is None and ours.get("rolloutState") == "FAILED":
            failed_at = n
        decided = judge(deps, deployment_id)
        if decided:
            ok, verdict, reason = decided
            return Verdict(ok, verdict, deployment_id, reason, n, poller.elapsed, failed_at, history, svc)
    return Verdict(False, "deadline", deployment_id, f"no verdict within the {deadline_s:g}s deadline; "
                   "the deployment may still be running: check it before acting", poller.polls, poller.elapsed,
                   failed_at, history)


def to_revision(ecs, cluster: str, service: str, td_arn: str, *, deadline_s: float, first: float,
                longest: float, say=print) -> Verdict:
    """Put the service back on `td_arn` and watch to a verdict: deploy's automatic
    rollback and the rollback runbook both do it, so it lives here, below both."""
    began = start(ecs, cluster, service, td_arn)
    say(f"rollback to {td_arn.rsplit('/', 1)[-1]}: "
        + ("update-service started deployment " if began.now else "watching the deployment already under way, ")
        + began.deployment_id)
    return watch(ecs, cluster, service, began.deployment_id, deadline_s=deadline_s, first=first,
                 longest=longest, say=say, fresh=began.service if began.now else None)
