"""Shape conformance, standalone: drive the operations the runbooks depend on through
the library's own runs and calls against this session's sandbox, then validate every
response its sandbox has given so far (the recording sandbox/wire.py writes) against
botocore's output shapes (shapes.py). The whole suite's recordings, every worker's,
are validated again when the session ends (conftest.py pytest_sessionfinish)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import rovn_ops

from . import shapes

# What the runbooks call, beyond what the seed and the reset already answer.
DRIVEN = {
    ("ecs", "ListTasks"), ("ecs", "DescribeTasks"), ("ecs", "ListTaskDefinitions"),
    ("ecs", "ListServiceDeployments"), ("ecs", "DescribeServiceDeployments"), ("cloudtrail", "LookupEvents"),
    ("secretsmanager", "ListSecretVersionIds"), ("secretsmanager", "DescribeSecret"), ("s3", "ListObjectVersions"),
    ("s3", "HeadObject"), ("s3", "GetObjectLockConfiguration"), ("s3", "GetBucketVersioning"),
    ("iam", "GetAccountAuthorizationDetails"), ("logs", "FilterLogEvents"), ("cloudwatch", "GetMetricData"),
    ("ecr", "DescribeImages"), ("rds", "DescribeDBInstances"), ("sts", "GetCallerIdentity"),
}


def _recording(sandbox: dict) -> Path:
    return Path(os.environ["ROVN_SANDBOX_RECORD"]) / f"{sandbox['pid']}.jsonl"


def _drive(aws, sandbox) -> None:
    ecs = aws("ecs")
    cluster, service = "rovn-prod", "rovn-passport-api"
    arns = ecs.list_tasks(cluster=cluster, serviceName=service)["taskArns"]
    ecs.describe_tasks(cluster=cluster, tasks=arns)
    ecs.list_task_definitions(familyPrefix=service, sort="DESC", maxResults=3)
    deps = ecs.list_service_deployments(cluster=cluster, service=service)["serviceDeployments"]
    ecs.describe_service_deployments(serviceDeploymentArns=[d["serviceDeploymentArn"] for d in deps])
    aws("cloudtrail").lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "UpdateService"}])
    sm = aws("secretsmanager")
    for s in sm.list_secrets()["SecretList"][:3]:
        sm.describe_secret(SecretId=s["ARN"])
        sm.list_secret_version_ids(SecretId=s["ARN"])
    s3, bucket = aws("s3"), sandbox["evidence_bucket"]
    s3.get_bucket_versioning(Bucket=bucket)
    s3.get_object_lock_configuration(Bucket=bucket)
    for v in s3.list_object_versions(Bucket=bucket).get("Versions", [])[:3]:
        s3.head_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
    aws("iam").get_account_authorization_details()
    aws("logs").filter_log_events(logGroupName="/ecs/rovn-passport-api", filterPattern="ERROR", limit=5)
    import datetime as dt

    now = dt.datetime.now(dt.timezone.utc)
    aws("cloudwatch").get_metric_data(StartTime=now - dt.timedelta(hours=1), EndTime=now, MetricDataQueries=[
        {"Id": "m", "MetricStat": {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount"},
                                   "Period": 60, "Stat": "Sum"}}])
    aws("ecr").describe_images(repositoryName="rovn-passport-api")
    aws("rds").describe_db_instances()
    aws("sts").get_caller_identity()


def test_every_recorded_response_matches_botocores_output_shape(fresh, aws, evidence_dir):
    """service_status and a deploy preview run as an operator runs them (their kernels'
    calls are recorded too); then the calls above. 0 violations, every one of them seen."""
    for runbook in ("service_status", "deploy"):
        done = rovn_ops("run", runbook, "--quiet")
        assert done.returncode == 0, done.stdout + done.stderr
    _drive(aws, fresh)
    violations, seen = shapes.check_all(shapes.read(_recording(fresh)))
    assert not violations, "\n".join(map(str, violations))
    assert DRIVEN <= seen, sorted(DRIVEN - seen)
    assert len(seen) >= 40, sorted(seen)


def _entry(service, op, body, status=200, protocol_type="application/x-amz-json-1.1"):
    return {"service": service, "operation": op, "method": "POST", "path": "/", "query": "", "status": status,
            "headers": {"content-type": protocol_type}, "body": body, "body_omitted": False}


@pytest.mark.parametrize("body,problem", [
    ('{"services": [{"deployments": [{"rolloutState": "DONE"}]}]}', "not one of the enum's values"),
    ('{"services": [{"runningCount": "three"}]}', "Invalid type"),
    ('{"services": [{"serviceName": "x", "runnningCount": 3}]}', "not in botocore's model"),
])
def test_the_validator_refuses_what_aws_never_sends(body, problem):
    found = shapes.check(_entry("ecs", "DescribeServices", body))
    assert found and problem in str(found[0]), found


def test_a_500_is_a_violation():
    found = shapes.check(_entry("ecs", "ListServiceDeployments", "Internal Server Error", status=500))
    assert found and "answered HTTP 500" in str(found[0]), found


def test_the_validator_passes_a_good_answer_and_names_rest_operations():
    assert shapes.check(_entry("ecs", "DescribeServices", '{"services": [{"runningCount": 3}], "failures": []}')) == []
    s3 = shapes.model("s3")
    assert shapes.rest_operation(s3, "GET", "/bucket/a/b.json", "retention", {}) == "GetObjectRetention"
    assert shapes.rest_operation(s3, "GET", "/bucket/a/b.json", "", {}) == "GetObject"
    assert shapes.rest_operation(s3, "PUT", "/bucket/k", "", {"x-amz-copy-source": "b/k"}) == "CopyObject"
    assert shapes.rest_operation(s3, "GET", "/bucket", "versions", {}) == "ListObjectVersions"
