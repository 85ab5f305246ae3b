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
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MultiAz:
    zones: tuple[str, ...]      # the AZs of the service's subnets
    rds_multi_az: bool | None   # None: no instance named
    rds_instance: str

    @property
    def problems(self) -> list[str]:
        out = []
        if len(self.zones) < 2:
            out.append(f"the service's subnets span {len(self.zones)} Availability Zone(s) "
                       f"({', '.join(self.zones) or 'none'}); §11 needs at least 2")
        if self.rds_multi_az is False:
            out.append(f"RDS {self.rds_instance} is not Multi-AZ (§11: multi-AZ active)")
        return out

    def summary(self) -> str:
        rds = "" if self.rds_multi_az is None else f"; RDS {self.rds_instance} Multi-AZ: " + (
            "yes" if self.rds_multi_az else "no")
        return f"service subnets in {', '.join(self.zones) or 'no AZ'}{rds}"


def subnets(service: dict) -> list[str]:
    net = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    return list(net.get("subnets") or [])


def check(ec2, rds, service: dict, rds_instance: str) -> MultiAz:
    ids = subnets(service)
    zones = sorted({s["AvailabilityZone"] for s in ec2.describe_subnets(SubnetIds=ids)["Subnets"]}) if ids else []
    multi = None
    if rds_instance:
        multi = bool(rds.describe_db_instances(DBInstanceIdentifier=rds_instance)["DBInstances"][0].get("MultiAZ"))
    return MultiAz(tuple(zones), multi, rds_instance)
