"""The task definition: the current revision, the new one (a copy with only the image
changed, unless cpu, memory or environment are changed explicitly), their diff, and
§8/§9's rules. A revision this deploy registers carries the deploy's key as a tag,
so a re-run after a crash finds it instead of registering a duplicate. Nothing here
deregisters: the previous revision is the rollback target."""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from rovn_ops.safety.scrub import looks_secret_env_name, looks_secret_value
from rovn_ops.ecs import filesystem
from rovn_ops.core import controls

# What RegisterTaskDefinition accepts back from DescribeTaskDefinition.
REGISTERABLE = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "volumes",
                "placementConstraints", "requiresCompatibilities", "cpu", "memory", "pidMode", "ipcMode",
                "proxyConfiguration", "inferenceAccelerators", "ephemeralStorage", "runtimePlatform")
TAG_KEY, TAG_RUN, TAG_BASE = "rovn:deploy-key", "rovn:run-id", "rovn:base"  # base: the revision it replaces
# The run that last started a rollout of the revision: a redeploy that reuses a revision an
# earlier, finished run registered marks it with its own run id, so a kill mid-rollout is
# seen as unfinished (deploy/resume.py) instead of as that earlier run's finished deploy.
TAG_ROLLOUT = "rovn:rollout-run"
READ_ONLY_ROOT = "read-only root filesystem, writable scratch only"
SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+", re.ASCII)


@dataclass(frozen=True)
class TaskDefinition:
    arn: str
    spec: dict   # the registerable fields
    tags: dict
    status: str = "ACTIVE"   # ACTIVE, INACTIVE (deregistered) or DELETE_IN_PROGRESS

    @classmethod
    def describe(cls, ecs, ref: str) -> "TaskDefinition":
        out = ecs.describe_task_definition(taskDefinition=ref, include=["TAGS"])
        td = out["taskDefinition"]
        spec = {k: td[k] for k in REGISTERABLE if td.get(k) not in (None, [], {})}
        return cls(td["taskDefinitionArn"], spec, {t["key"]: t["value"] for t in out.get("tags") or []},
                   td.get("status", "ACTIVE"))

    @property
    def short(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def revision(self) -> int:
        return int(self.arn.rsplit(":", 1)[-1])

    @property
    def image(self) -> str:
        return app_container(self.spec)["image"]

    @property
    def image_tag(self) -> str:
        return self.image.rsplit(":", 1)[-1]


def app_container(spec: dict) -> dict:
    """The container the deploy changes: the first essential one."""
    containers = spec["containerDefinitions"]
    return next((c for c in containers if c.get("essential", True)), containers[0])


def render(current: TaskDefinition, image: str, cpu: str = "", memory: str = "",
           set_env: dict[str, str] | None = None) -> dict:
    """The new revision's spec: the current one with only what was asked changed."""
    spec = copy.deepcopy(current.spec)
    app = app_container(spec)
    app["image"] = image
    if cpu:
        spec["cpu"] = cpu
    if memory:
        spec["memory"] = memory
    if set_env:
        env = {e["name"]: e["value"] for e in app.get("environment", [])} | set_env
        app["environment"] = [{"name": k, "value": v} for k, v in sorted(env.items())]
    if (cpu or memory) and "FARGATE" in spec.get("requiresCompatibilities", []):
        _check_size(spec, "cpu" if cpu else "memory")
    return spec


def _check_size(spec: dict, asked: str) -> None:
    """One of cpu and memory changed: the pair with the live revision's other value must be
    one Fargate has, or ECS refuses the registration after the build (fargate_sizes)."""
    from rovn_ops.core import fargate_sizes
    from rovn_ops.core.errors import BadInput

    problem = fargate_sizes.pair_problem(str(spec.get("cpu", "")), str(spec.get("memory", "")))
    if problem:
        kept = "memory" if asked == "cpu" else "cpu"
        raise BadInput(f"parameter '{asked}': with the current revision's {kept} {spec.get(kept)}, expected a "
                       f"Fargate pair: {problem} (set both -p cpu= and -p memory=)")


def diff(before: dict, after: dict) -> dict[str, list]:
    """Changed leaves, by path (containers by name): {path: [before, after]}."""
    a, b = _flatten(before), _flatten(after)
    return {k: [a.get(k), b.get(k)] for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)}


def _flatten(node, prefix: str = "") -> dict:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            out |= _flatten(v, f"{prefix}.{k}" if prefix else k)
        return out
    if isinstance(node, list) and node and all(isinstance(i, dict) and "name" in i for i in node):
        out = {}
        for item in node:  # {"name": "PORT", "value": "8000"} → [PORT]: "8000"
            rest = {k: v for k, v in item.items() if k != "name"}
            out |= _flatten(next(iter(rest.values())) if len(rest) == 1 else rest, f"{prefix}[{item['name']}]")
        return out
    return {prefix: node}


@controls.enforces('§8/§9 task definition')
def problems(spec: dict) -> dict[str, list[str]]:
    """§9 and §8 for every container, by check name: the problems found."""
    found = {"non-root user": [], READ_ONLY_ROOT: [],
             "secrets only as Secrets Manager references": [], "no secret-looking environment value": []}
    for c in spec["containerDefinitions"]:
        name = c["name"]
        user = str(c.get("user", "")).split(":")[0]
        if user in ("", "root", "0"):
            found["non-root user"].append(f"container {name} runs as {user or 'root (no user set)'}")
        found[READ_ONLY_ROOT] += filesystem.problems(spec, c)
        for s in c.get("secrets", []):
            if not SECRET_ARN.match(s.get("valueFrom", "")):
                found["secrets only as Secrets Manager references"].append(
                    f"container {name}: secret {s['name']} is not a Secrets Manager ARN")
        for e in c.get("environment", []):
            if looks_secret_env_name(e["name"]) or looks_secret_value(e.get("value", "")):
                found["no secret-looking environment value"].append(
                    f"container {name}: environment {e['name']} looks like a secret; use a secrets valueFrom")
    return found


def register(ecs, spec: dict, key: str, run_id: str, base: str = "") -> TaskDefinition:
    tags = [{"key": TAG_KEY, "value": key}, {"key": TAG_RUN, "value": run_id}]
    arn = ecs.register_task_definition(**spec, tags=tags + ([{"key": TAG_BASE, "value": base}] if base else [])
                                       )["taskDefinition"]
    return TaskDefinition.describe(ecs, arn["taskDefinitionArn"])


def mark_rollout(ecs, td: TaskDefinition, run_id: str) -> TaskDefinition:
    """Tag the revision with the run about to roll it out (TagResource takes task
    definitions: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_TagResource.html)."""
    ecs.tag_resource(resourceArn=td.arn, tags=[{"key": TAG_ROLLOUT, "value": run_id}])
    return TaskDefinition(td.arn, td.spec, {**td.tags, TAG_ROLLOUT: run_id}, td.status)


def find_registered(ecs, family: str, after_revision: int, key: str) -> TaskDefinition | None:
    """A revision newer than the base that carries this deploy's key (newest first)."""
    latest = TaskDefinition.describe(ecs, family)
    for rev in range(latest.revision, after_revision, -1):
        td = latest if rev == latest.revision else _describe_or_none(ecs, f"{family}:{rev}")
        if td and td.tags.get(TAG_KEY) == key:
            return td
    return None


def _describe_or_none(ecs, ref: str) -> TaskDefinition | None:
    try:
        return TaskDefinition.describe(ecs, ref)
    except ecs.exceptions.ClientException:
        return None
