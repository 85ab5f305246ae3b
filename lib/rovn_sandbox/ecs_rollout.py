"""ECS rolling deployments for moto, which has none (its deployments list is fixed
at create_service and no task ever runs: getmoto/moto#6283, "ECS services never seem to
transition into running state", open against 5.x).

The sandbox process installs this into its in-process moto server. The model:
update_service with a new task definition adds a PRIMARY deployment (IN_PROGRESS)
and turns the old PRIMARY into ACTIVE. Every `STEP_S` sandbox seconds (clock.py:
compressed wall time, never per API call) tasks move across a step at a time, then
the rollout COMPLETES and old deployments drain; a read (DescribeServices, ListTasks,
…) or the server's ticker catches the service up to the clock, so how often a client
polls never changes what happens (issue 22). With the scenario "ecs_new_tasks_fail", new tasks fail to start; the circuit
breaker marks the deployment FAILED and, when rollback is enabled, starts a
rollback deployment to the last completed task definition. With the scenario
"ecs_update_service_hangs", UpdateService blocks while the scenario is on and then
fails without updating (a client killed meanwhile never learns of it). UpdateService
refuses an INACTIVE or missing revision, as ECS does.

Whether a task runs is its image's doing (image_faults.py): an image missing from ECR
(CannotPullContainerError) or one that crashes fails every task of the deployment, in a
rollout (the circuit breaker trips) and after it: a COMPLETED deployment with fewer
tasks than desired gets replacements each step, as ECS's scheduler starts them, and
they run only if the image does. So a rollback to a good revision mends the service.

Tasks are the deployments' counts, named (`tasks_of`): ListTasks and DescribeTasks
(ecs_api.py) answer one task per running or pending one, ids stable per deployment
and index, and one STOPPED task per failed start with the reason it stopped, so list
and describe always agree with runningCount.
"""
from __future__ import annotations

import math
import threading

from moto.core.utils import utcnow
from moto.ecs.models import EC2ContainerServiceBackend
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.moto_api._internal import mock_random

from rovn_sandbox import clock, image_config, image_faults, moto_guard, scenarios

_lock = threading.RLock()
# What follows a completed rollout in the world (the incident drills' telemetry), by who
# registered it: the simulator below calls them and imports none of them.
_ON_COMPLETED: dict[str, object] = {}
STEP_S = 30.0  # sandbox seconds for a step: a Fargate task starting and passing its health checks
DEFAULT_CIRCUIT_BREAKER = {"deploymentCircuitBreaker": {"enable": True, "rollback": True},
                           "maximumPercent": 200, "minimumHealthyPercent": 100}


def on_rollout_completed(name: str, hook) -> None:
    """Call hook(svc) each time a deployment completes, after the service's counts are
    this step's; a second install under the same name replaces the first."""
    _ON_COMPLETED[name] = hook


def _event(svc, message: str) -> None:
    svc.events.insert(0, {"id": mock_random.get_random_hex(8), "createdAt": utcnow(),
                          "message": f"(service {svc.name}) {message}"})


def _deployment(svc, task_definition: str, running: int = 0) -> dict:
    dep_id = f"ecs-svc/{mock_random.randint(10**17, 10**18 - 1)}"
    done = running >= svc.desired_count
    now = utcnow()
    return {"id": dep_id, "status": "PRIMARY", "taskDefinition": task_definition,
            "desiredCount": svc.desired_count, "pendingCount": 0, "runningCount": running,
            "failedTasks": 0, "createdAt": now, "updatedAt": now, "launchType": svc.launch_type,
            "platformFamily": "Linux", "platformVersion": svc.platform_version or "1.4.0",
            "rolloutState": "COMPLETED" if done else "IN_PROGRESS",
            "rolloutStateReason": f"ECS deployment {dep_id} {'completed' if done else 'in progress'}.",
            "_image_digest": _resolve_image(svc, task_definition)}


def _resolve_image(svc, task_definition: str) -> str | None:
    """The digest the deployment's tasks run: ECS resolves the task definition's image tag
    as the deployment starts, and every task of it runs that digest, whatever the tag
    names later (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerImage.html)."""
    from moto.ecs.models import ecs_backends

    try:
        image = image_faults.image_of(ecs_backends[svc._account_id][svc.region_name], task_definition)
    except Exception:  # noqa: BLE001 - no such revision: UpdateService refuses it before this
        return None
    return image_config.resolve(svc.region_name, image)


