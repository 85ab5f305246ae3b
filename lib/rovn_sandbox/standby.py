"""The cross-region cold standby in the sandbox (§11 DR, issue 25).

moto serves every region, so the standby is seeded in `standby.region` (us-west-2)
through boto3, as the world is, from parameters/sandbox.yaml's `standby:` section:

- a KMS key (its alias) that snapshot copies are encrypted with there;
- the ECR replication rule on the primary's registry, and the live image in the
  standby's repository by the same manifest, so the same digest (moto stores the rule
  but replicates nothing: https://docs.aws.amazon.com/AmazonECR/latest/userguide/replication.html);
- a replica of every secret the task uses, and of the Cloudflare token
  (ReplicateSecretToRegions; a replica has the primary's version ids);
- the ECS cluster and service at desired 0, the task definition family with the
  standby's ARNs (secrets, log region, image);
- the DB subnet group, and the newest snapshot copied there (encrypted with the key),
  six hours old: what a daily cross-region copy gives. moto's CopyDBSnapshot cannot read
  another region's snapshot, so the copy is put on the standby's backend, as the ages are.

moto has no StopReplicationToReplica (promote a replica to a standalone secret, in the
replica's region: https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_StopReplicationToReplica.html);
`install` adds it, as AWS documents it: the replica keeps its value and versions and
becomes writable; the primary stops listing it.

Scenarios: `dr_gap` removes one secret's replica and the image from the standby;
`region_outage` makes the primary unreachable (ECS and RDS answer 503 in its region,
its /health 503).
"""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone

from rovn_sandbox import cloudflare_stub, moto_guard, scenarios

ACCOUNT = "123456789012"
SNAPSHOT_AGE = timedelta(hours=6)
GAP_SECRET = "rovn/prod/stripe-api-key"  # dr_gap's unreplicated secret
_outage: dict[str, str] = {}             # "region": the primary's, while region_outage is on


def seed(world: dict, standby: dict, endpoint: str) -> dict:
    from rovn_sandbox import world as world_mod

    region, primary = standby["region"], world["region"]
    c = lambda svc, r=region: world_mod._client(endpoint, r, svc)  # noqa: E731
    kms = c("kms")
    key = kms.create_key(Description="rovn DR: RDS snapshot copies")["KeyMetadata"]
    kms.create_alias(AliasName=standby["kms_key_alias"], TargetKeyId=key["KeyId"])
    repo = _seed_ecr(c("ecr", primary), c("ecr"), world, standby, region)
    sm = c("secretsmanager", primary)
    names = list(world["ecs"]["secrets"].values()) + [standby["dns"]["token_secret"].removeprefix("secret:")]
    for name in names:
        sm.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{"Region": region}])
    subnets = _seed_ecs(c("ecs"), c("ec2"), world, standby, repo, region)
    rds = c("rds")
    rds.create_db_subnet_group(DBSubnetGroupName=standby["db_subnet_group"], SubnetIds=subnets,
                               DBSubnetGroupDescription="rovn DR: the restored database's subnets")
    _seed_snapshot_copy(world["rds"]["instance"], primary, region, key["Arn"])
    cloudflare_stub.seed(standby["dns"]["records"], standby["primary_load_balancer_dns"])
    return {"standby_kms_key": key["Arn"]}


def _seed_ecr(primary_ecr, ecr, world: dict, standby: dict, region: str) -> str:
    from rovn_sandbox import image_config

    primary_ecr.put_replication_configuration(replicationConfiguration={"rules": [{
        "destinations": [{"region": region, "registryId": ACCOUNT}],
        "repositoryFilters": [{"filter": standby["repository"], "filterType": "PREFIX_MATCH"}]}]})
    repo = ecr.create_repository(repositoryName=standby["repository"], imageTagMutability="IMMUTABLE",
                                 imageScanningConfiguration={"scanOnPush": True})["repository"]
    live = world["ecr"]["tags"][-1]["tag"]
    ecr.put_image(repositoryName=standby["repository"], imageTag=live, imageManifest=image_config.manifest(live))
    return repo["repositoryUri"]


def _seed_ecs(ecs, ec2, world: dict, standby: dict, repo_uri: str, region: str) -> list[str]:
    from rovn_sandbox import world as world_mod

    spec = {**world["ecs"], "family": standby["family"]}
    found = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    subnets = [s["SubnetId"] for s in sorted(found, key=lambda s: s["AvailabilityZone"])][:2]
    group = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
    ecs.create_cluster(clusterName=standby["cluster"])
    secrets = [{"name": env, "valueFrom": _replica_arn(world["region"], region, name)}
               for env, name in spec["secrets"].items()]
    live = world["ecr"]["tags"][-1]["tag"]
    ecs.register_task_definition(**world_mod.task_definition(spec, f"{repo_uri}:{live}", secrets, region))
    ecs.create_service(cluster=standby["cluster"], serviceName=standby["service"], taskDefinition=standby["family"],
                       desiredCount=0, launchType="FARGATE",
                       networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [
                           group["GroupId"]], "assignPublicIp": "DISABLED"}},
                       deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True},
                                                "maximumPercent": 200, "minimumHealthyPercent": 100})
    return subnets


def _replica_arn(primary: str, region: str, name: str) -> str:
    """The replica's ARN: the primary secret's, region swapped (ARN suffix included)."""
    from moto.secretsmanager.models import secretsmanager_backends

    return secretsmanager_backends[ACCOUNT][primary].secrets[name].arn.replace(f":{primary}:", f":{region}:")


