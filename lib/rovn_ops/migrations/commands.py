"""`rovn-ops migrations status|verify|apply`: the engine as a command.

`apply` writes to the database outside any runbook, so it is the sandbox's tool only:
outside the sandbox it is refused and names the runbooks that apply migrations
through the protocol (preview, plan hash, approvers, evidence): `deploy` (pending
migrations run before traffic) and `migration_reversal`. In the sandbox it still
checks §10's allow-list and the approvers, as the runbooks do.
"""
from __future__ import annotations

from rovn_ops.core import aws, paths
from rovn_ops.core import identity
from rovn_ops.clients import db
from rovn_ops.safety import params
from rovn_ops.protocol.authorization import Lists, committed
from rovn_ops.core.errors import Refused
from rovn_ops.migrations import engine, phi


def refuse_outside_sandbox(env: str) -> None:
    if env != "sandbox":
        raise Refused(f"migrations apply --env {env} is refused: it would write outside the protocol. Production "
                      f"migrations run through a runbook: rovn-ops run deploy --env {env} (pending migrations are "
                      f"applied before traffic), or rovn-ops run migration_reversal --env {env} -p migration=<file>")


def settings(env: str, directory: str | None) -> dict:
    defaults = params.environment_defaults(env)
    return {"dir": paths.project_path(directory or defaults.get("migrations_dir") or "migrations"),
            "phi_registry": paths.project_path(defaults.get("phi_registry") or "parameters/phi_columns.yaml"),
            "rds_instance": defaults.get("rds_instance", ""), "region": defaults.get("region", "us-east-2")}


def status(env: str, directory: str | None) -> int:
    s = settings(env, directory)
    with db.connect(db.migration_url()) as conn:
        report = engine.verify(conn, s["dir"])
    when = {r["name"]: r for r in report.applied}
    for m in report.files:
        row = when.get(m.name)
        state = f"applied {row['applied_at']:%Y-%m-%d %H:%M:%S}" if row else "pending"
        print(f"{m.name:<44} {state}")
    print(report)
    return 0 if report.ok else 1


def verify(env: str, directory: str | None) -> int:
    s = settings(env, directory)
    with db.connect(db.migration_url()) as conn:
        report = engine.verify(conn, s["dir"])
    print(report)
    return 0 if report.ok else 1


def apply(env: str, directory: str | None, approvers: list[str], lock_wait: float) -> int:
    refuse_outside_sandbox(env)
    s = settings(env, directory)
    op = identity.operator(env, s["region"])
    actor = engine.Actor(op.arn, op.local_user, identity.new_run_id("migrations"))
    rds = aws.client("rds", env=env, region=s["region"])
    with db.connect(db.migration_url()) as conn:
        _authorize(conn, env, actor, approvers)
        result = engine.apply(conn, s["dir"], actor=actor, approvers=approvers,
                              registry=phi.load_registry(s["phi_registry"]), rds=rds,
                              rds_instance=s["rds_instance"], lock_wait=lock_wait)
    if result.snapshot:
        print(f"snapshot {result.snapshot.id}" + (" (reused)" if result.snapshot.reused else ""))
    for a in result.applied:
        print(f"applied {a['name']} in {a['duration_ms']} ms (audit_log {a['audit_id']})")
    print("nothing to apply" if not result.applied else f"{len(result.applied)} applied")
    print(result.report)
    return 0


def _authorize(conn, env: str, actor: engine.Actor, approvers: list[str]) -> None:
    """§10 as the runbooks check it: the operator is a deployer; approvers are listed, not the operator."""
    try:
        committed(env)  # never a working-copy edit of the allow-list or the approvers
        lists = Lists.of(env)
        problem = lists.deployer_problem(actor.arn)
        if problem:
            raise Refused(problem)
        if approvers:
            approvers[:] = lists.approvers_for(approvers, actor.arn, local_user=actor.local_user)
    except Refused as e:
        engine._audit(conn, actor, "(pending set)", "refused", reason=str(e))
        raise