def _sync_counts(svc) -> None:
    svc.running_count = sum(d["runningCount"] for d in svc.deployments)
    svc.pending_count = sum(d["pendingCount"] for d in svc.deployments)


def start_deployment(svc, task_definition: str, *, rollback_of: str | None = None) -> dict:
    """Add a PRIMARY deployment; the previous PRIMARY becomes ACTIVE."""
    for dep in svc.deployments:
        if dep["status"] == "PRIMARY":
            dep["status"], dep["updatedAt"] = "ACTIVE", utcnow()
    dep = _deployment(svc, task_definition)
    dep["_rollback_of"], dep["_due"] = rollback_of, clock.now() + STEP_S
    if rollback_of:
        dep["rolloutStateReason"] = f"ECS deployment circuit breaker: rolling back to deploymentId {rollback_of}."
    # New tasks fail for deployments started while the scenario is on; a rollback's don't.
    dep["_fails"] = scenarios.active("ecs_new_tasks_fail") and not rollback_of
    svc.deployments.insert(0, dep)
    svc.task_definition = task_definition
    _event(svc, f"has started deployment {dep['id']} of {task_definition.split('/')[-1]}.")
    return dep


def _failure_threshold(desired: int) -> int:
    # ECS: the circuit breaker trips at max(3, min(200, ceil(0.5 * desired))) failures.
    return max(3, min(200, math.ceil(desired / 2)))


def _step(svc) -> int:
    return max(1, math.ceil(svc.desired_count / 2))


def _moving(svc) -> dict | None:
    """The deployment that has a step to take: one in flight, or a completed one short of tasks."""
    primary = svc.deployments[0] if svc.deployments else None
    if primary and (primary["rolloutState"] == "IN_PROGRESS" or (
            primary["rolloutState"] == "COMPLETED" and primary["runningCount"] < svc.desired_count)):
        return primary
    return None


_step_at: float | None = None  # the sandbox time of the step being taken (under _lock)


def _when() -> float:
    return clock.now() if _step_at is None else _step_at


def tick(svc) -> None:
    """Catch the service up with the clock: one step for each STEP_S of sandbox time
    that passed, however many reads there were meanwhile."""
    for _ in range(1000):  # a guard: a rollout and its rollback finish in a few dozen steps
        primary = _moving(svc)
        if primary is None:
            if svc.deployments:  # steady: the next change (tasks stopping) starts its steps from now
                svc.deployments[0].pop("_due", None)
            return
        due = primary.setdefault("_due", clock.now())
        if clock.now() < due:
            return
        primary["_due"] = due + STEP_S
        global _step_at
        _step_at = due  # a step caught up late happened at its due time (tasks stop then)
        try:
            _step_once(svc, primary)
        finally:
            _step_at = None
        if svc.deployments and svc.deployments[0] is not primary:  # the breaker's rollback began
            svc.deployments[0]["_due"] = due + STEP_S


def run_to_end(svc) -> None:
    """Finish the service's rollout now, whatever the clock says (incident scenarios,
    writing history that has already happened)."""
    for _ in range(1000):
        primary = svc.deployments[0] if svc.deployments else None
        if not primary or primary["rolloutState"] != "IN_PROGRESS":
            return
        primary["_due"] = clock.now() + STEP_S
        _step_once(svc, primary)


def advance_all(region: str, account: str = "123456789012") -> None:
    """Catch every service up with the clock (the sandbox server's ticker)."""
    from moto.ecs.models import ecs_backends

    with _lock:
        for svc in list(ecs_backends[account][region].services.values()):
            tick(svc)


def _step_once(svc, primary: dict) -> None:
    if primary["rolloutState"] != "IN_PROGRESS":
        _replace_tasks(svc, primary)
        _sync_counts(svc)
        return
    primary["updatedAt"] = utcnow()
    why = image_faults.cannot_run(svc.region_name, primary["taskDefinition"])
    if primary.get("_fails") or why:
        _tick_failing(svc, primary, why or "Essential container in task exited")
    else:
        _tick_healthy(svc, primary)
    _sync_counts(svc)


