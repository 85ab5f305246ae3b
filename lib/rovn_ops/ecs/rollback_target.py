"""Can the service go back to this revision? A rollback is the outage's remedy, so its
target must be one that will run (§7, §9):

- the revision is ACTIVE (ECS refuses to update a service to an INACTIVE one:
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deregister-task-definition-v2.html);
- its image is still in ECR (a lifecycle policy may have expired it: the tasks would
  stop with CannotPullContainerError);
- its scan is clean: below the threshold, and a status that vouches for it (image.py
  judges each status DescribeImageScanFindings reports, basic and enhanced).

`choose` walks the revisions audit_log records as verified healthy, newest first, and
takes the first that passes, naming each it skipped and why. It lives below deploy and
rollback: the rollback runbook picks its target with it, and a deploy prints the
rollback command it would take (`destination`), never a revision whose image is gone."""
from __future__ import annotations

from dataclasses import dataclass, field

from rovn_ops.ecs import image, taskdef

MAX_CANDIDATES = 10  # verified revisions tried, newest first, before refusing


@dataclass(frozen=True)
class Judged:
    target: taskdef.TaskDefinition
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    scan: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        return f"{self.target.short} ({self.target.image_tag}): " + ("; ".join(self.problems) or self.scan)


def judge(ecr, target: taskdef.TaskDefinition, threshold: str) -> Judged:
    problems = [] if target.status == "ACTIVE" else [
        f"{target.short} is {target.status}, not ACTIVE: ECS will not update a service to it"]
    registry, repository, ref = image.reference(target.image)
    if not registry:
        return Judged(target, problems + [f"its image {target.image} is not in an ECR registry"])
    scan = image.scan(ecr, repository, ref)
    return Judged(target, problems + scan.problems(threshold), scan.warnings(), scan.summary())


def choose(ecs, ecr, candidates: list[str], threshold: str) -> tuple[Judged | None, list[Judged]]:
    """(the first candidate that passes, the ones skipped before it)."""
    skipped: list[Judged] = []
    for arn in dict.fromkeys(candidates[:MAX_CANDIDATES]):  # newest first, each once
        judged = judge(ecr, taskdef.TaskDefinition.describe(ecs, arn), threshold)
        if judged.ok:
            return judged, skipped
        skipped.append(judged)
    return None, skipped


def verified(conn, family: str) -> list[dict]:
    """Revisions audit_log records as verified healthy, newest first: each deploy's or
    rollback's success row, with when it was verified."""
    rows = conn.execute(
        "SELECT id, occurred_at, action, run_id, CASE WHEN action = 'deploy' THEN details->>'new_task_definition' "
        "ELSE details->>'to_task_definition' END FROM audit_log WHERE outcome = 'success' "
        "AND action IN ('deploy', 'rollback') ORDER BY id DESC").fetchall()
    return [{"audit_id": i, "at": at, "action": action, "run_id": run, "task_definition": td}
            for i, at, action, run, td in rows if td and td.rsplit("/", 1)[-1].split(":")[0] == family]


def destination(ecs, ecr, conn, preferred: taskdef.TaskDefinition, running: str,
                threshold: str) -> Judged | None:
    """Where a rollback from `running` would go: `preferred` (the revision a deploy
    replaced) if it passes, else the newest verified-healthy revision that does; None
    when none does."""
    judged = judge(ecr, preferred, threshold)
    if judged.ok:
        return judged
    others = [h["task_definition"] for h in verified(conn, preferred.spec["family"])
              if h["task_definition"] not in (running, preferred.arn)]
    return choose(ecs, ecr, others, threshold)[0]