def _seed_snapshot_copy(instance: str, primary: str, region: str, key_arn: str) -> None:
    from moto.rds.models import DBSnapshot, rds_backends

    db = rds_backends[ACCOUNT][primary].databases[instance]
    backend = rds_backends[ACCOUNT][region]
    created = datetime.now(timezone.utc) - SNAPSHOT_AGE
    sid = f"{instance}-dr-{created:%Y%m%d%H%M}"
    snap = DBSnapshot(backend, db, sid, snapshot_type="manual", kms_key_id=key_arn, original_created_at=created,
                      tags=[{"Key": "rovn:dr-copy-of", "Value": f"arn:aws:rds:{primary}:{ACCOUNT}:db:{instance}"}])
    snap.created = created
    backend.database_snapshots[sid] = snap


# scenarios -----------------------------------------------------------------
@moto_guard.patches
def install(sandbox) -> None:
    _install_stop_replication()
    standby = sandbox.standby
    scenarios.on_activate("dr_gap", lambda: _gap(sandbox.endpoint, sandbox.world, standby))
    scenarios.on_activate("region_outage", lambda: _outage.update(region=sandbox.world["region"]))


def _gap(endpoint: str, world: dict, standby: dict) -> None:
    from rovn_sandbox import world as world_mod

    region = standby["region"]
    world_mod._client(endpoint, world["region"], "secretsmanager").remove_regions_from_replication(
        SecretId=GAP_SECRET, RemoveReplicaRegions=[region])
    world_mod._client(endpoint, region, "ecr").batch_delete_image(
        repositoryName=standby["repository"], imageIds=[{"imageTag": world["ecr"]["tags"][-1]["tag"]}])


def unreachable(service: str | None, region: str | None) -> bool:
    """region_outage: the primary region's ECS and RDS do not answer."""
    return (scenarios.active("region_outage") and service in ("ecs", "rds")
            and region is not None and region == _outage.get("region"))


def primary_down() -> bool:
    return scenarios.active("region_outage")


def _install_stop_replication() -> None:
    from moto.secretsmanager.models import FakeSecret, ReplicaSecret, SecretsManagerBackend, secretsmanager_backends
    from moto.secretsmanager.responses import SecretsManagerResponse

    if getattr(SecretsManagerBackend, "_rovn_stop_replication", False):
        return
    SecretsManagerBackend._rovn_stop_replication = True

    def stop_replication_to_replica(self, secret_id: str) -> str:
        from moto.secretsmanager.exceptions import InvalidParameterException, ResourceNotFoundException

        replica = self.secrets.get(secret_id)
        if replica is None:
            raise ResourceNotFoundException("Secrets Manager can't find the specified secret.")
        if not isinstance(replica, ReplicaSecret):
            raise InvalidParameterException("StopReplicationToReplica is only valid on a replica secret.")
        source = replica.source
        promoted = FakeSecret(account_id=self.account_id, region_name=self.region_name, secret_id=source.name,
                              secret_version={}, version_id=source.default_version_id,
                              tags=copy.deepcopy(source.tags), description=source.description)
        promoted.arn = replica.arn
        promoted.versions = copy.deepcopy(source.versions)
        promoted.set_default_version_id(source.default_version_id)
        promoted.created_date, promoted.last_changed_date = source.created_date, source.last_changed_date
        dict.pop(self.secrets, replica.arn)
        self.secrets[promoted.arn] = promoted
        source.replicas = [r for r in source.replicas if r.region != self.region_name]
        return promoted.arn

    def respond(self) -> str:
        return json.dumps({"ARN": self.backend.stop_replication_to_replica(self._get_param("SecretId"))})

    SecretsManagerBackend.stop_replication_to_replica = stop_replication_to_replica
    SecretsManagerResponse.stop_replication_to_replica = respond
    _ = secretsmanager_backends  # imported for the backend dict's side effect of loading models


# /health of the standby's service ------------------------------------------
def serving_version(standby: dict):
    """The version the standby's running tasks report (None: none runs): the IMAGE_TAG
    baked into their image, as the primary's (ecs_rollout.serving_version)."""
    from rovn_sandbox import ecs_rollout

    return ecs_rollout.serving_version(standby["cluster"], standby["service"], standby["region"], ACCOUNT)


def db_status(world: dict, standby: dict) -> str:
    """The standby tasks' database: its secret (the promoted replica) names a host, and an
    available instance in the standby region has that address. Before a failover the
    replica names the primary's host, which an outage takes down."""
    from moto.rds.models import rds_backends
    from moto.secretsmanager.models import secretsmanager_backends

    name = world["ecs"]["secrets"]["DATABASE_URL"]
    region = standby["region"]
    try:
        secret = secretsmanager_backends[ACCOUNT][region].get_secret_value(name, None, "AWSCURRENT")
        host = json.loads(secret["SecretString"]).get("host")
    except Exception:  # noqa: BLE001 - no replica, or not JSON: the tasks cannot log in
        return "no credentials"
    for db in rds_backends[ACCOUNT][region].databases.values():
        if db.address == host and db.status == "available":
            return "ok"
    if host and not primary_down():
        return "ok"  # still the primary's database, which answers
    return f"database {host} does not answer"
