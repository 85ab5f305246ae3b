"""The standby as parameters/<env>.yaml declares it (§11), and clients for both regions.

Only the DR runbooks reach the standby region (params.standby refuses the others). The
primary is asked with one attempt and short timeouts: in a region outage its endpoints
do not answer, and botocore's five retries would spend the RTO on a dead region."""
from __future__ import annotations

import os
from dataclasses import dataclass

from rovn_ops.core import aws
from rovn_ops.safety import params as params_mod


@dataclass(frozen=True)
class Standby:
    region: str
    cluster: str
    service: str
    family: str
    repository: str
    kms_key_alias: str
    db_subnet_group: str
    db_instance: str
    db_instance_class: str
    desired_count: int
    health_url: str
    load_balancer_dns: str
    primary_load_balancer_dns: str
    dns: dict
    rpo_target_s: float
    rto_target_s: float

    @classmethod
    def of(cls, p) -> "Standby":
        data = params_mod.standby(p)
        fields = cls.__dataclass_fields__
        return cls(**{k: data.get(k) for k in fields})

    @property
    def records(self) -> list[str]:
        return list(self.dns.get("records") or [])

    @property
    def token_secret(self) -> str:
        return str(self.dns.get("token_secret") or "").removeprefix("secret:")


def client(ctx, standby: Standby, service: str):
    """A client in the standby region (the DR runbooks only: Standby.of refused the others)."""
    return aws.client(service, env=ctx.env, region=standby.region)


def primary_probe(ctx, service: str):
    """A client in the primary region that asks once (an outage answers nothing)."""
    import boto3
    from botocore.config import Config

    aws.guard(ctx.env)
    config = Config(region_name=ctx.params.region, retries={"mode": "standard", "max_attempts": 1},
                    connect_timeout=3, read_timeout=10)
    return boto3.session.Session().client(service, config=config, endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))


def regional(value, primary: str, standby: str):
    """A value with the primary region's name swapped for the standby's (ARNs, log region,
    ECR hosts): what "the same except for region-bound ARNs" compares."""
    if isinstance(value, dict):
        return {k: regional(v, primary, standby) for k, v in value.items()}
    if isinstance(value, list):
        return [regional(v, primary, standby) for v in value]
    if isinstance(value, str):
        return value.replace(primary, standby)
    return value


def dns_client(ctx, standby: Standby):
    """Cloudflare's API (§4) at the committed environment file's URL, with the token read from
    the standby region's replica (the primary's Secrets Manager may be what failed)."""
    from rovn_ops.clients import cloudflare
    from rovn_ops.safety import secret_values

    name = standby.token_secret
    return cloudflare.Client(str(standby.dns.get("api_url") or ""), str(standby.dns.get("zone") or ""),
                             lambda: secret_values.read(client(ctx, standby, "secretsmanager"), name), name)
