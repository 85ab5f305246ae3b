"""The sandbox's ECS rollout simulator: deployments advance on the sandbox's clock
(compressed wall time), never per poll. These tests pause the clock and move it a
step (STEP_S) at a time, so each snapshot is one step later."""
import json

import pytest
import urllib3

from rovn_sandbox import control
from rovn_sandbox.ecs_rollout import STEP_S


@pytest.fixture
def fresh(fresh):
    control.clock(fresh, paused=True)
    return fresh


def describe(ecs):
    return ecs.describe_services(cluster="rovn-prod", services=["rovn-passport-api"])["services"][0]


def later(ecs, sandbox, steps=1):
    control.clock(sandbox, advance_s=steps * STEP_S)
    return describe(ecs)


def roll(ecs, revision, polls=10, sandbox=None):
    ecs.update_service(cluster="rovn-prod", service="rovn-passport-api",
                       taskDefinition=f"rovn-passport-api:{revision}")
    return [later(ecs, sandbox) for _ in range(polls)]


def test_update_adds_primary_and_turns_old_active(fresh, aws):
    ecs = aws("ecs")
    resp = ecs.update_service(cluster="rovn-prod", service="rovn-passport-api",
                              taskDefinition="rovn-passport-api:287")["service"]
    deps = resp["deployments"]
    assert [d["status"] for d in deps] == ["PRIMARY", "ACTIVE"]
    assert deps[0]["rolloutState"] == "IN_PROGRESS" and deps[0]["taskDefinition"].endswith(":287")
    assert deps[1]["taskDefinition"].endswith(":288") and deps[1]["runningCount"] == 3


def test_rollout_completes_over_a_few_polls_and_old_drains(fresh, aws):
    snaps = roll(aws("ecs"), 287, polls=6, sandbox=fresh)
    states = [s["deployments"][0]["rolloutState"] for s in snaps]
    done = states.index("COMPLETED")
    assert 1 <= done <= 4, states
    mid = snaps[done - 1]["deployments"]
    assert mid[0]["runningCount"] + mid[1]["runningCount"] >= 3  # tasks move across, never below desired
    final = snaps[done]
    assert len(final["deployments"]) == 1 and final["runningCount"] == 3
    assert any("steady state" in e["message"] for e in final["events"])
    body = json.loads(urllib3.request("GET", fresh["health_url"]).data)
    assert body["version"] == "prod-legacy-r287"


def test_new_tasks_fail_circuit_breaker_rolls_back(fresh, aws):
    control.scenario(fresh, "ecs_new_tasks_fail")
    ecs = aws("ecs")
    ours = ecs.update_service(cluster="rovn-prod", service="rovn-passport-api",
                              taskDefinition="rovn-passport-api:287")["service"]["deployments"][0]["id"]
    snaps = [later(ecs, fresh) for _ in range(10)]
    failed = [s for s in snaps if any(d["id"] == ours and d["rolloutState"] == "FAILED" for d in s["deployments"])]
    assert failed, "the circuit breaker never tripped"
    first = failed[0]
    assert first["deployments"][0]["id"] != ours and first["deployments"][0]["taskDefinition"].endswith(":288")
    ours_dep = next(d for d in first["deployments"] if d["id"] == ours)
    assert ours_dep["failedTasks"] >= 3 and "circuit breaker" in ours_dep["rolloutStateReason"]
    final = snaps[-1]
    assert final["taskDefinition"].endswith(":288") and final["deployments"][0]["rolloutState"] == "COMPLETED"
    assert json.loads(urllib3.request("GET", fresh["health_url"]).data)["version"].startswith("prod-2026")