def _replace_tasks(svc, primary: dict) -> None:
    """ECS's scheduler starts a replacement for each task that stopped; it runs only if
    its image does (no circuit breaker here: the deployment completed long ago)."""
    why = image_faults.cannot_run(svc.region_name, primary["taskDefinition"])
    missing = svc.desired_count - primary["runningCount"]
    if why:
        primary["_stop_reason"] = why
        primary["failedTasks"] = primary.get("failedTasks", 0) + min(missing, _step(svc))
        primary.setdefault("_failed_at", []).extend([(_when(), utcnow())] * min(missing, _step(svc)))
        message = f"has stopped {min(missing, _step(svc))} running tasks: {why}"
        if not svc.events or message not in svc.events[0]["message"]:  # ECS throttles repeated events too
            _event(svc, message)
        return
    started = min(missing, _step(svc))
    primary["runningCount"] += started
    _event(svc, f"has started {started} tasks.")
    if primary["runningCount"] >= svc.desired_count:
        _event(svc, "has reached a steady state.")


def _tick_healthy(svc, primary: dict) -> None:
    if primary["pendingCount"]:  # pending tasks of the last poll now pass health checks
        moved = primary["pendingCount"]
        primary["runningCount"] += moved
        primary["pendingCount"] = 0
        _drain(svc, moved)
        _event(svc, f"registered {moved} targets in target-group rovn-passport-api-tg.")
    missing = svc.desired_count - primary["runningCount"]
    if missing > 0:
        primary["pendingCount"] = min(missing, _step(svc))
        _event(svc, f"has started {primary['pendingCount']} tasks.")
        return
    _drain(svc, sum(d["runningCount"] for d in svc.deployments[1:]))
    _retire(svc, svc.deployments[1:])
    svc.deployments[1:] = []
    primary["rolloutState"] = "COMPLETED"
    primary["rolloutStateReason"] = f"ECS deployment {primary['id']} completed."
    _event(svc, f"deployment {primary['id']} completed.")
    _sync_counts(svc)  # the hooks publish and evaluate runningCount: this step's, not the last one's
    for hook in list(_ON_COMPLETED.values()):
        hook(svc)
    _event(svc, "has reached a steady state.")


def _retire(svc, deployments: list[dict]) -> None:
    """Deployments leave the service's list, not its history (ListServiceDeployments)."""
    history = getattr(svc, "_history", None)
    if history is None:
        history = svc._history = []
    history[:0] = deployments
    del history[100:]


def _drain(svc, count: int) -> None:
    """Old tasks stop as new ones become healthy; each stays listed as STOPPED (tasks_of),
    stopped by the scheduler for the deployment that replaced it, as ECS reports it."""
    for dep in svc.deployments[1:]:
        stop = min(count, dep["runningCount"])
        dep["runningCount"] -= stop
        dep.setdefault("_drained", []).extend([(_when(), utcnow(), svc.deployments[0]["id"])] * stop)
        count -= stop


