"""§9's read-only root filesystem per launch type (the deploy gate), and the sandbox's
RegisterTaskDefinition refusing what Fargate refuses, with ECS's words."""
from __future__ import annotations

import copy

import pytest

from rovn_ops.ecs import filesystem, taskdef
from rovn_sandbox import control

FARGATE = {"family": "f", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc", "cpu": "256",
           "memory": "512", "volumes": [{"name": "tmp"}],
           "containerDefinitions": [{"name": "api", "image": "r:prod-202605270526", "essential": True,
                                     "user": "10001", "readonlyRootFilesystem": True,
                                     "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp"}]}]}


def _spec(volumes=None, compat=("FARGATE",), **container) -> dict:
    spec = copy.deepcopy(FARGATE)
    spec["requiresCompatibilities"] = list(compat)
    if volumes is not None:
        spec["volumes"] = volumes
    spec.update({k: container.pop(k) for k in ("cpu", "memory") if k in container})  # task-level
    spec["containerDefinitions"][0].update(container)
    return spec


def _problems(spec) -> list[str]:
    return filesystem.problems(spec, spec["containerDefinitions"][0])


TMPFS = {"linuxParameters": {"tmpfs": [{"containerPath": "/tmp", "size": 64}]}, "mountPoints": []}


def test_the_fargate_form_passes():
    assert _problems(_spec()) == []
    assert not any(taskdef.problems(_spec()).values())


@pytest.mark.parametrize("spec, expected", [
    (_spec(readonlyRootFilesystem=False), "root filesystem is writable"),
    (_spec(mountPoints=[]), "no writable /tmp"),
    (_spec(volumes=[{"name": "tmp", "host": {"sourcePath": "/var/tmp"}}]), "(host)"),
    (_spec(volumes=[{"name": "tmp", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}]), "(efsVolumeConfiguration)"),
    (_spec(volumes=[{"name": "tmp"}, {"name": "data"}],
           mountPoints=[{"sourceVolume": "tmp", "containerPath": "/tmp"},
                        {"sourceVolume": "data", "containerPath": "/app/data"}]), "/app/data is writable"),
])
def test_writable_paths_only_scratch_on_ephemeral_volumes(spec, expected):
    found = _problems(spec)
    assert len(found) == 1 and expected in found[0], found


def test_a_read_only_mount_elsewhere_is_fine():
    spec = _spec(volumes=[{"name": "tmp"}, {"name": "cfg", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}],
                 mountPoints=[{"sourceVolume": "tmp", "containerPath": "/tmp"},
                              {"sourceVolume": "cfg", "containerPath": "/etc/rovn", "readOnly": True}])
    assert _problems(spec) == []


def test_tmpfs_only_where_the_launch_type_supports_it(monkeypatch):
    assert _problems(_spec(compat=("EC2",), **TMPFS)) == []
    assert _problems(_spec(**TMPFS)) == []  # Fargate supports tmpfs since 2026-01-06
    monkeypatch.setattr(filesystem, "FARGATE_TMPFS", False)
    assert "not supported on FARGATE" in _problems(_spec(**TMPFS))[0]
    assert _problems(_spec(compat=("EC2",), **TMPFS)) == []


def test_the_sandbox_world_is_in_the_fargate_form(fresh, aws):
    td = aws("ecs").describe_task_definition(taskDefinition="rovn-passport-api:288")["taskDefinition"]
    app = td["containerDefinitions"][0]
    assert td["requiresCompatibilities"] == ["FARGATE"] and "tmpfs" not in (app.get("linuxParameters") or {})
    assert _problems(td) == []


@pytest.mark.parametrize("change, message", [
    ({"volumes": [{"name": "tmp", "host": {"sourcePath": "/var/tmp"}}]},
     "Fargate compatible task definitions do not support sourcePath"),
    ({"linuxParameters": {"sharedMemorySize": 64}}, "Fargate compatible task definitions do not support sharedMemorySize"),
    ({"cpu": "lots"}, "Invalid 'cpu' setting for task"),
    ({"cpu": "256", "memory": "4096"}, "No Fargate configuration exists for given values"),
    ({"memory": "-5"}, "No Fargate configuration exists for given values"),
])
def test_the_sandbox_ecs_refuses_what_fargate_refuses(fresh, aws, change, message):
    ecs = aws("ecs")
    spec = _spec(**{k: v for k, v in change.items() if k != "volumes"}, volumes=change.get("volumes"))
    with pytest.raises(ecs.exceptions.ClientException, match=message):
        ecs.register_task_definition(**spec)
    ecs.register_task_definition(**_spec(compat=("EC2",), **{k: v for k, v in change.items() if k != "volumes"},
                                         volumes=change.get("volumes")))  # EC2 takes it


def test_tmpfs_on_fargate_refused_by_the_older_ecs(fresh, aws):
    ecs = aws("ecs")
    ecs.register_task_definition(**_spec(**TMPFS))  # today's ECS
    control.scenario(fresh, "ecs_fargate_no_tmpfs")
    with pytest.raises(ecs.exceptions.ClientException,
                       match="Fargate compatible task definitions do not support tmpfs"):
        ecs.register_task_definition(**_spec(**TMPFS))
    ecs.register_task_definition(**_spec(compat=("EC2",), **TMPFS))


# AWS's table of Fargate task sizes:
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
@pytest.mark.parametrize("cpu, memory, ok", [
    ("256", "512", True), ("256", "2048", True), ("256", "3072", False), ("512", "4096", True),
    ("1024", "8192", True), ("1024", "9216", False), ("2048", "16384", True), ("4096", "30720", True),
    ("4096", "31744", False), ("8192", "61440", True), ("8192", "17408", False), ("16384", "122880", True),
    ("16384", "32768", True), ("16384", "40000", False),
])
def test_fargate_task_sizes_follow_aws_table(cpu, memory, ok):
    from rovn_ops.core import fargate_sizes

    assert (fargate_sizes.pair_problem(cpu, memory) is None) is ok
    assert fargate_sizes.cpu_problem("lots") and fargate_sizes.memory_problem("-5")
    assert fargate_sizes.cpu_problem("") is None and fargate_sizes.memory_problem("") is None
