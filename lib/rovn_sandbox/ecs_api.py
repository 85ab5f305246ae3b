"""ECS operations moto (5.2.5) lacks or answers otherwise than ECS, answered from the
rollout simulator's deployments (ecs_rollout.py), as the API reference documents them:

- ListTasks / DescribeTasks: moto knows only RunTask's tasks (a service starts none:
  getmoto/moto#6283), so a service's tasks were never listed (ListTasks [] while runningCount was 3); here they are the simulator's,
  ListTasks lists RUNNING ones unless `desiredStatus` says STOPPED, and pages;
- ListTaskDefinitions: moto ignores `sort`, `maxResults` and `nextToken`;
- RegisterTaskDefinition / DescribeTaskDefinition: `registeredAt`, `registeredBy` and,
  once deregistered, `deregisteredAt`, which moto never sets;
- ListServiceDeployments / DescribeServiceDeployments / DescribeServiceRevisions: missing in
  moto (HTTP 500); a deployment's target revision names the task definition it rolled out.

Each patch is keyed to the moto version it was written against (moto_guard): an upgrade
stops the sandbox with a line saying to check them again, rather than answering with
moto's new behaviour under our old assumptions.
"""
from __future__ import annotations

import base64
import contextvars

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.ecs.exceptions import EcsClientException, InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend, TaskDefinition
from moto.ecs.responses import EC2ContainerServiceResponse

from rovn_sandbox import ecs_rollout, moto_guard, remote_tasks

caller = contextvars.ContextVar("caller", default=None)  # the IAM ARN of the request being answered


def _page(items: list, max_results, next_token: str | None, limit: int = 100) -> tuple[list, str | None]:
    """One page of `items` and the token of the next (opaque: the offset, encoded)."""
    if max_results is not None and not 1 <= int(max_results) <= limit:
        raise InvalidParameterException(f"maxResults must be between 1 and {limit}.")
    try:
        start = int(base64.urlsafe_b64decode(next_token.encode()).decode()) if next_token else 0
    except ValueError:
        raise InvalidParameterException("Invalid nextToken.") from None
    size = int(max_results or limit)
    end = start + size
    return items[start:end], (base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None)


def _services(backend, cluster: str, service: str | None = None) -> list:
    name = cluster.split("/")[-1]
    return [svc for key, svc in backend.services.items()
            if key.split(":", 1)[0] == name and (service is None or svc.name == service.split("/")[-1])]


def _list_tasks(self):
    cluster = self._get_param("cluster", "default")
    service, family = self._get_param("serviceName"), self._get_param("family")
    started_by, desired = self._get_param("startedBy"), self._get_param("desiredStatus") or "RUNNING"
    self.ecs_backend._get_cluster(cluster)  # ClusterNotFoundException, as ECS
    if service and not _services(self.ecs_backend, cluster, service):
        raise EcsClientException("Service not found.")  # ServiceNotFoundException is for UpdateService & co
    with ecs_rollout._lock:
        arns = []
        for svc in _services(self.ecs_backend, cluster, service):
            ecs_rollout.tick(svc)
            for t in ecs_rollout.tasks_of(svc):
                if (t["desiredStatus"] == desired and (not started_by or t["startedBy"] == started_by)
                        and (not family or t["taskDefinitionArn"].split("/")[-1].rsplit(":", 1)[0] == family)):
                    arns.append(t["taskArn"])
    if not service:  # RunTask's own tasks: remote runs (remote_tasks.py), then moto's
        arns += [t["taskArn"] for t in remote_tasks.known(cluster).values()
                 if t["desiredStatus"] == desired and (not started_by or t["startedBy"] == started_by)
                 and (not family or t["group"] == f"family:{family}")]
        arns += [t.task_arn for t in self.ecs_backend.list_tasks(cluster, self._get_param("containerInstance"),
                                                                 family, started_by, None, desired)]
    page, token = _page(arns, self._get_param("maxResults"), self._get_param("nextToken"))
    return ActionResult({"taskArns": page, **({"nextToken": token} if token else {})})