def _tick_failing(svc, primary: dict, why: str = "Essential container in task exited") -> None:
    failed = _step(svc)
    primary["failedTasks"] += failed
    primary.setdefault("_failed_at", []).extend([(_when(), utcnow())] * failed)
    primary["_stop_reason"] = why
    _event(svc, f"deployment {primary['id']}: {failed} tasks failed to start ({why}).")
    breaker = (getattr(svc, "deployment_configuration", None) or DEFAULT_CIRCUIT_BREAKER)
    if primary["failedTasks"] < _failure_threshold(svc.desired_count):
        return
    if not breaker.get("deploymentCircuitBreaker", {}).get("enable"):
        return  # without the circuit breaker ECS keeps retrying: the rollout stays IN_PROGRESS
    primary["rolloutState"] = "FAILED"
    primary["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start."
    _event(svc, f"deployment {primary['id']} deployment failed: tasks failed to start.")
    if not breaker.get("deploymentCircuitBreaker", {}).get("rollback"):
        return
    target = next((d for d in svc.deployments[1:] if d["runningCount"]), None)
    if target:
        _event(svc, f"rolling back to deployment {target['id']}.")
        primary["_rolled_back"] = target
        start_deployment(svc, target["taskDefinition"], rollback_of=target["id"])


def _hang_while_scenario(limit_s: float = 120) -> None:
    import time

    from moto.ecs.exceptions import EcsClientException

    if not scenarios.active("ecs_update_service_hangs"):
        return
    deadline = time.monotonic() + limit_s
    while scenarios.active("ecs_update_service_hangs") and time.monotonic() < deadline:
        time.sleep(0.05)
    raise EcsClientException("UpdateService abandoned (sandbox scenario ecs_update_service_hangs)")


def _refuse_unlaunchable(backend, requested: str) -> None:
    """ECS refuses a revision it cannot launch: a deregistered (INACTIVE) one with
    ClientException "TaskDefinition is inactive", a missing one with ClientException
    "Unable to describe task definition." (moto 5.2.5 accepts the first and answers the
    second with its own ClientException text)."""
    from moto.ecs.exceptions import EcsClientException

    try:
        td = backend.describe_task_definition(requested)
    except Exception:  # noqa: BLE001 - moto's TaskDefinitionNotFoundException, or a malformed revision
        raise EcsClientException("Unable to describe task definition.") from None
    if td.status != "ACTIVE":
        raise EcsClientException("TaskDefinition is inactive")


# ECS lists a stopped task for at least an hour after it stops, then forgets it:
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-errors.html
STOPPED_VISIBLE_S = 3600


def tasks_of(svc, stopped_s: bool = False) -> list[dict]:
    """The service's tasks as ECS describes them: one per running or pending task of
    each deployment; one STOPPED task per failed start (TaskFailedToStart) and per task
    the scheduler stopped to replace it (ServiceSchedulerInitiated), for STOPPED_VISIBLE_S.
    `stopped_s`: each stopped task also carries `_stopped_s` (the sandbox second it stopped)
    and `_failed_start`, for the target group (elbv2_world.py), never for the wire."""
    from moto.ecs.models import ecs_backends

    backend = ecs_backends[svc._account_id][svc.region_name]
    cluster_arn = f"arn:aws:ecs:{svc.region_name}:{svc._account_id}:cluster/{svc.cluster_name}"
    out = []
    live = {id(d) for d in svc.deployments}
    for dep in list(svc.deployments) + getattr(svc, "_history", []):
        try:
            defs = backend.describe_task_definition(dep["taskDefinition"]).container_definitions
        except Exception:  # noqa: BLE001 - a revision deleted since: its tasks still ran
            defs = []
        for i, (state, started, stop, failed_start) in enumerate(_task_states(dep, id(dep) in live)):
            if stop is None or clock.now() - stop[0] < STOPPED_VISIBLE_S:
                out.append(_task(svc, dep, cluster_arn, i, state, defs, started=started, stop=stop,
                                 failed_start=failed_start))
                if stopped_s and stop:
                    out[-1] |= {"_stopped_s": stop[0], "_failed_start": failed_start}
    return out


def _task_states(dep: dict, live: bool) -> list[tuple]:
    """(state, ever started, how it stopped, failed-start slot) per task of the deployment.
    A task keeps its slot, hence its ARN, when it goes from RUNNING to STOPPED: drained
    tasks take the first slots, crashed ones (`crash_running`) the next, running ones the
    next. The scheduler's starts that failed have their own slots: a task whose image
    could not be pulled never started (TaskFailedToStart); one whose essential container
    exited ran first (EssentialContainerExited, its exit code)."""
    reason = dep.get("_stop_reason") or "Essential container in task exited"
    failed = dep.get("_failed_at") or []
    slots = [("STOPPED", True, (t, at, "ServiceSchedulerInitiated",
                                f"Scaling activity initiated by (deployment {by})"), False)
             for t, at, by in dep.get("_drained", [])]
    slots += [("STOPPED", True, (t, at) + tail, False) for t, at, tail in dep.get("_exited", [])]
    slots += ([("RUNNING", True, None, False)] * dep["runningCount"] + [("PENDING", False, None, False)]
              * dep["pendingCount"] if live else [])
    started = not never_starts(reason)
    failures = [("STOPPED", started, (t, at) + (_exit(reason) if started else ("TaskFailedToStart", reason)), True)
                for t, at in failed]
    return slots + failures


def never_starts(why: str) -> bool:
    """A task that stops for this reason never ran: ECS could not pull its image or set it up
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html)."""
    return any(code in why for code in ("CannotPullContainerError", "ResourceInitializationError",
                                        "CannotStartContainerError"))


def _exit(why: str) -> tuple:
    """How ECS reports a task whose essential container exited: stopCode
    EssentialContainerExited, stoppedReason "Essential container in task exited", and the
    container's exitCode and reason (`why` as image_faults words it: "… (exit code 137,
    OutOfMemoryError: …)"; https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Container.html)."""
    import re

    m = re.search(r"exit code (\d+)(?:, ([^)]*))?", why, re.ASCII)
    code, detail = (int(m.group(1)), m.group(2)) if m else (1, None)
    return ("EssentialContainerExited", "Essential container in task exited", code, detail)


# What a task Fargate retires for maintenance reports (its service's scheduler replaces it):
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-maintenance.html
RETIRED = ("ServiceSchedulerInitiated", "ECS is performing maintenance on the underlying infrastructure hosting the task")


def crash_running(svc, why: str, at=None) -> int:
    """Every RUNNING task of the service stops: its essential container exits (`why`, e.g.
    OOM-killed: a failed task), or, when `why` is a reason a task never starts for (its
    image is gone), Fargate retired it and its replacements will fail for `why`. Each stays
    listed STOPPED under its ARN; the scheduler starts replacements from the next step on
    (`_replace_tasks`), which run only if the image does. Returns how many stopped."""
    retired = never_starts(why)
    stopped = 0
    for dep in svc.deployments:
        n = dep["runningCount"]
        dep.setdefault("_exited", []).extend([(clock.now(), at or utcnow(), RETIRED if retired else _exit(why))] * n)
        dep["runningCount"] = 0
        dep["failedTasks"] = dep.get("failedTasks", 0) + (0 if retired else n)
        dep["_stop_reason"] = why
        stopped += n
    if svc.deployments:  # the scheduler's first replacements a step after the crash, whenever one looks
        svc.deployments[0]["_due"] = clock.now() + STEP_S
    _sync_counts(svc)
    return stopped


def _task(svc, dep: dict, cluster_arn: str, index: int, state: str, defs: list[dict], *, started: bool,
          stop: tuple | None, failed_start: bool = False) -> dict:
    import hashlib

    task_id = hashlib.md5(f"{dep['id']}/{failed_start}/{index}".encode()).hexdigest()
    arn = f"arn:aws:ecs:{svc.region_name}:{svc._account_id}:task/{svc.cluster_name}/{task_id}"
    containers = [{"containerArn": f"arn:aws:ecs:{svc.region_name}:{svc._account_id}:container/"
                                   f"{svc.cluster_name}/{task_id}/{hashlib.md5((arn + d['name']).encode()).hexdigest()}",
                   "taskArn": arn, "name": d["name"], "image": d.get("image"), "lastStatus": state,
                   **({"imageDigest": dep["_image_digest"]} if dep.get("_image_digest") and d is defs[0] else {}),
                   "healthStatus": "HEALTHY" if state == "RUNNING" else "UNKNOWN"} for d in defs]
    container = containers[0] if containers else {"healthStatus": "UNKNOWN"}
    task = {"taskArn": arn, "clusterArn": cluster_arn, "taskDefinitionArn": dep["taskDefinition"],
            "lastStatus": state, "desiredStatus": "STOPPED" if stop else "RUNNING",
            "group": f"service:{svc.name}", "startedBy": dep["id"], "launchType": dep.get("launchType") or "FARGATE",
            "platformVersion": dep.get("platformVersion"), "platformFamily": dep.get("platformFamily"),
            "createdAt": dep["createdAt"], "version": 1, "attachments": [], "tags": [], "overrides": {},
            "healthStatus": container["healthStatus"], "containers": containers,
            "availabilityZone": _zone(svc, index)}
    if started or state == "PENDING":  # awsvpc: the task's ENI and its private address (the ALB's target)
        task["attachments"] = [_eni(svc, task_id, task["availabilityZone"], stop is not None)]
        for c in containers:
            c["networkInterfaces"] = [{"attachmentId": task["attachments"][0]["id"],
                                       "privateIpv4Address": task["attachments"][0]["details"][-1]["value"]}]
    if started:  # a task that stopped ran until then, however late its deployment was last updated
        at = min(dep["updatedAt"], stop[1]) if stop else dep["updatedAt"]
        task |= {"startedAt": at, "pullStartedAt": dep["createdAt"], "pullStoppedAt": dep["createdAt"],
                 "connectivity": "CONNECTED", "connectivityAt": dep["createdAt"]}
    if stop:
        _, at, code, reason, *exited = stop
        task |= {"stoppedAt": at, "stoppingAt": at, "executionStoppedAt": at, "stopCode": code,
                 "stoppedReason": reason, "healthStatus": "UNKNOWN"}
        for c in containers:
            c["reason"], c["healthStatus"], c["lastStatus"] = reason, "UNKNOWN", "STOPPED"
            if exited:  # the essential container exited on its own: its code, and why when known
                c["exitCode"] = exited[0]
                c.pop("reason") if exited[1] is None else c.update(reason=exited[1])
            elif started:
                c["exitCode"] = 0  # SIGTERM from the scheduler, handled: the container exits cleanly
    return task


def task_ip(svc, task_id: str, zone: str) -> str:
    """A task's private IPv4 address: stable per task, inside its AZ's subnet of the service."""
    import hashlib
    import ipaddress

    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[svc._account_id][svc.region_name]
    ids = ((svc.network_configuration or {}).get("awsvpcConfiguration") or {}).get("subnets") or []
    cidr = next((s.cidr_block for az in ec2.subnets.values() for s in az.values()
                 if s.id in ids and s.availability_zone == zone), "10.0.0.0/24")
    net = ipaddress.ip_network(cidr)
    offset = 4 + int(hashlib.md5(task_id.encode()).hexdigest()[:8], 16) % (net.num_addresses - 5)
    return str(net.network_address + offset)  # AWS keeps each subnet's first four and last address


def _eni(svc, task_id: str, zone: str, stopped: bool) -> dict:
    """An awsvpc task's ElasticNetworkInterface attachment, as DescribeTasks reports it
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Attachment.html)."""
    import hashlib

    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[svc._account_id][svc.region_name]
    ids = ((svc.network_configuration or {}).get("awsvpcConfiguration") or {}).get("subnets") or []
    subnet = next((s.id for az in ec2.subnets.values() for s in az.values()
                   if s.id in ids and s.availability_zone == zone), ids[0] if ids else "")
    h = hashlib.md5(task_id.encode()).hexdigest()
    ip = task_ip(svc, task_id, zone)
    return {"id": f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}", "type": "ElasticNetworkInterface",
            "status": "DELETED" if stopped else "ATTACHED",
            "details": [{"name": "subnetId", "value": subnet}, {"name": "networkInterfaceId", "value": f"eni-{h[:17]}"},
                        {"name": "macAddress", "value": ":".join(h[i:i + 2] for i in range(0, 12, 2))},
                        {"name": "privateDnsName", "value": f"ip-{ip.replace('.', '-')}.{svc.region_name}.compute.internal"},
                        {"name": "privateIPv4Address", "value": ip}]}


