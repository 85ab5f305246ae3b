"""The sandbox's half of remote runs: what infra/ declares for production, seeded as
it would be created there. The cluster `rovn-ops`, the suite's task definition from
infra/rovn-ops-runner.taskdef.json, one task role per infra/task-roles/*.json, the
awslogs group, the runner's security group, and the service's subnets tagged
Tier=private (the runner finds its subnets by that tag, in the sandbox as in prod)."""
from __future__ import annotations

import json
from pathlib import Path

ACCOUNT = "123456789012"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]}


def infra() -> Path:
    from rovn_ops.core import paths

    return paths.root() / "infra"


def task_definition(region: str, env: str = "sandbox", tag: str = "sandbox") -> dict:
    text = (infra() / "rovn-ops-runner.taskdef.json").read_text()
    for k, v in {"ACCOUNT": ACCOUNT, "REGION": region, "TAG": tag, "ENV": env}.items():
        text = text.replace("${" + k + "}", v)
    return json.loads(text)


def seed(c, remote: dict, region: str) -> None:
    """c: the seed's client factory (service name -> boto3 client on the sandbox)."""
    iam, ec2, logs, ecs = c("iam"), c("ec2"), c("logs"), c("ecs")
    for f in sorted((infra() / "task-roles").glob("*.json")):
        iam.create_role(RoleName=f.stem, AssumeRolePolicyDocument=json.dumps(TRUST))
        iam.put_role_policy(RoleName=f.stem, PolicyName=f.stem, PolicyDocument=f.read_text())
    iam.create_role(RoleName="rovn-ops-runner-task", AssumeRolePolicyDocument=json.dumps(TRUST))
    scheduler_trust = {**TRUST, "Statement": [{**TRUST["Statement"][0],
                                               "Principal": {"Service": "scheduler.amazonaws.com"}}]}
    iam.create_role(RoleName="rovn-ops-scheduler", AssumeRolePolicyDocument=json.dumps(scheduler_trust))
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    ec2.create_tags(Resources=[s["SubnetId"] for s in subnets], Tags=[{"Key": "Tier", "Value": "private"}])
    vpc = subnets[0]["VpcId"]
    ec2.create_security_group(GroupName=remote["security_group"], VpcId=vpc,
                              Description="rovn-ops remote runs: egress only")
    logs.create_log_group(logGroupName=remote["log_group"])
    ecs.create_cluster(clusterName=remote["cluster"])
    ecs.register_task_definition(**task_definition(region))
