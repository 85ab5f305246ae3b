"""§11 "DR is multi-AZ active" checked, not claimed (issue 29, point 4): service_status
and the deploy's preflight read the service's awsvpc subnets (DescribeServices, then
DescribeSubnets for their AZs) and RDS's MultiAZ flag. The sandbox's service spans two
AZs; scenario single_az leaves it one.

https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_AwsVpcConfiguration.html
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Subnet.html
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstance.html
"""
from __future__ import annotations

from rovn_sandbox import control
from tests.conftest import rovn_ops
from tests.scenarios.test_deploy import _manifest


def test_the_seeded_service_is_multi_az(fresh, evidence_dir):
    run = rovn_ops("run", "service_status", "--quiet")
    assert run.returncode == 0, run.stdout + run.stderr
    summary = _manifest(evidence_dir, "service_status")["summary"]
    assert summary["multi_az (§11)"] == ("service subnets in us-east-2a, us-east-2b; RDS rovn-prod-db Multi-AZ: yes; "
                                        "3 running tasks in us-east-2a (2), us-east-2b (1)")


def test_a_single_az_service_needs_attention_and_is_not_deployed_to(fresh, evidence_dir):
    control.scenario(fresh, "single_az")
    status = rovn_ops("run", "service_status", "--quiet")
    m = _manifest(evidence_dir, "service_status")
    assert status.returncode == 4 and m["outcome"] == "attention"
    assert any("span 1 Availability Zone(s)" in p and "§11" in p for p in m["summary"]["problems"])
    deploy = rovn_ops("run", "deploy", "--quiet", "-p", "image_tag=prod-202605270526-ai-competitive-fix")
    assert deploy.returncode == 3 and "span 1 Availability Zone(s)" in deploy.stdout, deploy.stdout
    assert _manifest(evidence_dir, "deploy")["outcome"] == "refused"


def test_running_tasks_are_read_by_placement_and_one_az_needs_attention(fresh, aws, evidence_dir):
    """§11 as ECS places it, not only as the subnets allow it: DescribeTasks'
    availabilityZone of each RUNNING task (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Task.html).
    Fargate spreads a service's tasks across the AZs of its subnets
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-placement.html), as the
    sandbox does; scenario tasks_one_az keeps two AZs of subnets but every task in one."""
    ecs = aws("ecs")
    arns = ecs.list_tasks(cluster="rovn-prod", serviceName="rovn-passport-api", desiredStatus="RUNNING")["taskArns"]
    zones = [t["availabilityZone"] for t in ecs.describe_tasks(cluster="rovn-prod", tasks=arns)["tasks"]]
    assert len(zones) == 3 and set(zones) == {"us-east-2a", "us-east-2b"}, zones
    status = rovn_ops("run", "service_status", "--quiet")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "3 running tasks in us-east-2a (2), us-east-2b (1)" in _manifest(evidence_dir, "service_status")[
        "summary"]["multi_az (§11)"]
    control.scenario(fresh, "tasks_one_az")
    status = rovn_ops("run", "service_status", "--quiet")
    m = _manifest(evidence_dir, "service_status")
    assert status.returncode == 4 and m["outcome"] == "attention", status.stdout
    assert any("all 3 running tasks are in us-east-2a" in p and "§11" in p for p in m["summary"]["problems"]), m[
        "summary"]["problems"]
