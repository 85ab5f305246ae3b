"""Picking up a deploy that was killed: the same command, run again, finishes the job.

A deploy leaves its marks in the world before its audit row: the revision it
registered carries its deploy key, its run id and the revision it replaces (tags),
and the migrations it applied are in schema_migrations under its run id. A revision
of ours that the service runs but that no final deploy row (success or failed) names
is an unfinished deploy. A redeploy that reuses a revision (the same base and spec: the
same deploy key) marks it with its own run id before update-service (TAG_ROLLOUT), so
its kill mid-rollout is unfinished too, although the run that registered it finished. The re-run plans from the revision it replaced, so the plan,
and its hash, are the ones that were approved, then finds the build, the migrations,
the revision and the deployment already made, verifies, and writes the one row.
"""
from __future__ import annotations

from dataclasses import dataclass

from rovn_ops.ecs import taskdef

FINAL = ("success", "failed")


@dataclass(frozen=True)
class Unfinished:
    base: taskdef.TaskDefinition   # the revision the killed deploy replaces: the plan's "from"
    ours: taskdef.TaskDefinition   # the revision it registered, which the service runs
    run_id: str

    def __str__(self) -> str:
        return (f"run {self.run_id} registered {self.ours.short} (from {self.base.short}) and started its rollout, "
                "but never wrote its audit row: this run picks it up, verifies and logs it")


def finished_runs(conn) -> set[str]:
    """Deploy runs with a final row, and the runs such a row says it finished for."""
    rows = conn.execute("SELECT run_id, details->'resumes' FROM audit_log WHERE action = 'deploy' "
                        "AND outcome = ANY(%s)", [list(FINAL)]).fetchall()
    return {r for r, _ in rows if r} | {x for _, resumed in rows for x in (resumed or [])}


def unfinished(conn, ecs, live: taskdef.TaskDefinition) -> Unfinished | None:
    """The service's revision, if an unfinished deploy of ours put it there."""
    rollout_run = live.tags.get(taskdef.TAG_ROLLOUT)
    run_id, base = rollout_run or live.tags.get(taskdef.TAG_RUN), live.tags.get(taskdef.TAG_BASE)
    if not (run_id and base and live.tags.get(taskdef.TAG_KEY)):
        return None
    if run_id in finished_runs(conn):  # the run that last rolled it out, or one resuming it, ended
        return None
    if not rollout_run and conn.execute(  # revisions from before TAG_ROLLOUT: judged by the revision
            "SELECT 1 FROM audit_log WHERE action = 'deploy' AND outcome = ANY(%s) "
            "AND details->>'new_task_definition' = %s LIMIT 1", [list(FINAL), live.arn]).fetchone():
        return None
    return Unfinished(taskdef.TaskDefinition.describe(ecs, base), live, run_id)


def earlier_migrations(conn) -> dict[str, str]:
    """{migration: run id} applied by a deploy run that never finished (killed, or
    interrupted): the re-run's plan lists them again, as the approved plan did."""
    from rovn_ops.migrations import engine

    done = finished_runs(conn)
    return {r["name"]: r["run_id"] for r in engine.applied(conn)
            if r["run_id"] and "-deploy-" in r["run_id"] and r["run_id"] not in done}
