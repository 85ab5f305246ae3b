"""What a task does when ECS starts it, in the sandbox: the causes of the incident
drills. A fault belongs to the image, as in production, never to the service, so the
remedy that replaces the image (a rollback, a hotfix) is the one that mends it:

- the image is not in ECR (a lifecycle policy expired it, a tag never pushed): ECS
  cannot pull it, and each task stops with CannotPullContainerError
  (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-errors.html);
- the image crashes (`crash(tag)`): its container exits soon after it starts
  (exit code 137, OutOfMemoryError), every replacement too;
- the image's /health handler is broken (`break_health(tag)`): requests are served
  (the ALB's target checks pass), but /health answers 500, so the §5 canary fails.

The faults live for the sandbox's life; a reset clears them (`clear`)."""
from __future__ import annotations

ACCOUNT = "123456789012"
_crashing: dict[str, str] = {}  # image tag -> why its container exits
_broken_health: set[str] = set()


def crash(tag: str, why: str = "Essential container in task exited (exit code 137, OutOfMemoryError: "
                               "Container killed due to memory usage)") -> None:
    _crashing[tag] = why


def break_health(tag: str) -> None:
    _broken_health.add(tag)


def health_broken(tag: str | None) -> bool:
    return tag in _broken_health


def clear() -> None:
    _crashing.clear()
    _broken_health.clear()


def image_of(backend, task_definition_arn: str) -> str:
    td = backend.describe_task_definition(task_definition_arn)
    return td.container_definitions[0]["image"]


def cannot_run(region: str, task_definition_arn: str) -> str | None:
    """Why a new task of this revision stops at once, or None if it runs."""
    from moto.ecs.models import ecs_backends

    image = image_of(ecs_backends[ACCOUNT][region], task_definition_arn)
    tag = image.rsplit(":", 1)[-1]
    if not _in_ecr(region, image):
        return (f"CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve "
                f"ref {image}: not found")
    return _crashing.get(tag)


def _in_ecr(region: str, image: str) -> bool:
    """The image's tag is in the sandbox's ECR repository (an image elsewhere is not pulled)."""
    from moto.ecr.models import ecr_backends

    host, _, path = image.partition("/")
    if ".dkr.ecr." not in host:
        return True  # not ECR's (a public image): outside the sandbox's world, assumed pullable
    if "@" in path:
        repo_name, digest = path.split("@", 1)
        found = lambda i: i.image_digest == digest  # noqa: E731
    else:
        repo_name, _, tag = path.rpartition(":")
        found = lambda i: tag in (i.image_tags or [i.image_tag])  # noqa: E731
    repo = ecr_backends[host.split(".", 1)[0]][region].repositories.get(repo_name)
    return bool(repo) and any(found(i) for i in repo.images)