def _describe_tasks(self):
    cluster = self._get_param("cluster", "default")
    wanted = self._get_param("tasks") or []
    if not wanted:
        raise InvalidParameterException("Tasks cannot be empty.")
    if len(wanted) > 100:
        raise InvalidParameterException("Tasks cannot have more than 100 elements.")
    self.ecs_backend._get_cluster(cluster)
    with ecs_rollout._lock:
        ours = {}
        for svc in _services(self.ecs_backend, cluster):
            ecs_rollout.tick(svc)
            ours |= {t["taskArn"].split("/")[-1]: t for t in ecs_rollout.tasks_of(svc)}
    ours |= remote_tasks.known(cluster)
    found, failures, theirs = [], [], []
    for ref in wanted:
        task = ours.get(ref.split("/")[-1])
        if task:
            found.append(task)
        else:
            theirs.append(ref)
    known = self.ecs_backend.describe_tasks(cluster, theirs) if theirs else []
    for ref in theirs:
        if not any(ref in (t.task_arn, t.id) for t in known):
            failures.append({"arn": ref, "reason": "MISSING"})
    return ActionResult({"tasks": found + known, "failures": failures})


def _list_task_definitions(self):
    family, status = self._get_param("familyPrefix"), self._get_param("status") or "ACTIVE"
    order = self._get_param("sort") or "ASC"
    if order not in ("ASC", "DESC"):
        raise InvalidParameterException("sort must be ASC or DESC.")
    tds = [td for revisions in self.ecs_backend.task_definitions.values() for td in revisions.values()
           if (family is None or td.family == family) and td.status == status]
    # ASC: by family name, then revision, newest last; DESC reverses both.
    tds.sort(key=lambda td: (td.family, td.revision), reverse=order == "DESC")
    page, token = _page([td.arn for td in tds], self._get_param("maxResults"), self._get_param("nextToken"))
    return ActionResult({"taskDefinitionArns": page, **({"nextToken": token} if token else {})})


def _deployment_status(svc, dep: dict) -> str:
    """A deployment's service-deployment status, from the simulator's rollout state."""
    state = dep.get("rolloutState")
    if state == "IN_PROGRESS":
        return "ROLLBACK_IN_PROGRESS" if dep.get("_rollback_of") else "IN_PROGRESS"
    if state == "COMPLETED":
        return "ROLLBACK_SUCCESSFUL" if dep.get("_rollback_of") else "SUCCESSFUL"
    if state == "FAILED":
        return "ROLLBACK_REQUESTED" if dep.get("_rolled_back") else "STOPPED"
    return "STOPPED"


def _deployment_arns(svc, dep: dict) -> tuple[str, str]:
    number = dep["id"].split("/")[-1]
    base = f"arn:aws:ecs:{svc.region_name}:{svc._account_id}"
    return (f"{base}:service-deployment/{svc.cluster_name}/{svc.name}/{number}",
            f"{base}:service-revision/{svc.cluster_name}/{svc.name}/{number}")


def _history(svc) -> list[dict]:
    """Every deployment the service had, newest first (ECS keeps them 90 days)."""
    seen = {d["id"] for d in svc.deployments}
    return list(svc.deployments) + [d for d in getattr(svc, "_history", []) if d["id"] not in seen]


