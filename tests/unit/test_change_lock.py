"""Issue 20, class 8: the change lock, a session advisory lock held from execute to the
final log; the second taker is refused, naming the holder and since when."""
import pytest

from rovn_ops.protocol import lock as change_lock
from rovn_ops.protocol.lock import ChangeLock
from rovn_ops.ecs import preflight
from rovn_ops.core.errors import Refused

NAME = change_lock.service("rovn-prod", "rovn-passport-api")


def test_the_second_taker_is_refused_naming_the_holder_until_it_releases(fresh, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", fresh["database_url"])
    held = ChangeLock.take(NAME, "20261207T040000Z-deploy-aaaaaa", "claude-deploy (oncall)")
    with pytest.raises(Refused) as e:
        ChangeLock.take(NAME, "20261207T040001Z-deploy-bbbbbb", "giles (giles)")
    assert "another change of ecs:rovn-prod/rovn-passport-api is under way" in str(e.value)
    assert "run 20261207T040000Z-deploy-aaaaaa by claude-deploy (oncall) has held its lock since 20" in str(e.value)
    other = ChangeLock.take(change_lock.service("rovn-prod", "rovn-worker"), "r2", "giles")  # another service
    other.release()
    held.release()
    again = ChangeLock.take(NAME, "r3", "giles")  # released: the next change goes
    assert again.held
    again.conn.close()  # a kernel that dies: its session ends, and the lock with it
    ChangeLock.take(NAME, "r4", "giles").release()


def test_keys_are_stable_and_distinct():
    assert change_lock.key_of(NAME) == change_lock.key_of(NAME) != change_lock.key_of(NAME + "x")
    assert -(2 ** 63) <= change_lock.key_of(NAME) < 2 ** 63


def _service(*deployments):
    return {"taskDefinition": "arn:aws:ecs:us-east-2:1:task-definition/rovn-passport-api:288",
            "runningCount": 3, "desiredCount": 3,
            "deployments": [{"id": f"ecs-svc/{i}", "status": s, "rolloutState": r,
                             "taskDefinition": f"arn:aws:ecs:us-east-2:1:task-definition/rovn-passport-api:{td}"}
                            for i, (s, r, td) in enumerate(deployments)]}


def test_foreign_deployment_in_flight_is_one_check():
    assert preflight.foreign_in_flight(_service(("PRIMARY", "COMPLETED", 288))) is None
    found = preflight.foreign_in_flight(_service(("PRIMARY", "IN_PROGRESS", 287), ("ACTIVE", "COMPLETED", 288)))
    assert found.startswith("a deployment is in flight: PRIMARY rovn-passport-api:287 IN_PROGRESS")
    assert preflight.foreign_in_flight(_service(("PRIMARY", "IN_PROGRESS", 289)))


def test_a_lock_whose_session_dies_mid_change_stops_the_change_loudly_before_verify(fresh, app_db, admin_db,
                                                                                      monkeypatch):
    """The lock is its own PostgreSQL session: if that session drops mid-change (a
    failover, an idle timeout, pg_terminate_backend), the lock is gone and another
    change of the same service may start. Before, the run went on to verify and log a
    success as if it still held it; now verify checks the lock first and stops with one
    line, and the change's audit row says it failed for that reason."""
    from rovn_ops.audit import log as audit
    from rovn_ops.protocol.lock import LockLost
    from rovn_ops.run.context import Operator, RunContext
    from rovn_ops.safety.params import ChangeParams
    from rovn_ops.protocol.change import Change, Plan

    monkeypatch.setenv("DATABASE_URL", fresh["database_url"])
    plan = Plan("deploy", "rovn-passport-api", {"task_definition": {"before": "a:1", "after": "a:2"}}, lock=NAME)
    h = plan.bind(ChangeParams()).hash
    ctx = RunContext("deploy", ChangeParams(confirm=True, approved_by=["giles"], plan_hash=h), "run-lost",
                     "headless", Operator("arn:aws:iam::123456789012:user/claude-deploy", "oncall"))
    ctx.__dict__["db"] = app_db
    change = Change(ctx, plan, replan=lambda: plan)
    change.confirm()
    verified = []

    def the_change():  # mid-change, the lock's backend is terminated
        pid = change.lock.conn.info.backend_pid
        assert admin_db.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
        return "registered"

    change.execute(the_change)
    with pytest.raises(LockLost) as e:
        change.verify(lambda: verified.append(1) or True)
    line = str(e.value)
    assert "\n" not in line and line.startswith(f"the change lock of {NAME} was lost mid-change")
    assert "not verified" in line and e.value.exit_code == 1
    assert not verified  # nothing more was done under a lock that is gone
    row = audit.rows(app_db)[0]
    assert row["run_id"] == "run-lost" and row["outcome"] == "failed"
    assert "LockLost" in row["details"]["error"] and row["details"]["failed_step"] == "verify"
    ChangeLock.take(NAME, "next", "giles").release()  # the lock is free: the next change may go


def test_check_passes_while_held_and_fails_once_the_session_is_gone(fresh, admin_db, monkeypatch):
    from rovn_ops.protocol.lock import LockLost

    monkeypatch.setenv("DATABASE_URL", fresh["database_url"])
    lock = ChangeLock.take(NAME, "run-a", "giles")
    lock.check()
    admin_db.execute("SELECT pg_terminate_backend(%s)", [lock.conn.info.backend_pid])
    with pytest.raises(LockLost, match="its database session ended"):
        lock.check()
    assert not lock.held
    lock.release()
