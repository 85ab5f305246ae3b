"""Clients we did not write, against the sandbox (issue 22, build 3): the AWS CLI and
fabfuel's `ecs-deploy`, each a subprocess with only the sandbox's environment (its
endpoint through AWS_ENDPOINT_URL, which botocore honours: ecs-deploy has no endpoint
option). The assertions read their output, never ours; where they disagree with the
sandbox, the sandbox is wrong and is fixed to answer as the cited AWS page says."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rovn_sandbox import control
from rovn_sandbox.ecs_rollout import STEP_S

BIN = Path(sys.executable).parent
CLUSTER, SERVICE = "rovn-prod", "rovn-passport-api"
GOOD_TAG = "prod-202605190947-facility-search"  # in ECR since the seed (revision 287's image)


@pytest.fixture
def cli_env(fresh, tmp_path) -> dict:
    """The sandbox's exports and nothing of a developer's own AWS set-up."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return keep | control.exports(fresh) | {
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-creds"),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def _run(env: dict, *argv: str, timeout: float = 200) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, env=env,
                          timeout=timeout)


def aws(env: dict, *args: str) -> dict:
    """`aws … --output json`, parsed; a non-zero exit fails the test with its stderr."""
    done = _run(env, "aws", *args, "--output", "json")
    assert done.returncode == 0, (args, done.stderr)
    return json.loads(done.stdout or "null")


def ecs_deploy(env: dict, tag: str) -> subprocess.CompletedProcess:
    return _run(env, "ecs", "deploy", CLUSTER, SERVICE, "--tag", tag, "--timeout", "120",
                "--sleep-time", "1", "--no-deregister")


def _service(env: dict) -> dict:
    return aws(env, "ecs", "describe-services", "--cluster", CLUSTER, "--services", SERVICE)["services"][0]


def _rollback_off(env: dict) -> None:
    """The circuit breaker without rollback: the FAILED deployment stays PRIMARY
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html)."""
    aws(env, "ecs", "update-service", "--cluster", CLUSTER, "--service", SERVICE, "--deployment-configuration",
        "deploymentCircuitBreaker={enable=true,rollback=false},maximumPercent=200,minimumHealthyPercent=100")


# --- the AWS CLI -------------------------------------------------------------------------------

def test_cli_describe_services_and_tasks_agree(cli_env):
    """DescribeServices' runningCount is the number of RUNNING tasks ListTasks and
    DescribeTasks name, all of the service's task definition
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Service.html,
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTasks.html)."""
    svc = _service(cli_env)
    assert svc["status"] == "ACTIVE" and svc["runningCount"] == svc["desiredCount"] == 3
    [dep] = svc["deployments"]
    assert dep["status"] == "PRIMARY" and dep["rolloutState"] == "COMPLETED"
    arns = aws(cli_env, "ecs", "list-tasks", "--cluster", CLUSTER, "--service-name", SERVICE)["taskArns"]
    tasks = aws(cli_env, "ecs", "describe-tasks", "--cluster", CLUSTER, "--tasks", *arns)
    assert not tasks["failures"] and len(tasks["tasks"]) == 3
    assert {(t["lastStatus"], t["taskDefinitionArn"]) for t in tasks["tasks"]} == {("RUNNING", svc["taskDefinition"])}


def test_cli_wait_services_stable_through_a_rollout(cli_env, fresh):
    """`aws ecs wait services-stable` polls DescribeServices every 15 s until one
    deployment is left and runningCount equals desiredCount, and exits 255 after 40
    failed checks (https://docs.aws.amazon.com/cli/latest/reference/ecs/wait/services-stable.html).
    moto alone never passes it (its deployments are fixed at create_service)."""
    control.clock(fresh, paused=True)  # the rollout moves only when the test says
    aws(cli_env, "ecs", "update-service", "--cluster", CLUSTER, "--service", SERVICE,
        "--task-definition", f"{SERVICE}:287")
    assert len(_service(cli_env)["deployments"]) == 2  # the rollout is under way: the waiter has to wait
    waiter = subprocess.Popen([str(BIN / "aws"), "ecs", "wait", "services-stable", "--cluster", CLUSTER,
                               "--services", SERVICE], env=cli_env, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)  # its first check (at once) sees two deployments; the next is 15 s later
        assert waiter.poll() is None, waiter.stderr.read()
        control.clock(fresh, advance_s=10 * STEP_S)
        assert waiter.wait(timeout=60) == 0, waiter.stderr.read()
    finally:
        waiter.kill()
        waiter.wait()
    svc = _service(cli_env)
    [dep] = svc["deployments"]
    assert dep["taskDefinition"].endswith(":287") and dep["rolloutState"] == "COMPLETED"
    assert svc["runningCount"] == 3 and svc["taskDefinition"].endswith(":287")


