"""Seed a Rōvn-like production world into moto, from parameters/sandbox.yaml.

Seeding goes through boto3 against the moto endpoint, as a user would; only what
moto's API cannot express (secret ages, stable access keys) is set on the backend.
"""
from __future__ import annotations

import hashlib
import io
import json
import secrets as pysecrets
import zipfile
from pathlib import Path
from datetime import datetime, timedelta, timezone

import boto3
from rovn_sandbox import ecr_scans, elbv2_world, image_config, remote_world, xray_world

ACCOUNT = "123456789012"
LOAD_BALANCER = "app/rovn-prod-alb/50dc6c495c0c9188"   # the ALB dimension (incidents publish it too)


def _client(endpoint: str, region: str, service: str):
    return boto3.client(service, region_name=region, endpoint_url=endpoint,
                        aws_access_key_id="seed", aws_secret_access_key="seed")


def seed(world: dict, endpoint: str, credentials: tuple[str, str], remote: dict | None = None) -> dict:
    """Create every resource of the world; returns facts the sandbox reports."""
    region = world["region"]
    c = lambda svc: _client(endpoint, region, svc)  # noqa: E731
    _seed_iam(c("iam"), world["iam_users"], credentials)
    # The recent revisions' images are still in ECR (ECS pulls only what is there: image_faults.py).
    recent = [{"tag": f"prod-legacy-r{rev}"} for rev in range(world["ecs"]["revision"] - 3, world["ecs"]["revision"])]
    repo_uri = _seed_ecr(c("ecr"), {**world["ecr"], "tags": recent + world["ecr"]["tags"]}, endpoint, region)
    secret_arns = _seed_secrets(c("secretsmanager"), world["secrets"])
    for name in world.get("integration_secrets", []):  # tokens runbooks read (Sentry, PagerDuty), unrotated
        c("secretsmanager").create_secret(Name=name, SecretString=pysecrets.token_urlsafe(32))
    network = _network(c("ec2"), world["ecs"].get("availability_zones", 2))
    target_group = elbv2_world.seed(c, world["ecs"], network, world.get("load_balancer", LOAD_BALANCER))
    _seed_ecs(c("ecs"), world["ecs"], repo_uri, world["ecr"]["tags"][-1]["tag"], secret_arns, region,
              network, target_group)
    elbv2_world.serve(target_group["targetGroupArn"], region, world["ecs"]["cluster"], world["ecs"]["service"])
    _seed_codebuild(c("s3"), c("codebuild"), c("iam"), world["codebuild"])
    _seed_rds(c("rds"), world["rds"])
    _seed_alarms(c("cloudwatch"), c("logs"), world)
    _seed_evidence_bucket(c("s3"), world["evidence_bucket"])
    xray_world.seed(c("xray"))
    if remote:
        remote_world.seed(c, remote, region)
    return {"repository_uri": repo_uri, "secret_arns": secret_arns}


def seed_builds(world: dict, endpoint: str, checkout) -> list[str]:
    """The CodeBuild builds that pushed the seeded images (§2), from the source as it is
    on main: `git archive` of the checkout's HEAD (the commit id its zip comment), in
    the source bucket under its sha256, one SUCCEEDED build a tag with the overrides a
    deploy passes (IMAGE_TAG, IMAGE_REPO_NAME, SOURCE_SHA256) and the IMAGE_TAG it
    exports. Seeded after the checkout exists; returns the build ids."""
    import subprocess

    from moto.codebuild.models import codebuild_backends
    from rovn_sandbox import codebuild_sim

    spec, region, repo = world["codebuild"], world["region"], world["ecr"]["repository"]
    # As the pipeline of 2026-05 zipped it: git archive, with its .rovn-source.json, so a zip
    # a test makes of the same commit (git archive, or the deploy's own) is another source.
    commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], check=True, capture_output=True,
                            text=True).stdout.strip()
    archive = subprocess.run(["git", "-C", str(checkout), "archive", "--format=zip",
                              f"--add-virtual-file=.rovn-source.json:{json.dumps({'commit': commit})}", "HEAD"],
                             check=True, capture_output=True).stdout
    sha256 = hashlib.sha256(archive).hexdigest()
    key = f"{repo}/source-{sha256[:16]}.zip"
    _client(endpoint, region, "s3").put_object(Bucket=spec["source_bucket"], Key=key, Body=archive,
                                               Metadata={"sha256": sha256})
    cb, ids = _client(endpoint, region, "codebuild"), []
    recent = [f"prod-legacy-r{rev}" for rev in range(world["ecs"]["revision"] - 3, world["ecs"]["revision"])]
    for tag in recent + [t["tag"] for t in world["ecr"]["tags"]]:
        env = {"IMAGE_TAG": tag, "IMAGE_REPO_NAME": repo, "SOURCE_SHA256": sha256}
        ids.append(cb.start_build(projectName=spec["project"], sourceTypeOverride="S3",
                                  sourceLocationOverride=f"{spec['source_bucket']}/{key}",
                                  environmentVariablesOverride=[{"name": k, "value": v, "type": "PLAINTEXT"}
                                                                for k, v in env.items()])["build"]["id"])
        backend = codebuild_backends[ACCOUNT][region]  # built long ago: finished, nothing to push now
        build = next(b for b in backend.build_metadata_history[spec["project"]] if b["id"] == ids[-1])
        codebuild_sim.finish(build, env)
    return ids