def test_without_rollback_the_failed_deployment_stays_primary(fresh, aws):
    control.scenario(fresh, "ecs_new_tasks_fail")
    ecs = aws("ecs")
    ecs.update_service(cluster="rovn-prod", service="rovn-passport-api",
                       deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": False}})
    snaps = roll(ecs, 287, polls=5, sandbox=fresh)
    primary = snaps[-1]["deployments"][0]
    assert primary["status"] == "PRIMARY" and primary["rolloutState"] == "FAILED"
    assert snaps[-1]["deployments"][1]["runningCount"] == 3  # the old tasks keep serving


def test_force_new_deployment_alone_rolls_the_same_revision(fresh, aws):
    ecs = aws("ecs")
    ecs.update_service(cluster="rovn-prod", service="rovn-passport-api", forceNewDeployment=True)
    deps = describe(ecs)["deployments"]
    assert len(deps) == 2 and deps[0]["taskDefinition"] == deps[1]["taskDefinition"]


def test_a_task_runs_only_if_its_image_does(fresh, aws):
    """The incident drills' causes (sandbox/image_faults.py): an image missing from ECR
    fails its tasks with CannotPullContainerError, the circuit breaker trips and rolls
    back; once rolled back, the service serves the good image again."""
    ecs, ecr = aws("ecs"), aws("ecr")
    ecr.batch_delete_image(repositoryName="rovn-passport-api", imageIds=[{"imageTag": "prod-legacy-r287"}])
    ours = ecs.update_service(cluster="rovn-prod", service="rovn-passport-api",
                              taskDefinition="rovn-passport-api:287")["service"]["deployments"][0]["id"]
    snaps = [later(ecs, fresh) for _ in range(10)]
    mine = [d for s in snaps for d in s["deployments"] if d["id"] == ours]
    assert mine[-1]["rolloutState"] == "FAILED" and mine[-1]["runningCount"] == 0
    assert any("CannotPullContainerError" in e["message"] for e in snaps[-1]["events"])
    assert snaps[-1]["taskDefinition"].endswith(":288") and snaps[-1]["runningCount"] == 3
    body = json.loads(urllib3.request("GET", fresh["health_url"]).data)
    assert body["version"] == "prod-202605270526-ai-competitive-fix"


def test_tasks_crashing_is_the_revisions_fault_and_a_rollback_mends_it(fresh, aws):
    control.scenario(fresh, "tasks_crashing")
    ecs = aws("ecs")
    for _ in range(5):  # ECS keeps starting replacements; the crashing image keeps them from running
        svc = later(ecs, fresh)
    assert svc["runningCount"] == 0 and svc["taskDefinition"].endswith(":289")
    assert urllib3.request("GET", fresh["health_url"]).status == 503
    roll(ecs, 288, polls=6, sandbox=fresh)
    assert describe(ecs)["runningCount"] == 3
    assert urllib3.request("GET", fresh["health_url"]).status == 200


def test_polls_do_not_move_time(fresh, aws):
    """A thousand polls of a paused clock move nothing (before, each DescribeServices was a step)."""
    ecs = aws("ecs")
    ecs.update_service(cluster="rovn-prod", service="rovn-passport-api", taskDefinition="rovn-passport-api:287")
    states = {json.dumps(describe(ecs)["deployments"], default=str, sort_keys=True) for _ in range(200)}
    assert len(states) == 1


def test_one_look_after_the_time_sees_what_many_looks_see(fresh, aws):
    """The outcome depends on sandbox time only: polled every step or looked at once, a
    failing rollout ends in the same state (FAILED, rolled back, the old revision serving)."""
    control.scenario(fresh, "ecs_new_tasks_fail")
    ecs = aws("ecs")

    def outcome(svc):
        return [(d["status"], d["taskDefinition"], d["rolloutState"], d["runningCount"], d["failedTasks"])
                for d in svc["deployments"]]

    roll(ecs, 287, polls=12, sandbox=fresh)
    polled = outcome(describe(ecs))
    control.reset(fresh)
    control.clock(fresh, paused=True)
    control.scenario(fresh, "ecs_new_tasks_fail")
    ecs.update_service(cluster="rovn-prod", service="rovn-passport-api", taskDefinition="rovn-passport-api:287")
    once = outcome(later(ecs, fresh, steps=12))
    assert polled == once and once[0][1].endswith(":288") and once[0][2] == "COMPLETED"


def test_the_clock_runs_without_polls(fresh, aws):
    """Running (not paused), a rollout completes in wall time whoever looks."""
    import time

    control.clock(fresh, paused=False)
    ecs = aws("ecs")
    ecs.update_service(cluster="rovn-prod", service="rovn-passport-api", taskDefinition="rovn-passport-api:287")
    time.sleep(8 * STEP_S / control.clock(fresh)["scale"])
    assert describe(ecs)["deployments"][0]["rolloutState"] == "COMPLETED"


def test_the_step_that_completes_a_rollout_publishes_its_own_running_count(fresh, aws):
    """A hotfix over tasks_crashing: the completing step's hooks publish RunningTaskCount and
    evaluate the running-tasks alarm (1 datapoint of 1, running - desired < 0) with the
    counts that step left, 3 of 3, so the alarm is OK. With the previous step's counts they
    published 2 and left the alarm in ALARM, and a hotfix's bake rolled it back."""
    import datetime

    control.scenario(fresh, "tasks_crashing")
    ecs, cw = aws("ecs"), aws("cloudwatch")
    snaps = roll(ecs, 288, polls=8, sandbox=fresh)
    assert snaps[-1]["deployments"][0]["rolloutState"] == "COMPLETED" and snaps[-1]["runningCount"] == 3
    alarm = cw.describe_alarms(AlarmNames=["rovn-prod-ecs-running-below-desired"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "OK", alarm["StateReason"]
    now = datetime.datetime.now(datetime.timezone.utc)
    points = cw.get_metric_statistics(
        Namespace="ECS/ContainerInsights", MetricName="RunningTaskCount", Statistics=["Minimum"], Period=60,
        StartTime=now - datetime.timedelta(days=2), EndTime=now + datetime.timedelta(days=2),
        Dimensions=[{"Name": "ClusterName", "Value": "rovn-prod"},
                    {"Name": "ServiceName", "Value": "rovn-passport-api"}])["Datapoints"]
    assert max(points, key=lambda p: p["Timestamp"])["Minimum"] == 3