def test_cli_stopped_tasks_of_an_unpullable_image(cli_env):
    """A task whose image is not in ECR stops with stopCode TaskFailedToStart and a
    stoppedReason starting CannotPullContainerError; ListTasks --desired-status STOPPED
    lists it (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-errors.html,
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Task.html)."""
    _rollback_off(cli_env)
    assert ecs_deploy(cli_env, "never-pushed").returncode == 1
    stopped = aws(cli_env, "ecs", "list-tasks", "--cluster", CLUSTER, "--service-name", SERVICE,
                  "--desired-status", "STOPPED")["taskArns"]
    tasks = aws(cli_env, "ecs", "describe-tasks", "--cluster", CLUSTER, "--tasks", *stopped)["tasks"]
    ours = [t for t in tasks if t["taskDefinitionArn"].endswith(":289")]
    assert len(ours) >= 3 and {t["stopCode"] for t in ours} == {"TaskFailedToStart"}
    assert all(t["stoppedReason"].startswith("CannotPullContainerError") for t in ours), ours
    assert {t["lastStatus"] for t in ours} == {"STOPPED"} and all("stoppedAt" in t for t in ours)


def test_cli_filter_log_events_pages(cli_env, fresh):
    """FilterLogEvents: `limit` caps a page, a nextToken leads to the rest, events come
    sorted by timestamp, and paging neither loses nor repeats one
    (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html).
    The CLI pages on its own (--page-size), or stops at --max-items with a NextToken to
    continue from (https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-pagination.html)."""
    control.scenario(fresh, "quiet")  # two hours of request logs
    group = ("logs", "filter-log-events", "--log-group-name", f"/ecs/{SERVICE}")
    whole = aws(cli_env, *group)["events"]
    assert len(whole) > 100
    one = aws(cli_env, *group, "--limit", "50", "--no-paginate")
    assert len(one["events"]) == 50 and one["nextToken"]
    paged = aws(cli_env, *group, "--page-size", "37")["events"]
    assert [e["eventId"] for e in paged] == [e["eventId"] for e in whole]
    stamps = [e["timestamp"] for e in paged]
    assert stamps == sorted(stamps)
    head = aws(cli_env, *group, "--max-items", "120", "--page-size", "50")
    rest = aws(cli_env, *group, "--page-size", "50", "--starting-token", head["NextToken"])
    assert [e["eventId"] for e in head["events"] + rest["events"]] == [e["eventId"] for e in whole]
    # a term with characters other than letters, digits and _ goes in double quotes
    # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html)
    term = aws(cli_env, *group, "--filter-pattern", '"/v1/workers"', "--page-size", "25")["events"]
    assert term and all("/v1/workers" in e["message"] for e in term)
    assert len(term) == sum("/v1/workers" in e["message"] for e in whole)


# --- ecs-deploy --------------------------------------------------------------------------------

def test_ecs_deploy_good_rollout(cli_env):
    """ecs-deploy registers a revision with the new tag, updates the service, and
    succeeds once one deployment is left whose RUNNING tasks (DescribeTasks) number
    desiredCount; the AWS CLI then sees the same."""
    done = ecs_deploy(cli_env, GOOD_TAG)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Successfully created revision: 289" in done.stdout and "Deployment successful" in done.stdout
    svc = _service(cli_env)
    [dep] = svc["deployments"]
    assert dep["taskDefinition"].endswith(":289") and dep["rolloutState"] == "COMPLETED"
    td = aws(cli_env, "ecs", "describe-task-definition", "--task-definition", f"{SERVICE}:289")["taskDefinition"]
    assert td["containerDefinitions"][0]["image"].endswith(f":{GOOD_TAG}")
    assert td["registeredBy"].startswith("arn:aws:iam::")  # who registered it: ecs-deploy's caller


def test_ecs_deploy_sees_the_circuit_breaker_fail_an_unpullable_image(cli_env):
    """With the breaker's rollback off, the deployment ECS cannot pull the image for goes
    FAILED and stays PRIMARY; ecs-deploy raises on a PRIMARY whose rolloutState is FAILED
    (ecs_deploy/ecs.py, is_deployed) and exits 1 with ECS's rolloutStateReason."""
    _rollback_off(cli_env)
    done = ecs_deploy(cli_env, "never-pushed")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Deployment Failed! ECS deployment circuit breaker: tasks failed to start." in done.stdout + done.stderr
    primary = _service(cli_env)["deployments"][0]
    assert primary["status"] == "PRIMARY" and primary["rolloutState"] == "FAILED" and primary["failedTasks"] >= 3


def test_ecs_deploy_after_the_breakers_rollback_says_successful(cli_env, fresh):
    """With rollback on (the service's setting), ECS answers a failing rollout with a new
    PRIMARY deployment back to the last completed revision; the FAILED one is no longer
    PRIMARY. ecs-deploy checks only the PRIMARY, so it reports "Deployment successful"
    once the rollback is steady: it does so against AWS too (fabfuel/ecs-deploy#185,
    https://github.com/fabfuel/ecs-deploy/issues/185). `rovn-ops run deploy` reads every
    deployment of its own update and ends failed, exit 1, rolled back
    (tests/scenarios/test_deploy.py::test_failed_rollout_exits_1_and_rolls_back): the
    difference is ecs-deploy's, and the sandbox shows both the same world."""
    control.scenario(fresh, "ecs_new_tasks_fail")
    done = ecs_deploy(cli_env, GOOD_TAG)
    assert done.returncode == 0 and "Deployment successful" in done.stdout, done.stdout + done.stderr
    svc = _service(cli_env)
    assert svc["taskDefinition"].endswith(":288") and svc["runningCount"] == 3  # rolled back, not deployed
    events = [e["message"] for e in svc["events"]]
    assert any("deployment failed: tasks failed to start" in m for m in events)
    assert any("rolling back to deployment" in m for m in events)