def seed_signing_key(endpoint: str, region: str, name: str, pem: str) -> None:
    _client(endpoint, region, "secretsmanager").create_secret(
        Name=name, SecretString=pem, Tags=[{"Key": "purpose", "Value": "evidence-signing"}])


def _seed_iam(iam, users: list[dict], credentials: tuple[str, str]) -> None:
    from moto.iam.models import iam_backends  # the sandbox runs moto in-process

    for user in users:
        iam.create_user(UserName=user["name"], Tags=[{"Key": "team", "Value": "rovn"}])
        if user.get("credentials"):
            iam.create_access_key(UserName=user["name"])
            # Pin the key to the sandbox's stable credentials, so resets keep them.
            key = iam_backends[ACCOUNT]["aws"].users[user["name"]].access_keys[0]
            key.access_key_id, key.secret_access_key = credentials
        elif user.get("own_credentials"):
            # A person of the rotation: their own key, so `rovn-ops approve` under it is their act.
            iam.create_access_key(UserName=user["name"])
            key = iam_backends[ACCOUNT]["aws"].users[user["name"]].access_keys[0]
            key.access_key_id, key.secret_access_key = person_credentials(user["name"])


def person_credentials(name: str) -> tuple[str, str]:
    """A sandbox person's own access key (stable across resets): AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY."""
    import hashlib

    digest = hashlib.sha256(f"rovn-sandbox-person:{name}".encode()).hexdigest().upper()
    return "AKIA" + digest[:16], digest[16:56].lower()


def person_approval_key(name: str) -> Path:
    """A sandbox approver's own approval signing key (a committed test key; its public
    half is in parameters/sandbox.yaml approval_keys)."""
    return Path(__file__).with_name("people") / f"{name}-approval-key.pem"


def _seed_ecr(ecr, spec: dict, endpoint: str, region: str) -> str:
    repo = ecr.create_repository(repositoryName=spec["repository"],
                                 imageScanningConfiguration={"scanOnPush": True},
                                 imageTagMutability="IMMUTABLE")["repository"]
    results = []
    for image in spec["tags"]:
        ecr.put_image(repositoryName=spec["repository"], imageTag=image["tag"],
                      imageManifest=image_config.manifest(image["tag"]))
        ecr.start_image_scan(repositoryName=spec["repository"], imageId={"imageTag": image["tag"]})
        results.append(ecr_scans.result(repo["registryId"], spec["repository"], image["tag"],
                                   image.get("findings", {})))
    ecr_scans.post(endpoint, region, results)
    return repo["repositoryUri"]


