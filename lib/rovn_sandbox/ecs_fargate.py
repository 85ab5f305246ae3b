"""RegisterTaskDefinition's Fargate rules, which moto does not check (it knows only
pidMode): a FARGATE-compatible task definition that asks for what Fargate cannot
give is refused at registration with ECS's ClientException, worded as ECS words it
("Fargate compatible task definitions do not support sourcePath").

tmpfs: AWS documented `linuxParameters.tmpfs` as unsupported on Fargate until
2026-01-06, when ECS added tmpfs mounts for Fargate Linux tasks. The sandbox follows
today's ECS and accepts it; scenario `ecs_fargate_no_tmpfs` gives the older ECS
(or a partition without the feature), which refuses it."""
from __future__ import annotations

from moto.ecs.exceptions import EcsClientException
from moto.ecs.models import EC2ContainerServiceBackend

from rovn_sandbox import moto_guard, scenarios

_LINUX_UNSUPPORTED = ("devices", "sharedMemorySize", "maxSwap", "swappiness")


def refusal(volumes: list[dict] | None, containers: list[dict]) -> str | None:
    """ECS's message for the first Fargate rule broken, or None."""
    for v in volumes or []:
        if (v.get("host") or {}).get("sourcePath"):
            return "Fargate compatible task definitions do not support sourcePath"
        if v.get("dockerVolumeConfiguration"):
            return "Fargate compatible task definitions do not support dockerVolumeConfiguration"
    for c in containers:
        if c.get("privileged"):
            return "Fargate compatible task definitions do not support privileged"
        linux = c.get("linuxParameters") or {}
        for name in _LINUX_UNSUPPORTED:
            if linux.get(name) not in (None, []):
                return f"Fargate compatible task definitions do not support {name}"
        if linux.get("tmpfs") and scenarios.active("ecs_fargate_no_tmpfs"):
            return "Fargate compatible task definitions do not support tmpfs"
    return None


def size_refusal(cpu, memory) -> str | None:
    """ECS's ClientException for a task size Fargate lacks (see rovn_ops.core.fargate_sizes for
    AWS's table); Fargate requires both at task level."""
    from rovn_ops.core import fargate_sizes

    cpu, memory = str(cpu or ""), str(memory or "")
    if not cpu or fargate_sizes.cpu_problem(cpu):
        return "Invalid 'cpu' setting for task."
    if not memory or fargate_sizes.memory_problem(memory) or fargate_sizes.pair_problem(cpu, memory):
        return "No Fargate configuration exists for given values."
    return None


@moto_guard.patches
def install() -> None:
    original = EC2ContainerServiceBackend.register_task_definition

    def register_task_definition(self, family, container_definitions, volumes=None, *args, **kwargs):
        if "FARGATE" in (kwargs.get("requires_compatibilities") or []):
            message = refusal(volumes, container_definitions) or size_refusal(kwargs.get("cpu"),
                                                                               kwargs.get("memory"))
            if message:
                raise EcsClientException(message)
        return original(self, family, container_definitions, volumes, *args, **kwargs)

    EC2ContainerServiceBackend.register_task_definition = register_task_definition
