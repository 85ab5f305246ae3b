"""The other services the suite uses, as their API references document them (table.py
explains a row; ECS has test_ecs.py). A test per service, each a table."""
from __future__ import annotations

import datetime as dt

from rovn_sandbox.image_config import manifest as image_manifest

from .table import Row, rows, run

ECR = "https://docs.aws.amazon.com/AmazonECR/latest/APIReference/"
CW = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/"
LOGS = "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/"
RDS = "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/"
SM = "https://docs.aws.amazon.com/secretsmanager/latest/apireference/"
IAM = "https://docs.aws.amazon.com/IAM/latest/APIReference/"
STS = "https://docs.aws.amazon.com/STS/latest/APIReference/"
S3 = "https://docs.aws.amazon.com/AmazonS3/latest/API/"
CT = "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/"
CB = "https://docs.aws.amazon.com/codebuild/latest/APIReference/"
ELB = "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/"
ECS_ERRORS = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/CommonErrors.html"
ECR_ERRORS = ECR + "CommonErrors.html"
REPO, GROUP, DB, PROJECT = "rovn-passport-api", "/ecs/rovn-passport-api", "rovn-prod-db", "rovn-passport-api-build"
SECRET, BUCKET = "rovn/prod/stripe-api-key", "rovn-evidence-archive"
NOW = dt.datetime.now(dt.timezone.utc)


def _ok(check):
    """A check that only reads the response."""
    return lambda resp, ctx: check(resp)


# -- ECR ---------------------------------------------------------------------------
def _live_tag_listed(resp):
    tags = {t for d in resp["imageDetails"] for t in d.get("imageTags", [])}
    assert "prod-202605270526-ai-competitive-fix" in tags and all(d["imageDigest"].startswith("sha256:")
                                                                   for d in resp["imageDetails"])


ECR_ROWS = [
    Row("DescribeImages of a tag never pushed is ImageNotFoundException", ECR + "API_DescribeImages.html",
        "ecr", "describe_images", {"repositoryName": REPO, "imageIds": [{"imageTag": "never-pushed"}]},
        "ImageNotFoundException"),
    Row("DescribeImages of a missing repository is RepositoryNotFoundException", ECR + "API_DescribeImages.html",
        "ecr", "describe_images", {"repositoryName": "no-such-repo"}, "RepositoryNotFoundException"),
    Row("PutImage over an existing tag of an IMMUTABLE repository is refused", ECR + "API_PutImage.html",
        "ecr", "put_image", lambda ctx: {"repositoryName": REPO, "imageTag": "prod-202605270526-ai-competitive-fix",
                                         "imageManifest": image_manifest("another-build")},
        "ImageTagAlreadyExistsException"),
    Row("DescribeImages lists each image with its tags and digest", ECR + "API_DescribeImages.html",
        "ecr", "describe_images", {"repositoryName": REPO}, _ok(_live_tag_listed)),
    Row("DescribeImages with maxResults of the wrong type is a 400, not a 500", ECR_ERRORS,
        "ecr", "describe_images", {"repositoryName": REPO, "maxResults": "ten"}, "SerializationException",
        validate=False),
]

# -- CloudWatch --------------------------------------------------------------------
CW_ROWS = [
    Row("DescribeAlarms of an unknown alarm name lists nothing", CW + "API_DescribeAlarms.html",
        "cloudwatch", "describe_alarms", {"AlarmNames": ["no-such-alarm"]},
        _ok(lambda r: (r["MetricAlarms"] == [] and r["CompositeAlarms"] == []) or (_ for _ in ()).throw(
            AssertionError(r)))),
    Row("DescribeAlarms lists the §5 alarms with their state", CW + "API_DescribeAlarms.html",
        "cloudwatch", "describe_alarms", {"AlarmNamePrefix": "rovn-prod-"},
        _ok(lambda r: _assert(len(r["MetricAlarms"]) >= 3 and {a["StateValue"] for a in r["MetricAlarms"]}
                              <= {"OK", "ALARM", "INSUFFICIENT_DATA"}, r))),
    Row("SetAlarmState of an unknown alarm is ResourceNotFound", CW + "API_SetAlarmState.html",
        "cloudwatch", "set_alarm_state", {"AlarmName": "no-such-alarm", "StateValue": "OK", "StateReason": "test"},
        "ResourceNotFound"),
    Row("GetMetricData's FILL(m, 0) fills the periods a sparse count did not report",
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html",
        "cloudwatch", "get_metric_data", lambda ctx: _fill_query(), _ok(lambda r: _assert(
            [v for x in r["MetricDataResults"] if x["Id"] == "e1" for v in x["Values"]] == [0.0, 50.0, 0.0], r)),
        setup=lambda ctx: _sparse_5xx(ctx)),
]

