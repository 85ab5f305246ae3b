"""Issue 20, class 8: the change lock, a session advisory lock held from execute to the
final log; the second taker is refused, naming the holder and since when."""
import pytest

from rovn_ops import change_lock
from rovn_ops.change_lock import ChangeLock
from rovn_ops.deploy import preflight
from rovn_ops.errors import Refused

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