def _zone(svc, index: int) -> str:
    """The AZ a task of the service runs in: Fargate spreads a service's tasks across the
    AZs of its awsvpc subnets (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-placement.html),
    reported as the task's availabilityZone (API_Task). Scenario tasks_one_az pins them
    to one (`_one_az`: an AZ out of capacity; the subnets still span two)."""
    from moto.ec2.models import ec2_backends

    if getattr(svc, "_one_az", ""):
        return svc._one_az
    ids = ((svc.network_configuration or {}).get("awsvpcConfiguration") or {}).get("subnets") or []
    ec2 = ec2_backends[svc._account_id][svc.region_name]
    zones = sorted({ec2.subnets[az][i].availability_zone for az in ec2.subnets for i in ids if i in ec2.subnets[az]})
    return zones[index % len(zones)] if zones else f"{svc.region_name}a"


def _long_arn(failure: dict, cluster: str) -> dict:
    """moto names a missing service by the old ARN (service/NAME); ECS uses the long
    format, which includes the cluster (service/CLUSTER/NAME), for every service since
    the opt-out ended: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-account-settings.html"""
    head, sep, name = failure["arn"].rpartition(":service/")
    if sep and "/" not in name:
        failure = {**failure, "arn": f"{head}:service/{cluster.split('/')[-1]}/{name}"}
    return failure