# minutes 3, 2 and 1 before NOW: 1000 requests each, ELB 5xx only in the middle one (nonzero only)
_SPARSE = [NOW.replace(second=0, microsecond=0) - dt.timedelta(minutes=m) for m in (3, 2, 1)]
_LB = [{"Name": "LoadBalancer", "Value": "app/fill-test/0123456789abcdef"}]


def _sparse_5xx(ctx):
    ctx.client("cloudwatch").put_metric_data(Namespace="AWS/ApplicationELB", MetricData=[
        {"MetricName": "RequestCount", "Dimensions": _LB, "Timestamp": at, "Value": 1000} for at in _SPARSE] + [
        {"MetricName": "HTTPCode_ELB_5XX_Count", "Dimensions": _LB, "Timestamp": _SPARSE[1], "Value": 500}])


def _fill_query():
    stat = lambda name: {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": name, "Dimensions": _LB},
                         "Period": 60, "Stat": "Sum"}
    return {"StartTime": _SPARSE[0], "EndTime": _SPARSE[-1] + dt.timedelta(minutes=1), "ScanBy": "TimestampAscending",
            "MetricDataQueries": [{"Id": "m2", "MetricStat": stat("RequestCount"), "ReturnData": False},
                                  {"Id": "m3", "MetricStat": stat("HTTPCode_ELB_5XX_Count"), "ReturnData": False},
                                  {"Id": "e1", "Expression": "100*FILL(m3,0)/m2"}]}


def _assert(cond, detail=None):
    assert cond, detail


# -- Logs --------------------------------------------------------------------------
LOGS_ROWS = [
    Row("FilterLogEvents of a missing log group is ResourceNotFoundException", LOGS + "API_FilterLogEvents.html",
        "logs", "filter_log_events", {"logGroupName": "/no/such/group"}, "ResourceNotFoundException"),
    Row("CreateLogGroup of an existing group is ResourceAlreadyExistsException", LOGS + "API_CreateLogGroup.html",
        "logs", "create_log_group", {"logGroupName": GROUP}, "ResourceAlreadyExistsException"),
    Row("DescribeLogGroups by prefix lists the service's group", LOGS + "API_DescribeLogGroups.html",
        "logs", "describe_log_groups", {"logGroupNamePrefix": "/ecs/"},
        _ok(lambda r: _assert(GROUP in [g["logGroupName"] for g in r["logGroups"]], r))),
    Row("FilterLogEvents with limit of the wrong type is a 400, not a 500", LOGS + "CommonErrors.html",
        "logs", "filter_log_events", {"logGroupName": GROUP, "limit": "many"}, "SerializationException",
        validate=False),
]

