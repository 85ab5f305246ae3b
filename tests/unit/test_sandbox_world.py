"""The seeded world matches parameters/sandbox.yaml and the deployment overview."""
import urllib3

from rovn_sandbox import control

LIVE = "prod-202605270526-ai-competitive-fix"


def test_service_on_revision_288_with_earlier_revisions_kept(fresh, aws):
    ecs = aws("ecs")
    svc = ecs.describe_services(cluster="rovn-prod", services=["rovn-passport-api"])["services"][0]
    assert svc["taskDefinition"].endswith("task-definition/rovn-passport-api:288")
    assert svc["runningCount"] == svc["desiredCount"] == 3
    td = ecs.describe_task_definition(taskDefinition="rovn-passport-api:288")["taskDefinition"]
    assert td["containerDefinitions"][0]["image"].endswith(f"/rovn-passport-api:{LIVE}")
    pages = ecs.get_paginator("list_task_definitions").paginate(familyPrefix="rovn-passport-api",
                                                                 status="ACTIVE")
    assert sum(len(p["taskDefinitionArns"]) for p in pages) == 288
    assert ecs.describe_task_definition(taskDefinition="rovn-passport-api:287")["taskDefinition"]["status"] == "ACTIVE"


def test_identity_is_claude_deploy_and_iam_users_exist(fresh, aws):
    assert aws("sts").get_caller_identity()["Arn"].endswith(":user/claude-deploy")
    users = {u["UserName"] for u in aws("iam").list_users()["Users"]}
    assert {"claude-deploy", "giles", "christian"} <= users


def test_ecr_tags_and_seeded_scan_findings(fresh, aws):
    ecr = aws("ecr")
    tags = {i["imageTag"] for i in ecr.list_images(repositoryName="rovn-passport-api")["imageIds"]}
    assert LIVE in tags and all(t.startswith("prod-") for t in tags)
    scan = ecr.describe_image_scan_findings(repositoryName="rovn-passport-api",
                                            imageId={"imageTag": "prod-202605190947-facility-search"})
    assert scan["imageScanFindings"]["findingSeverityCounts"] == {"HIGH": 1, "MEDIUM": 3}


def test_secrets_of_section_8_with_ages(fresh, aws):
    secrets = {s["Name"]: s for s in aws("secretsmanager").list_secrets()["SecretList"]}
    assert {"rovn/prod/db-master", "rovn/prod/jwt-signing-key", "rovn/prod/stripe-api-key"} <= set(secrets)
    jwt = secrets["rovn/prod/jwt-signing-key"]
    tags = {t["Key"]: t["Value"] for t in jwt["Tags"]}
    assert tags["rotation-cadence-days"] == "180" and tags["class"] == "jwt"
    import datetime
    age = datetime.datetime.now(datetime.timezone.utc) - jwt["LastChangedDate"]
    assert 199 <= age.days <= 200


def test_alarms_logs_codebuild_rds_and_evidence_bucket(fresh, aws):
    alarms = aws("cloudwatch").describe_alarms(AlarmNamePrefix="rovn-prod-")["MetricAlarms"]
    # evaluated (alarm_eval.py): no data in the seeded world, so INSUFFICIENT_DATA, as CloudWatch says
    # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html)
    assert len(alarms) == 3 and {a["StateValue"] for a in alarms} == {"INSUFFICIENT_DATA"}
    groups = {g["logGroupName"] for g in aws("logs").describe_log_groups()["logGroups"]}
    assert "/ecs/rovn-passport-api" in groups
    assert aws("codebuild").batch_get_projects(names=["rovn-passport-api-build"])["projects"]
    assert aws("rds").describe_db_instances(DBInstanceIdentifier="rovn-prod-db")["DBInstances"]
    lock = aws("s3").get_object_lock_configuration(Bucket="rovn-evidence-archive")["ObjectLockConfiguration"]
    assert lock["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"


def test_health_reports_the_primary_image_tag(fresh):
    import json
    body = json.loads(urllib3.request("GET", fresh["health_url"]).data)
    assert body == {"status": "ok", "version": LIVE, "db": "ok"}


def test_reset_restores_the_world(fresh, aws):
    ecs = aws("ecs")
    ecs.update_service(cluster="rovn-prod", service="rovn-passport-api", taskDefinition="rovn-passport-api:287")
    control.scenario(fresh, "health_down")
    control.reset(fresh)
    svc = ecs.describe_services(cluster="rovn-prod", services=["rovn-passport-api"])["services"][0]
    assert svc["taskDefinition"].endswith(":288") and len(svc["deployments"]) == 1
    assert urllib3.request("GET", fresh["health_url"]).status == 200
    assert aws("sts").get_caller_identity()["Arn"].endswith(":user/claude-deploy")  # same credentials