# --- the ALB's target group (elbv2) ------------------------------------------------------------

def _targets(env: dict) -> tuple[list[dict], dict]:
    """`aws elbv2 describe-target-health` of the service's own target group, and the
    addresses of its tasks (DescribeTasks' ENI attachment) by state."""
    svc = _service(env)
    [lb] = svc["loadBalancers"]
    health = aws(env, "elbv2", "describe-target-health", "--target-group-arn", lb["targetGroupArn"])
    arns = aws(env, "ecs", "list-tasks", "--cluster", CLUSTER, "--service-name", SERVICE,
               "--desired-status", "RUNNING")["taskArns"]
    tasks = aws(env, "ecs", "describe-tasks", "--cluster", CLUSTER, "--tasks", *arns)["tasks"] if arns else []
    ips = {}
    for t in tasks:
        [eni] = [a for a in t["attachments"] if a["type"] == "ElasticNetworkInterface"]
        ips[{d["name"]: d["value"] for d in eni["details"]}["privateIPv4Address"]] = t["lastStatus"]
    return health["TargetHealthDescriptions"], ips


def test_cli_target_health_names_the_running_tasks_healthy(cli_env):
    """DescribeTargetHealth of the service's target group (target type ip): one target per
    RUNNING task, its private IPv4 address on the container port, `healthy`; the ALB
    behind it is the one whose CloudWatch dimension the §5 alarms read
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeTargetHealth.html,
    https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html)."""
    found, ips = _targets(cli_env)
    assert len(ips) == 3 and set(ips.values()) == {"RUNNING"}
    assert {d["Target"]["Id"] for d in found} == set(ips)
    assert {(d["Target"]["Port"], d["TargetHealth"]["State"]) for d in found} == {(8000, "healthy")}
    tg = _service(cli_env)["loadBalancers"][0]["targetGroupArn"]
    groups = aws(cli_env, "elbv2", "describe-target-groups", "--target-group-arns", tg)["TargetGroups"]
    assert groups[0]["LoadBalancerArns"][0].endswith(":loadbalancer/app/rovn-prod-alb/50dc6c495c0c9188")
    unknown = aws(cli_env, "elbv2", "describe-target-health", "--target-group-arn", tg,
                  "--targets", "Id=10.9.9.9,Port=8000")["TargetHealthDescriptions"]
    assert unknown[0]["TargetHealth"] == {"State": "unused", "Reason": "Target.NotRegistered",
                                          "Description": "Target is not registered to the target group"}


def test_cli_target_health_follows_a_rollout(cli_env, fresh):
    """Through a rollout the new tasks register `initial` (Elb.RegistrationInProgress), turn
    `healthy`, and the old ones drain (`draining`, Target.DeregistrationInProgress) for the
    deregistration delay, then leave the group (API_TargetHealth's State and Reason)."""
    control.clock(fresh, paused=True)
    aws(cli_env, "ecs", "update-service", "--cluster", CLUSTER, "--service", SERVICE,
        "--task-definition", "rovn-passport-api:287")
    seen = set()
    for _ in range(8):
        control.clock(fresh, advance_s=STEP_S)
        found, _ = _targets(cli_env)
        seen |= {(d["TargetHealth"]["State"], d["TargetHealth"].get("Reason")) for d in found}
    assert {("initial", "Elb.RegistrationInProgress"), ("healthy", None),
            ("draining", "Target.DeregistrationInProgress")} <= seen, seen
    control.clock(fresh, advance_s=300)  # the deregistration delay
    found, ips = _targets(cli_env)
    assert {d["Target"]["Id"] for d in found} == set(ips) and len(ips) == 3
    assert {d["TargetHealth"]["State"] for d in found} == {"healthy"}


def test_cli_target_health_of_crashing_tasks_is_none_and_of_a_broken_health_check_unhealthy(cli_env, fresh):
    """tasks_crashing: every task is stopped and each replacement crashes, so once the
    deregistration delay has passed the group has no targets (an empty
    TargetHealthDescriptions); canary_failing: the tasks run but /health answers 500, so
    they are `unhealthy` with Target.ResponseCodeMismatch."""
    control.scenario(fresh, "tasks_crashing")
    control.clock(fresh, advance_s=300)
    found, ips = _targets(cli_env)
    assert found == [] and ips == {}, found
    control.reset(fresh)
    control.scenario(fresh, "canary_failing")
    found, ips = _targets(cli_env)
    assert len(found) == 3 and {(d["TargetHealth"]["State"], d["TargetHealth"]["Reason"]) for d in found} == {
        ("unhealthy", "Target.ResponseCodeMismatch")}