# -- RDS ---------------------------------------------------------------------------
RDS_ROWS = [
    Row("DescribeDBInstances of an unknown instance is DBInstanceNotFound", RDS + "API_DescribeDBInstances.html",
        "rds", "describe_db_instances", {"DBInstanceIdentifier": "no-such-db"}, "DBInstanceNotFound"),
    Row("DescribeDBSnapshots of an unknown snapshot is DBSnapshotNotFound", RDS + "API_DescribeDBSnapshots.html",
        "rds", "describe_db_snapshots", {"DBSnapshotIdentifier": "no-such-snapshot"}, "DBSnapshotNotFound"),
    Row("CreateDBSnapshot with an identifier in use is DBSnapshotAlreadyExists", RDS + "API_CreateDBSnapshot.html",
        "rds", "create_db_snapshot", {"DBInstanceIdentifier": DB, "DBSnapshotIdentifier": "dup-snapshot"},
        "DBSnapshotAlreadyExists",
        setup=lambda ctx: ctx.client("rds").create_db_snapshot(DBInstanceIdentifier=DB,
                                                               DBSnapshotIdentifier="dup-snapshot")),
    Row("DescribeDBInstances reports the instance available", RDS + "API_DescribeDBInstances.html",
        "rds", "describe_db_instances", {"DBInstanceIdentifier": DB},
        _ok(lambda r: _assert(r["DBInstances"][0]["DBInstanceStatus"] == "available", r))),
]


# -- Secrets Manager ---------------------------------------------------------------
def _stages(ctx) -> dict[str, list[str]]:
    versions = ctx.client("secretsmanager").list_secret_version_ids(SecretId=SECRET)["Versions"]
    return {v["VersionId"]: v.get("VersionStages", []) for v in versions}


def _pending(ctx):
    ctx.before = _stages(ctx)
    ctx.new = ctx.client("secretsmanager").put_secret_value(SecretId=SECRET, SecretString="sk_test_new",
                                                            VersionStages=["AWSPENDING"])["VersionId"]


def _pending_leaves_current(resp, ctx):
    stages = _stages(ctx)
    assert stages[ctx.new] == ["AWSPENDING"]
    current = [v for v, s in stages.items() if "AWSCURRENT" in s]
    assert current == [v for v, s in ctx.before.items() if "AWSCURRENT" in s]
    assert resp["SecretString"] != "sk_test_new"


def _promote(ctx):
    _pending(ctx)
    ctx.old = next(v for v, s in ctx.before.items() if "AWSCURRENT" in s)


def _moved(resp, ctx):
    stages = _stages(ctx)
    assert "AWSCURRENT" in stages[ctx.new] and stages[ctx.old] == ["AWSPREVIOUS"], stages
    got = ctx.client("secretsmanager").get_secret_value(SecretId=SECRET)
    assert got["VersionId"] == ctx.new and "AWSCURRENT" in got["VersionStages"]


def _version_dates(resp, ctx):
    assert all(v["CreatedDate"] < NOW for v in resp["Versions"]), resp["Versions"]


SM_ROWS = [
    Row("GetSecretValue of an unknown secret is ResourceNotFoundException", SM + "API_GetSecretValue.html",
        "secretsmanager", "get_secret_value", {"SecretId": "rovn/prod/no-such-secret"}, "ResourceNotFoundException"),
    Row("GetSecretValue of a stage no version has is ResourceNotFoundException", SM + "API_GetSecretValue.html",
        "secretsmanager", "get_secret_value", {"SecretId": SECRET, "VersionStage": "AWSPENDING"},
        "ResourceNotFoundException"),
    Row("PutSecretValue with AWSPENDING leaves AWSCURRENT where it was", SM + "API_PutSecretValue.html",
        "secretsmanager", "get_secret_value", {"SecretId": SECRET, "VersionStage": "AWSCURRENT"},
        _pending_leaves_current, setup=_pending),
    Row("UpdateSecretVersionStage moving AWSCURRENT labels the old version AWSPREVIOUS",
        SM + "API_UpdateSecretVersionStage.html", "secretsmanager", "update_secret_version_stage",
        lambda ctx: {"SecretId": SECRET, "VersionStage": "AWSCURRENT", "MoveToVersionId": ctx.new,
                     "RemoveFromVersionId": ctx.old}, _moved, setup=_promote),
    Row("UpdateSecretVersionStage moving an attached label without RemoveFromVersionId is refused",
        SM + "API_UpdateSecretVersionStage.html", "secretsmanager", "update_secret_version_stage",
        lambda ctx: {"SecretId": SECRET, "VersionStage": "AWSCURRENT", "MoveToVersionId": ctx.new},
        "InvalidParameterException", setup=_promote),
    Row("ListSecretVersionIds reports each version's own CreatedDate", SM + "API_ListSecretVersionIds.html",
        "secretsmanager", "list_secret_version_ids", {"SecretId": SECRET}, _version_dates),
    Row("GetSecretValue with SecretId of the wrong type is a 400, not a 500", SM + "CommonErrors.html",
        "secretsmanager", "get_secret_value", {"SecretId": ["not", "a", "string"]}, "SerializationException",
        validate=False),
]