def _install_backend_patches() -> None:
    orig_create = EC2ContainerServiceBackend.create_service
    orig_update = EC2ContainerServiceBackend.update_service
    orig_describe = EC2ContainerServiceBackend.describe_services

    def create_service(self, *args, **kwargs):
        with _lock:
            svc = orig_create(self, *args, **kwargs)
            # A service in the seeded world starts steady: all its tasks running.
            svc.deployments = [_deployment(svc, svc.task_definition, running=svc.desired_count)]
            svc.deployment_configuration = dict(DEFAULT_CIRCUIT_BREAKER)
            _sync_counts(svc)
            _event(svc, "has reached a steady state.")
            return svc

    def update_service(self, props: dict):
        _hang_while_scenario()
        with _lock:
            svc = self._get_service(props.get("cluster", "default"), props["service"].split("/")[-1])
            before, desired_before = svc.task_definition, svc.desired_count
            requested = props.get("task_definition")
            if requested:
                _refuse_unlaunchable(self, requested)
            force = props.get("force_new_deployment", False)
            svc = orig_update(self, dict(props, force_new_deployment=False))
            if props.get("deployment_configuration"):  # moto keeps none of it
                svc.deployment_configuration = props["deployment_configuration"]
            _sync_counts(svc)  # moto resets counts on update; keep the simulation's
            new_td = self.describe_task_definition(requested).arn if requested else before
            svc.task_definition = before
            if new_td != before or force:
                start_deployment(svc, new_td)
            elif svc.desired_count != desired_before:
                svc.deployments[0]["desiredCount"] = svc.desired_count
            return svc

    def describe_services(self, cluster_str, names):
        with _lock:
            services, failures = orig_describe(self, cluster_str, names)
            for svc in services:
                tick(svc)
            return services, [_long_arn(f, cluster_str) for f in failures]

    EC2ContainerServiceBackend.create_service = create_service
    EC2ContainerServiceBackend.update_service = update_service
    EC2ContainerServiceBackend.describe_services = describe_services