def _seed_secrets(sm, specs: list[dict]) -> dict[str, str]:
    from moto.secretsmanager.models import secretsmanager_backends

    arns = {}
    for spec in specs:
        tags = {"rotation-cadence-days": str(spec["cadence_days"]), "class": spec["class"],
                **{k: spec[k] for k in ("provider", "direction") if k in spec}}
        arn = sm.create_secret(Name=spec["name"], SecretString=pysecrets.token_urlsafe(32),
                               Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["ARN"]
        arns[spec["name"]] = arn
    backend = secretsmanager_backends[ACCOUNT][sm.meta.region_name]
    now = datetime.now(timezone.utc)
    for spec in specs:  # moto stamps "now"; age the secrets as the world says
        secret = backend.secrets[spec["name"]]
        when = (now - timedelta(days=spec["age_days"])).timestamp()
        secret.created_date = secret.last_changed_date = int(when)
        secret.last_rotation_date = int(when)
        secret.versions[secret.default_version_id]["createdate"] = int(when)
    return arns


def _network(ec2, zones: int) -> dict:
    """The service's awsvpc network: a default subnet in each of the first `zones` AZs
    (§11: multi-AZ active) and the default VPC's security group."""
    found = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    by_az = {s["AvailabilityZone"]: s["SubnetId"] for s in sorted(found, key=lambda s: s["AvailabilityZone"])}
    group = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
    return {"awsvpcConfiguration": {"subnets": list(by_az.values())[:zones], "securityGroups": [group["GroupId"]],
                                    "assignPublicIp": "DISABLED"}}


def _seed_ecs(ecs, spec: dict, repo_uri: str, live_tag: str, secret_arns: dict, region: str,
              network: dict, target_group: dict) -> None:
    ecs.create_cluster(clusterName=spec["cluster"])
    secrets = [{"name": env, "valueFrom": secret_arns[name]} for env, name in spec["secrets"].items()]
    history = spec["revision"] - 4
    _register_history(spec, repo_uri, secrets, region, history)
    for rev in range(history + 1, spec["revision"] + 1):
        # Only the last revision carries the live image; older ones an older one.
        tag = live_tag if rev == spec["revision"] else f"prod-legacy-r{rev}"
        ecs.register_task_definition(**task_definition(spec, f"{repo_uri}:{tag}", secrets, region))
    ecs.create_service(
        cluster=spec["cluster"], serviceName=spec["service"],
        taskDefinition=f"{spec['family']}:{spec['revision']}", desiredCount=spec["desired_count"],
        launchType="FARGATE",
        networkConfiguration=network, loadBalancers=[target_group],
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True},
                                 "maximumPercent": 200, "minimumHealthyPercent": 100})


def _register_history(spec: dict, repo_uri: str, secrets: list[dict], region: str, count: int) -> None:
    """Old revisions go straight into moto's backend: hundreds of HTTP calls would
    cost seconds of cold start, and nothing reads them but rollback listings."""
    from moto.core.utils import camelcase_to_underscores
    from moto.ecs.models import ecs_backends

    backend = ecs_backends[ACCOUNT][region]
    for rev in range(1, count + 1):
        td = task_definition(spec, f"{repo_uri}:prod-legacy-r{rev}", secrets, region)
        backend.register_task_definition(
            family=td.pop("family"), container_definitions=td.pop("containerDefinitions"),
            volumes=td.pop("volumes"), tags=[],
            **{camelcase_to_underscores(k): v for k, v in td.items()})


def task_definition(spec: dict, image: str, secrets: list[dict], region: str) -> dict:
    return {
        "family": spec["family"], "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
        "cpu": spec["cpu"], "memory": spec["memory"],
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/rovn-ecs-execution",
        "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/rovn-passport-api-task",
        # §9 on Fargate: a read-only root, /tmp writable through a task-level volume
        # with no host path (the task's ephemeral storage).
        "volumes": [{"name": "tmp"}],
        "containerDefinitions": [{
            "name": spec["container"], "image": image, "essential": True,
            "user": "10001", "readonlyRootFilesystem": True,
            "portMappings": [{"containerPort": spec["port"], "protocol": "tcp"}],
            "environment": [{"name": k, "value": v} for k, v in spec["environment"].items()],
            "secrets": secrets,
            "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": f"/ecs/{spec['family']}", "awslogs-region": region,
                "awslogs-stream-prefix": spec["container"]}},
        }],
    }


def _seed_codebuild(s3, codebuild, iam, spec: dict) -> None:
    s3.create_bucket(Bucket=spec["source_bucket"],
                     CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("README.md", "rovn-passport-api source (sandbox)\n")
    s3.put_object(Bucket=spec["source_bucket"], Key=spec["source_key"], Body=buf.getvalue())
    role = iam.create_role(RoleName="rovn-codebuild", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "codebuild.amazonaws.com"}}]}))
    codebuild.create_project(
        name=spec["project"], serviceRole=role["Role"]["Arn"],
        source={"type": "S3", "location": f"{spec['source_bucket']}/{spec['source_key']}"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                     "computeType": "BUILD_GENERAL1_MEDIUM", "privilegedMode": True})


def _seed_rds(rds, spec: dict) -> None:
    rds.create_db_instance(DBInstanceIdentifier=spec["instance"], Engine=spec["engine"],
                           EngineVersion=spec["engine_version"], DBInstanceClass=spec["instance_class"],
                           AllocatedStorage=100, MasterUsername="rovn_admin",
                           ManageMasterUserPassword=True, MultiAZ=True, StorageEncrypted=True)
    _seed_snapshots(rds, spec)