# -- IAM and STS -------------------------------------------------------------------
def _decision(expected):
    def check(resp, ctx):
        decisions = {r["EvalActionName"]: r["EvalDecision"] for r in resp["EvaluationResults"]}
        assert decisions == expected, decisions
    return check


def _user_arn(name):
    return f"arn:aws:iam::123456789012:user/{name}"


IAM_ROWS = [
    Row("GetUser of an unknown user is NoSuchEntity", IAM + "API_GetUser.html",
        "iam", "get_user", {"UserName": "no-such-user"}, "NoSuchEntity"),
    Row("GetAccountAuthorizationDetails lists the users with their attached policies",
        IAM + "API_GetAccountAuthorizationDetails.html", "iam", "get_account_authorization_details", {},
        _ok(lambda r: _assert("claude-deploy" in {u["UserName"] for u in r["UserDetailList"]}, r))),
    Row("SimulatePrincipalPolicy: claude-deploy may read secrets (allowed)", IAM + "API_SimulatePrincipalPolicy.html",
        "iam", "simulate_principal_policy",
        {"PolicySourceArn": _user_arn("claude-deploy"), "ActionNames": ["secretsmanager:GetSecretValue"]},
        _decision({"secretsmanager:GetSecretValue": "allowed"})),
    Row("SimulatePrincipalPolicy: an approver without policies is implicitDeny", IAM + "API_SimulatePrincipalPolicy.html",
        "iam", "simulate_principal_policy",
        {"PolicySourceArn": _user_arn("giles"), "ActionNames": ["secretsmanager:GetSecretValue", "ecs:UpdateService"]},
        _decision({"secretsmanager:GetSecretValue": "implicitDeny", "ecs:UpdateService": "implicitDeny"})),
    Row("SimulatePrincipalPolicy: PowerUser may not touch IAM (implicitDeny)", IAM + "API_SimulatePrincipalPolicy.html",
        "iam", "simulate_principal_policy",
        {"PolicySourceArn": _user_arn("claude-deploy"), "ActionNames": ["organizations:CreateAccount"]},
        _decision({"organizations:CreateAccount": "implicitDeny"})),
]

STS_ROWS = [
    Row("GetCallerIdentity names the user whose key signed the request", STS + "API_GetCallerIdentity.html",
        "sts", "get_caller_identity", {},
        _ok(lambda r: _assert(r["Arn"] == _user_arn("claude-deploy") and r["Account"] == "123456789012", r))),
    Row("GetCallerIdentity's UserId is the IAM user's unique id (AIDA…)", STS + "API_GetCallerIdentity.html",
        "sts", "get_caller_identity", {}, _ok(lambda r: _assert(r["UserId"].startswith("AIDA"), r))),
]


# -- S3: the evidence bucket -------------------------------------------------------
def _locked(ctx):
    until = NOW + dt.timedelta(days=1)
    ctx.version = ctx.client("s3").put_object(Bucket=BUCKET, Key="conformance/locked.txt", Body=b"x",
                                              ObjectLockMode="COMPLIANCE",
                                              ObjectLockRetainUntilDate=until)["VersionId"]