def _brief(svc, dep: dict) -> dict:
    arn, revision = _deployment_arns(svc, dep)
    status = _deployment_status(svc, dep)
    brief = {"serviceDeploymentArn": arn, "serviceArn": svc.arn, "clusterArn": svc.cluster_arn,
             "createdAt": dep["createdAt"], "startedAt": dep["createdAt"], "targetServiceRevisionArn": revision,
             "status": status, "statusReason": dep.get("rolloutStateReason")}
    if status not in ("IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "PENDING"):
        brief["finishedAt"] = dep["updatedAt"]
    return brief


def _epoch(value) -> float:
    """Seconds since the epoch of a timestamp as moto holds it (a naive UTC datetime) or as its
    parameter parser hands it over (an aware datetime: botocore parses the request's epoch number)."""
    from datetime import timezone

    if hasattr(value, "timestamp"):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    return float(value)


def _list_service_deployments(self):
    cluster, service = self._get_param("cluster", "default"), self._get_param("service")
    if not service:
        raise InvalidParameterException("service must be specified.")
    wanted = set(self._get_param("status") or [])
    svcs = _services(self.ecs_backend, cluster, service)
    if not svcs:
        raise EcsClientException("Service not found.")
    with ecs_rollout._lock:
        ecs_rollout.tick(svcs[0])
        briefs = [_brief(svcs[0], d) for d in _history(svcs[0])]
    briefs = [b for b in briefs if not wanted or b["status"] in wanted]
    window = self._get_param("createdAt") or {}
    if window.get("after"):
        briefs = [b for b in briefs if _epoch(b["createdAt"]) >= _epoch(window["after"])]
    if window.get("before"):
        briefs = [b for b in briefs if _epoch(b["createdAt"]) <= _epoch(window["before"])]
    page, token = _page(briefs, self._get_param("maxResults"), self._get_param("nextToken"))
    return ActionResult({"serviceDeployments": page, **({"nextToken": token} if token else {})})


def _describe_service_deployments(self):
    arns = self._get_param("serviceDeploymentArns") or []
    if not arns or len(arns) > 20:
        raise InvalidParameterException("serviceDeploymentArns must name between 1 and 20 deployments.")
    found, failures = [], []
    with ecs_rollout._lock:
        by_arn = {}
        for svc in self.ecs_backend.services.values():
            ecs_rollout.tick(svc)
            for dep in _history(svc):
                by_arn[_deployment_arns(svc, dep)[0]] = (svc, dep)
        for arn in arns:
            if arn not in by_arn:
                failures.append({"arn": arn, "reason": "MISSING", "detail": "The service deployment was not found."})
                continue
            found.append(_service_deployment(*by_arn[arn]))
    return ActionResult({"serviceDeployments": found, "failures": failures})


def _service_deployment(svc, dep: dict) -> dict:
    out = _brief(svc, dep)
    revision = out.pop("targetServiceRevisionArn")
    out["updatedAt"] = dep["updatedAt"]
    out["targetServiceRevision"] = {"arn": revision, "requestedTaskCount": dep["desiredCount"],
                                    "runningTaskCount": dep["runningCount"], "pendingTaskCount": dep["pendingCount"]}
    older = [d for d in _history(svc) if d["createdAt"] < dep["createdAt"] and d is not dep][:1]
    out["sourceServiceRevisions"] = [{"arn": _deployment_arns(svc, d)[1], "requestedTaskCount": d["desiredCount"],
                                      "runningTaskCount": d["runningCount"], "pendingTaskCount": d["pendingCount"]}
                                     for d in older]
    breaker = (getattr(svc, "deployment_configuration", None) or {}).get("deploymentCircuitBreaker") or {}
    threshold = ecs_rollout._failure_threshold(dep["desiredCount"])
    if breaker.get("enable"):
        tripped = dep.get("rolloutState") == "FAILED"
        out["deploymentCircuitBreaker"] = {
            "status": "TRIGGERED" if tripped else "MONITORING" if dep.get("rolloutState") == "IN_PROGRESS"
            else "MONITORING_COMPLETE", "failureCount": dep.get("failedTasks", 0), "threshold": threshold}
    else:
        out["deploymentCircuitBreaker"] = {"status": "DISABLED", "failureCount": dep.get("failedTasks", 0),
                                           "threshold": threshold}
    if dep.get("_rolled_back"):
        out["rollback"] = {"reason": dep.get("rolloutStateReason"), "startedAt": dep["updatedAt"],
                           "serviceRevisionArn": _deployment_arns(svc, dep["_rolled_back"])[1]}
    return out


def _describe_service_revisions(self):
    """A service revision as DescribeServiceRevisions documents it: the task definition (and
    launch type, images) a deployment rolled out, at most 20 ARNs, unknown ones in `failures`
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServiceRevisions.html)."""
    arns = self._get_param("serviceRevisionArns") or []
    if not arns or len(arns) > 20:
        raise InvalidParameterException("serviceRevisionArns must name between 1 and 20 service revisions.")
    found, failures = [], []
    with ecs_rollout._lock:
        by_arn = {_deployment_arns(svc, dep)[1]: (svc, dep) for svc in self.ecs_backend.services.values()
                  for dep in _history(svc)}
        for arn in arns:
            if arn not in by_arn:
                failures.append({"arn": arn, "reason": "MISSING", "detail": "The service revision was not found."})
                continue
            svc, dep = by_arn[arn]
            image = _image_of(self.ecs_backend, dep["taskDefinition"])
            found.append({"serviceRevisionArn": arn, "serviceArn": svc.arn, "clusterArn": svc.cluster_arn,
                          "taskDefinition": dep["taskDefinition"], "launchType": dep.get("launchType") or "FARGATE",
                          "platformVersion": dep.get("platformVersion"), "platformFamily": dep.get("platformFamily"),
                          "containerImages": [{**image, **({"imageDigest": dep["_image_digest"]}
                                                           if dep.get("_image_digest") else {})}],
                          "createdAt": dep["createdAt"]})
    return ActionResult({"serviceRevisions": found, "failures": failures})


def _image_of(backend, task_definition: str) -> dict:
    """The first container's name and image (a deleted revision: the service revision still names it)."""
    try:
        defs = backend.describe_task_definition(task_definition).container_definitions
    except Exception:  # noqa: BLE001 - deleted since
        defs = []
    return {"containerName": defs[0].get("name") or "", "image": defs[0].get("image") or ""} if defs else \
        {"containerName": "", "image": ""}


def _install_task_definition_fields() -> None:
    orig_init = TaskDefinition.__init__
    orig_deregister = EC2ContainerServiceBackend.deregister_task_definition

    def __init__(self, *args, **kwargs):
        orig_init(self, *args, **kwargs)
        self.registered_at = utcnow()
        # ECS records the principal that registered the revision; the seed's history is claude-deploy's.
        self.registered_by = caller.get() or f"arn:aws:iam::{kwargs.get('account_id', args[3])}:user/claude-deploy"

    def deregister_task_definition(self, task_definition_str: str):
        td = orig_deregister(self, task_definition_str)
        if getattr(td, "deregistered_at", None) is None:
            td.deregistered_at = utcnow()
        return td

    TaskDefinition.__init__ = __init__
    EC2ContainerServiceBackend.deregister_task_definition = deregister_task_definition


def caller_arn(access_key_id: str | None) -> str | None:
    """The IAM user whose access key signed the request (moto keeps them in its IAM backend)."""
    if not access_key_id:
        return None
    from moto.iam.models import iam_backends

    for account in list(iam_backends.keys()):
        for user in iam_backends[account]["aws"].users.values():
            if any(k.access_key_id == access_key_id for k in user.access_keys):
                return user.arn
    return None


def _with_caller(fn):
    def answer(self):
        import re

        found = re.search(r"Credential=([^/]+)/", self.headers.get("Authorization", ""))
        token = caller.set(caller_arn(found.group(1)) if found else None)
        try:
            return fn(self)
        finally:
            caller.reset(token)
    return answer


@moto_guard.patches
def install() -> None:
    _install_task_definition_fields()
    r = EC2ContainerServiceResponse
    r.list_tasks, r.describe_tasks, r.list_task_definitions = _list_tasks, _describe_tasks, _list_task_definitions
    r.list_service_deployments = _list_service_deployments
    r.describe_service_deployments = _describe_service_deployments
    r.describe_service_revisions = _describe_service_revisions
    r.register_task_definition = _with_caller(r.register_task_definition)