def _install_response_patches() -> None:
    orig = EC2ContainerServiceResponse.create_service

    def create_service(self):
        result = orig(self)
        config = self._get_param("deploymentConfiguration")
        if config:
            svc = self.ecs_backend._get_service(self._get_param("cluster", "default"),
                                                self._get_param("serviceName"))
            svc.deployment_configuration = config
        return result

    EC2ContainerServiceResponse.create_service = create_service


@moto_guard.patches
def install() -> None:
    _install_backend_patches()
    _install_response_patches()


def serving_task_definition(cluster: str, service: str, region: str, account: str) -> str | None:
    """The task definition of the tasks that answer requests, read without advancing a
    poll: the PRIMARY deployment's once it has running tasks, else the newest one still
    running (an old deployment draining); None when no task runs."""
    dep = serving_deployment(cluster, service, region, account)
    return dep["taskDefinition"] if dep else None


def serving_deployment(cluster: str, service: str, region: str, account: str) -> dict | None:
    """The deployment whose tasks answer requests (as serving_task_definition picks it)."""
    from moto.ecs.models import ecs_backends

    with _lock:
        svc = ecs_backends[account][region].services.get(f"{cluster}:{service}")
        running = [d for d in (svc.deployments if svc else []) if d["runningCount"] > 0]
        return dict(running[0]) if running else None


def serving_version(cluster: str, service: str, region: str, account: str) -> str | None:
    """What the running tasks' /health reports: the IMAGE_TAG baked into the image digest
    their deployment runs (image_config.py), not the tag the task definition names;
    None when no task runs."""
    from moto.ecs.models import ecs_backends

    dep = serving_deployment(cluster, service, region, account)
    if dep is None:
        return None
    image = image_faults.image_of(ecs_backends[account][region], dep["taskDefinition"])
    return image_config.baked(region, image, dep.get("_image_digest") or image_config.resolve(region, image))