S3_ROWS = [
    Row("GetBucketVersioning: the evidence bucket is versioned", S3 + "API_GetBucketVersioning.html",
        "s3", "get_bucket_versioning", {"Bucket": BUCKET}, _ok(lambda r: _assert(r.get("Status") == "Enabled", r))),
    Row("GetObjectLockConfiguration: Object Lock is enabled", S3 + "API_GetObjectLockConfiguration.html",
        "s3", "get_object_lock_configuration", {"Bucket": BUCKET},
        _ok(lambda r: _assert(r["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled", r))),
    Row("HeadObject of a locked version reports its mode and retain-until date", S3 + "API_HeadObject.html",
        "s3", "head_object", lambda ctx: {"Bucket": BUCKET, "Key": "conformance/locked.txt", "VersionId": ctx.version},
        _ok(lambda r: _assert(r["ObjectLockMode"] == "COMPLIANCE" and r["ObjectLockRetainUntilDate"] > NOW, r)),
        setup=_locked),
    Row("GetObjectRetention of a locked version answers its retention", S3 + "API_GetObjectRetention.html",
        "s3", "get_object_retention",
        lambda ctx: {"Bucket": BUCKET, "Key": "conformance/locked.txt", "VersionId": ctx.version},
        _ok(lambda r: _assert(r["Retention"]["Mode"] == "COMPLIANCE", r)), setup=_locked),
    Row("DeleteObject of a version under COMPLIANCE retention is AccessDenied", S3 + "API_DeleteObject.html",
        "s3", "delete_object", lambda ctx: {"Bucket": BUCKET, "Key": "conformance/locked.txt", "VersionId": ctx.version},
        "AccessDenied", setup=_locked),
    Row("GetObject of a missing key is NoSuchKey", S3 + "API_GetObject.html",
        "s3", "get_object", {"Bucket": BUCKET, "Key": "conformance/missing.txt"}, "NoSuchKey"),
    Row("PutObject If-None-Match: * over an existing key is PreconditionFailed", S3 + "API_PutObject.html",
        "s3", "put_object", {"Bucket": BUCKET, "Key": "conformance/once.txt", "Body": b"2", "IfNoneMatch": "*"},
        "PreconditionFailed",
        setup=lambda ctx: ctx.client("s3").put_object(Bucket=BUCKET, Key="conformance/once.txt", Body=b"1")),
]


# -- CloudTrail --------------------------------------------------------------------
def _update(ctx):
    ctx.client("ecs").update_service(cluster="rovn-prod", service="rovn-passport-api",
                                     taskDefinition="rovn-passport-api:287")


def _update_recorded(resp, ctx):
    events = resp["Events"]
    assert [e["EventName"] for e in events] == ["UpdateService"], events
    assert events[0]["Username"] == "claude-deploy" and events[0]["EventSource"] == "ecs.amazonaws.com"
    assert {"ResourceType": "AWS::ECS::Service", "ResourceName": "rovn-passport-api"} in events[0]["Resources"]


CT_ROWS = [
    Row("LookupEvents by EventName finds the UpdateService just made, with who made it", CT + "API_LookupEvents.html",
        "cloudtrail", "lookup_events",
        {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "UpdateService"}]}, _update_recorded,
        setup=_update),
    Row("LookupEvents with two lookup attributes is InvalidLookupAttributesException", CT + "API_LookupEvents.html",
        "cloudtrail", "lookup_events",
        {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "UpdateService"},
                              {"AttributeKey": "Username", "AttributeValue": "claude-deploy"}]},
        "InvalidLookupAttributesException"),
    Row("LookupEvents with StartTime after EndTime is InvalidTimeRangeException", CT + "API_LookupEvents.html",
        "cloudtrail", "lookup_events", {"StartTime": NOW, "EndTime": NOW - dt.timedelta(hours=1)},
        "InvalidTimeRangeException"),
    Row("LookupEvents with MaxResults above 50 is InvalidMaxResultsException", CT + "API_LookupEvents.html",
        "cloudtrail", "lookup_events", {"MaxResults": 51}, "InvalidMaxResultsException"),
]