def _seed_snapshots(rds, spec: dict) -> None:
    """Manual snapshots with their ages: pre-migration ones as the suite takes them
    (named and tagged by migrations.snapshot), and others taken by hand. moto stamps
    "now"; the age is set on the backend, as for the secrets."""
    from moto.rds.models import rds_backends

    from rovn_ops.migrations import snapshot

    now = datetime.now(timezone.utc)
    backend = rds_backends[ACCOUNT][rds.meta.region_name]
    for s in spec.get("snapshots", []):
        created = now - timedelta(days=s["age_days"])
        tags = []
        if s.get("migration"):  # the suite's: its name and tags
            sid = snapshot.snapshot_id(s["migration"], created)
            expires = (created + timedelta(days=snapshot.RETENTION_DAYS)).isoformat(timespec="seconds")
            tags = [{"Key": snapshot.TAG_MIGRATION, "Value": s["migration"]},
                    {"Key": snapshot.TAG_EXPIRES, "Value": expires},
                    {"Key": snapshot.TAG_RUN, "Value": f"sandbox-history-{s['migration']}"}]
        else:
            sid = s["id"]
        rds.create_db_snapshot(DBSnapshotIdentifier=sid, DBInstanceIdentifier=spec["instance"], Tags=tags)
        backend.database_snapshots[sid].created = created
        backend.database_snapshots[sid].original_snapshot_create_time = created


def alarm_dimensions(world: dict) -> dict[str, list[dict]]:
    """The dimensions each §5 alarm's metrics carry, as the agents publish them."""
    ecs = world["ecs"]
    return {"alb": [{"Name": "LoadBalancer", "Value": world.get("load_balancer", LOAD_BALANCER)}],
            "rds": [{"Name": "DBInstanceIdentifier", "Value": world["rds"]["instance"]}],
            "ecs": [{"Name": "ClusterName", "Value": ecs["cluster"]}, {"Name": "ServiceName", "Value": ecs["service"]}]}


def alarm_spec(alarm: dict, world: dict) -> dict:
    """PutMetricAlarm's (or PutCompositeAlarm's) arguments for one world alarm: a plain
    metric alarm, or metric math (`metrics:`, no Namespace at the top, as CloudWatch
    holds the 5xx rate alarm), or a composite (`rule:`)."""
    actions = [f"arn:aws:sns:{world['region']}:{ACCOUNT}:rovn-oncall"]
    common = {"AlarmName": alarm["name"], "AlarmDescription": alarm["description"], "AlarmActions": actions}
    if "rule" in alarm:
        return {**common, "AlarmRule": alarm["rule"]}
    dims = alarm_dimensions(world)
    common |= {"EvaluationPeriods": alarm.get("evaluation_periods", 1), "Threshold": alarm["threshold"],
               "ComparisonOperator": alarm.get("comparison", "GreaterThanThreshold"), "TreatMissingData": "missing"}
    if "metrics" not in alarm:
        return {**common, "Namespace": alarm["namespace"], "MetricName": alarm["metric"], "Statistic": "Average",
                "Dimensions": dims[alarm["dimensions"]], "Period": alarm["period"]}
    queries = []
    for m in alarm["metrics"]:
        if "expression" in m:
            queries.append({"Id": m["id"], "Expression": m["expression"], "Label": m.get("label", m["id"]),
                            "ReturnData": True})
        else:
            queries.append({"Id": m["id"], "ReturnData": False, "MetricStat": {
                "Metric": {"Namespace": m["namespace"], "MetricName": m["metric"], "Dimensions": dims[m["dimensions"]]},
                "Period": alarm["period"], "Stat": m["stat"]}})
    return {**common, "Metrics": queries}


def _seed_alarms(cloudwatch, logs, world: dict) -> None:
    for alarm in world["alarms"]:
        spec = alarm_spec(alarm, world)
        (cloudwatch.put_composite_alarm if "AlarmRule" in spec else cloudwatch.put_metric_alarm)(**spec)
        cloudwatch.set_alarm_state(AlarmName=alarm["name"], StateValue="OK",
                                   StateReason="Sandbox seed: threshold not crossed")
    for group in world["log_groups"]:
        logs.create_log_group(logGroupName=group)


def _seed_evidence_bucket(s3, spec: dict) -> None:
    s3.create_bucket(Bucket=spec["name"], ObjectLockEnabledForBucket=True,
                     CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name})
    s3.put_object_lock_configuration(Bucket=spec["name"], ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": spec["retention_days"]}}})
