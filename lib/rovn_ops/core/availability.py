"""§11 "DR is multi-AZ active": the service's tasks may run in at least two
Availability Zones (its awsvpc subnets span >= 2 AZs) and the database is a Multi-AZ
deployment (a synchronous standby in another AZ). service_status reports it; the
deploy's preflight refuses a deploy onto a single-AZ service (a rolling deploy "across
AZs", §2, cannot be one there).

ECS: DescribeServices networkConfiguration.awsvpcConfiguration.subnets
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_AwsVpcConfiguration.html
EC2: DescribeSubnets AvailabilityZone
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Subnet.html
RDS: DescribeDBInstances MultiAZ
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstance.html

Subnets say where tasks may run; placement says where they do. service_status also
reads each RUNNING task's AZ (ListTasks, paged, then DescribeTasks, 100 at a time:
availabilityZone, https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Task.html):
two or more tasks all in one AZ is a finding (an AZ outage would take them all), even when
the subnets span two.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MultiAz:
    zones: tuple[str, ...]      # the AZs of the service's subnets
    rds_multi_az: bool | None   # None: no instance named
    rds_instance: str
    tasks: dict = field(default_factory=dict)  # AZ -> RUNNING tasks there; empty: not read

    @property
    def problems(self) -> list[str]:
        out = []
        if len(self.zones) < 2:
            out.append(f"the service's subnets span {len(self.zones)} Availability Zone(s) "
                       f"({', '.join(self.zones) or 'none'}); §11 needs at least 2")
        if self.rds_multi_az is False:
            out.append(f"RDS {self.rds_instance} is not Multi-AZ (§11: multi-AZ active)")
        running = sum(self.tasks.values())
        if running >= 2 and len(self.tasks) == 1:
            out.append(f"all {running} running tasks are in {next(iter(self.tasks))}: one AZ's outage takes the "
                       "service down (§11: multi-AZ active)")
        return out

    def summary(self) -> str:
        rds = "" if self.rds_multi_az is None else f"; RDS {self.rds_instance} Multi-AZ: " + (
            "yes" if self.rds_multi_az else "no")
        placed = ", ".join(f"{z} ({n})" for z, n in sorted(self.tasks.items()))
        tasks = f"; {sum(self.tasks.values())} running tasks in {placed}" if self.tasks else ""
        return f"service subnets in {', '.join(self.zones) or 'no AZ'}{rds}{tasks}"


def subnets(service: dict) -> list[str]:
    net = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    return list(net.get("subnets") or [])


def task_zones(ecs, service: dict) -> dict[str, int]:
    """{AZ: RUNNING tasks of the service there}."""
    cluster, name = service["clusterArn"], service["serviceName"]
    arns = [a for page in ecs.get_paginator("list_tasks").paginate(cluster=cluster, serviceName=name,
                                                                      desiredStatus="RUNNING")
            for a in page["taskArns"]]
    zones: Counter = Counter()
    for i in range(0, len(arns), 100):  # DescribeTasks takes at most 100
        for t in ecs.describe_tasks(cluster=cluster, tasks=arns[i:i + 100])["tasks"]:
            if t.get("lastStatus") == "RUNNING" and t.get("availabilityZone"):
                zones[t["availabilityZone"]] += 1
    return dict(zones)


def check(ec2, rds, service: dict, rds_instance: str, ecs=None) -> MultiAz:
    ids = subnets(service)
    zones = sorted({s["AvailabilityZone"] for s in ec2.describe_subnets(SubnetIds=ids)["Subnets"]}) if ids else []
    multi = None
    if rds_instance:
        multi = bool(rds.describe_db_instances(DBInstanceIdentifier=rds_instance)["DBInstances"][0].get("MultiAZ"))
    return MultiAz(tuple(zones), multi, rds_instance, task_zones(ecs, service) if ecs is not None else {})