# -- CodeBuild ---------------------------------------------------------------------
CB_ROWS = [
    Row("BatchGetBuilds of an unknown id lists it in buildsNotFound", CB + "API_BatchGetBuilds.html",
        "codebuild", "batch_get_builds", {"ids": [f"{PROJECT}:00000000-0000-0000-0000-000000000000"]},
        _ok(lambda r: _assert(r["builds"] == [] and len(r["buildsNotFound"]) == 1, r))),
    Row("StartBuild of an unknown project is ResourceNotFoundException", CB + "API_StartBuild.html",
        "codebuild", "start_build", {"projectName": "no-such-project"}, "ResourceNotFoundException"),
    Row("A build just started is IN_PROGRESS, not SUCCEEDED at once", CB + "API_Build.html",
        "codebuild", "start_build", {"projectName": PROJECT},
        _ok(lambda r: _assert(r["build"]["buildStatus"] == "IN_PROGRESS", r))),
    Row("StartBuild with a timeout of the wrong type is a 400, not a 500", CB + "CommonErrors.html",
        "codebuild", "start_build", {"projectName": PROJECT, "timeoutInMinutesOverride": "soon"},
        "SerializationException", validate=False),
]


# -- ELBv2 (the service's ALB and target group: sandbox/elbv2_world.py) --------------------------

def _tg(ctx) -> str:
    svc = ctx.client("ecs").describe_services(cluster="rovn-prod", services=["rovn-passport-api"])["services"][0]
    return svc["loadBalancers"][0]["targetGroupArn"]


ELB_ROWS = [
    Row("DescribeTargetHealth of an unknown target group is TargetGroupNotFound", ELB + "API_DescribeTargetHealth.html",
        "elbv2", "describe_target_health",
        {"TargetGroupArn": "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/no-such-tg/0123456789abcdef"},
        "TargetGroupNotFound"),
    Row("DescribeTargetHealth names the service's three running tasks, healthy", ELB + "API_DescribeTargetHealth.html",
        "elbv2", "describe_target_health", lambda ctx: {"TargetGroupArn": _tg(ctx)},
        _ok(lambda r: _assert(len(r["TargetHealthDescriptions"]) == 3 and {
            d["TargetHealth"]["State"] for d in r["TargetHealthDescriptions"]} == {"healthy"}, r))),
    Row("DescribeTargetHealth of an address never registered is unused, Target.NotRegistered",
        ELB + "API_TargetHealth.html", "elbv2", "describe_target_health",
        lambda ctx: {"TargetGroupArn": _tg(ctx), "Targets": [{"Id": "10.9.9.9", "Port": 8000}]},
        _ok(lambda r: _assert(r["TargetHealthDescriptions"][0]["TargetHealth"]["Reason"] == "Target.NotRegistered", r))),
]


@rows(ELB_ROWS)
def test_elbv2(row, client, paused):
    run(row, paused, client)


@rows(ECR_ROWS)
def test_ecr(row, client, paused):
    run(row, paused, client)


@rows(CW_ROWS)
def test_cloudwatch(row, client, paused):
    run(row, paused, client)


@rows(LOGS_ROWS)
def test_logs(row, client, paused):
    run(row, paused, client)


@rows(RDS_ROWS)
def test_rds(row, client, paused):
    run(row, paused, client)


@rows(SM_ROWS)
def test_secretsmanager(row, client, paused):
    run(row, paused, client)


@rows(IAM_ROWS)
def test_iam(row, client, paused):
    run(row, paused, client)


@rows(STS_ROWS)
def test_sts(row, client, paused):
    run(row, paused, client)


@rows(S3_ROWS)
def test_s3(row, client, paused):
    run(row, paused, client)


@rows(CT_ROWS)
def test_cloudtrail(row, client, paused):
    run(row, paused, client)


@rows(CB_ROWS)
def test_codebuild(row, client, paused):
    run(row, paused, client)
