"""`rovn-ops run deploy` end to end in the sandbox: build, gates, migrations,
rollout, verify, audit and evidence; failures, refusals, crash and resume."""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import psycopg
import pytest
import urllib3

from rovn_ops.ecs import taskdef
from rovn_sandbox import control
from tests.conftest import commit_source, rovn_ops

FAMILY = "rovn-passport-api"
SEEDED_BUILDS = 8  # the builds that pushed the seeded images (world.seed_builds): 3 legacy + 5
SHIFT_NOTES = """-- Shift requests get free-text notes from the facility.
ALTER TABLE shift_requests ADD COLUMN IF NOT EXISTS notes text;
"""


def _manifest(evidence: Path, runbook: str = "deploy") -> dict:
    runs = sorted(evidence.glob(f"*/*{runbook}*/manifest.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(runs[-1].read_text())


def _notebook(m: dict) -> str:
    return Path(m["notebook"]["path"]).read_text()


def _revisions(aws) -> list[int]:
    pages = aws("ecs").get_paginator("list_task_definitions").paginate(familyPrefix=FAMILY)  # ECS pages by 100
    arns = [a for page in pages for a in page["taskDefinitionArns"]]
    return sorted(int(a.rsplit(":", 1)[-1]) for a in arns)


def _service(aws) -> dict:
    return aws("ecs").describe_services(cluster="rovn-prod", services=[FAMILY])["services"][0]


def _deploy_rows(url: str, run_id: str | None = None, action: str = "deploy") -> list[dict]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id, action, target, outcome, run_id, details FROM audit_log "
                            "WHERE action = %s ORDER BY id", [action]).fetchall()
    rows = [dict(zip(("id", "action", "target", "outcome", "run_id", "details"), r)) for r in rows]
    return [r for r in rows if (run_id is None or r["run_id"] == run_id) and not r["details"].get("sandbox_history")]


def previewed(*extra: str, approver: str = "giles", env: dict | None = None, runbook: str = "deploy") -> list[str]:
    """Preview; the arguments that execute exactly that plan (its hash, from the manifest)."""
    preview = rovn_ops("run", runbook, "--quiet", *extra, env=env)
    assert preview.returncode == 0, preview.stdout + preview.stderr
    m = _manifest(Path(os.environ["ROVN_EVIDENCE_DIR"]), runbook)
    assert m["outcome"] == "preview" and m["audit_log_ids"] == [] and m["plan_hash"] in _notebook(m)
    return [*extra, "-p", "confirm=true", "-p", f"approved_by={approver}", "-p", f"plan_hash={m['plan_hash']}"]


def preview_then_execute(*extra: str, approver: str = "giles", env: dict | None = None, runbook: str = "deploy"):
    """Preview, take the plan hash from its manifest, execute exactly that plan."""
    return rovn_ops("run", runbook, "--quiet", *previewed(*extra, approver=approver, env=env, runbook=runbook), env=env)


def _builds_and_sources(aws) -> tuple:
    return (aws("s3").list_objects_v2(Bucket="rovn-codebuild-source").get("KeyCount"),
            aws("codebuild").list_builds()["ids"])


def test_preview_changes_nothing_then_the_happy_path_from_the_sample_source(fresh, aws, evidence_dir):
    before = _builds_and_sources(aws)
    args = previewed()
    assert _builds_and_sources(aws) == before and _revisions(aws)[-1] == 288  # the preview changed nothing
    assert _deploy_rows(fresh["database_url"]) == [] and _service(aws)["taskDefinition"].endswith(":288")
    run = rovn_ops("run", "deploy", "--quiet", *args)
    assert run.returncode == 0, run.stdout + run.stderr
    m = _manifest(evidence_dir)
    facts = m["facts"]
    assert m["outcome"] == "success" and facts["new_task_definition"].endswith(":289")
    ecs = aws("ecs")
    before = taskdef.TaskDefinition.describe(ecs, f"{FAMILY}:288")
    after = taskdef.TaskDefinition.describe(ecs, f"{FAMILY}:289")
    new_tag = facts["new_image_tag"]
    assert re.fullmatch(r"prod-\d{14}", new_tag)
    assert taskdef.diff(before.spec, after.spec) == {"containerDefinitions[api].image": [
        before.image, before.image.rsplit(":", 1)[0] + ":" + new_tag]}  # only the image changed
    assert _service(aws)["taskDefinition"].endswith(":289")
    health = json.loads(urllib3.request("GET", fresh["health_url"]).data)
    assert health["status"] == "ok" and health["version"] == new_tag  # (and db: the secrets' check)
    assert ecs.describe_task_definition(taskDefinition=f"{FAMILY}:288")["taskDefinition"]["status"] == "ACTIVE"
    rows = _deploy_rows(fresh["database_url"])
    assert len(rows) == 1 and rows[0]["outcome"] == "success" and rows[0]["run_id"] == m["run_id"]
    d = rows[0]["details"]
    assert d["previous_task_definition"].endswith(":288") and d["new_task_definition"].endswith(":289")
    assert d["previous_image_tag"] == "prod-202605270526-ai-competitive-fix" and d["new_image_tag"] == new_tag
    assert d["approvers"] == ["giles"] and d["migrations"] == [] and d["snapshot"] is None
    slack = [p for p in control.posts(fresh) if p["channel"] == "slack"]
    assert len(slack) == 1 and "deploy rovn-passport-api: success" in slack[0]["payload"]["text"]
    assert f"rovn-ops run rollback --env sandbox -p to_revision={FAMILY}:288" in _notebook(m)
    # DescribeServices, counted by botocore before-call hooks in the run's kernel (issue 24): one
    # read in the preview cell, one under the change lock that the rollout starts from, then the
    # watch, whose first poll is UpdateService's own answer
    # (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html#API_UpdateService_ResponseSyntax);
    # verify reuses the poll that gave the verdict.
    assert facts["ecs_calls"]["DescribeServices"] == 1 + 1 + facts["deployment"]["polls"] - 1

    # The same image again: force-new-deployment alone is refused (§2).
    again = rovn_ops("run", "deploy", "--quiet", "-p", f"image_tag={new_tag}")
    assert again.returncode == 3 and _manifest(evidence_dir)["outcome"] == "refused"
    assert "force-new-deployment alone is a no-op" in again.stdout
    assert _revisions(aws)[-1] == 289
    assert [r["outcome"] for r in _deploy_rows(fresh["database_url"])] == ["success", "refused"]


def test_pending_migration_runs_after_its_snapshot_and_before_update_service(fresh, aws, evidence_dir):
    (Path(fresh["migrations_dir"]) / "0013_shift_request_notes.sql").write_text(SHIFT_NOTES)
    commit_source(fresh, "0013: shift request notes")
    run = preview_then_execute()
    assert run.returncode == 0, run.stdout + run.stderr
    m = _manifest(evidence_dir)
    assert m["facts"]["migrations"] == ["0013_shift_request_notes.sql"]
    snap_id = m["facts"]["snapshot"]
    snap = aws("rds").describe_db_snapshots(DBSnapshotIdentifier=snap_id)["DBSnapshots"][0]
    with psycopg.connect(fresh["admin_database_url"]) as conn:
        applied_at = conn.execute("SELECT applied_at FROM schema_migrations WHERE name = %s",
                                  ["0013_shift_request_notes.sql"]).fetchone()[0]
    assert snap["SnapshotCreateTime"] < applied_at
    [ours] = [d for d in _service(aws)["deployments"] if d["taskDefinition"].endswith(":289")]
    assert applied_at < ours["createdAt"]  # the migration ran before update-service
    [row] = _deploy_rows(fresh["database_url"])
    assert row["details"]["migrations"] == ["0013_shift_request_notes.sql"] and row["details"]["snapshot"] == snap_id


def test_failed_rollout_exits_1_and_rolls_back(fresh, aws, evidence_dir):
    control.scenario(fresh, "ecs_new_tasks_fail")
    run = preview_then_execute()
    assert run.returncode == 1
    m = _manifest(evidence_dir)
    assert m["outcome"] == "failed" and "rolled_back" in m["error"]
    assert m["facts"]["rollback"]["ok"] is True
    rows = _deploy_rows(fresh["database_url"])
    assert [r["outcome"] for r in rows] == ["failed"]
    assert "success" not in run.stdout and "Deployed:" not in _notebook(m).split("## 6.")[-1]  # never reported a success
    assert _service(aws)["taskDefinition"].endswith(":288")
    assert json.loads(urllib3.request("GET", fresh["health_url"]).data)["version"] == \
        "prod-202605270526-ai-competitive-fix"


def test_failed_rollout_after_a_migration_pages_and_does_not_roll_back(fresh, aws, evidence_dir):
    (Path(fresh["migrations_dir"]) / "0013_shift_request_notes.sql").write_text(SHIFT_NOTES)
    commit_source(fresh, "0013: shift request notes")
    control.scenario(fresh, "ecs_new_tasks_fail")
    run = preview_then_execute()
    assert run.returncode == 1
    m = _manifest(evidence_dir)
    assert m["facts"]["rollback"]["done"] is False and "do NOT roll back the task alone" in m["error"]
    pages = [p for p in control.posts(fresh) if p["channel"] == "pagerduty"]
    assert len(pages) == 1 and "0013_shift_request_notes.sql" in pages[0]["payload"]["payload"]["summary"]
    assert [r["outcome"] for r in _deploy_rows(fresh["database_url"])] == ["failed"]


def test_identity_not_on_the_allow_list_is_refused(fresh, aws, evidence_dir):
    key = aws("iam").create_access_key(UserName="giles")["AccessKey"]
    env = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    # any hash: authorize() refuses the operator before the plan hash is compared
    run = rovn_ops("run", "deploy", "--quiet", "-p", "confirm=true", "-p", "approved_by=christian",
                   "-p", "plan_hash=" + "0" * 64, env=env)
    assert run.returncode == 3 and "user/giles is not on the deployers allow-list" in run.stdout
    assert _manifest(evidence_dir)["outcome"] == "refused"
    [row] = _deploy_rows(fresh["database_url"])
    assert row["outcome"] == "refused" and "giles" in row["details"]["reason"]
    assert _revisions(aws)[-1] == 288


def test_critical_finding_refuses_and_nothing_is_registered(fresh, aws, evidence_dir):
    control.scenario(fresh, "image_critical_finding")
    run = preview_then_execute()
    assert run.returncode == 1 and "1 CRITICAL" in run.stdout and "nothing was deployed" in run.stdout
    assert _revisions(aws)[-1] == 288 and _service(aws)["taskDefinition"].endswith(":288")
    # The image exists but is refused: deploying it by tag is refused at the preview.
    tag = _manifest(evidence_dir)["facts"]["new_image_tag"]
    by_tag = rovn_ops("run", "deploy", "--quiet", "-p", f"image_tag={tag}")
    assert by_tag.returncode == 3 and "image scan below CRITICAL" in by_tag.stdout
    assert [r["outcome"] for r in _deploy_rows(fresh["database_url"])] == ["failed", "refused"]


def test_stale_plan_hash_is_refused(fresh, aws, evidence_dir):
    preview = rovn_ops("run", "deploy", "--quiet")
    plan = re.search(r"plan_hash=([0-9a-f]{64})", _notebook(_manifest(evidence_dir))).group(1)
    # The world moves after the review: a migration lands in the source.
    (Path(fresh["migrations_dir"]) / "0013_shift_request_notes.sql").write_text(SHIFT_NOTES)
    commit_source(fresh, "0013: shift request notes")
    run = rovn_ops("run", "deploy", "--quiet", "-p", "confirm=true", "-p", "approved_by=giles",
                   "-p", f"plan_hash={plan}")
    assert preview.returncode == 0 and run.returncode == 3 and "does not match today's plan" in run.stdout
    assert _revisions(aws)[-1] == 288
    with psycopg.connect(fresh["admin_database_url"]) as conn:
        assert not conn.execute("SELECT 1 FROM schema_migrations WHERE name LIKE '0013%'").fetchone()


def test_an_approved_hash_cannot_run_with_other_verification_parameters(fresh, aws, evidence_dir):
    args = previewed()  # one preview serves every swap: a refusal changes nothing (checked at the end)
    for swap in (["-p", "auto_rollback=false"], ["-p", "bake_s=0"], ["-p", "health_url=http://127.0.0.1:9/health"],
                 ["-p", "deadline_s=1"]):
        run = rovn_ops("run", "deploy", "--quiet", *args, *swap)
        assert run.returncode == 3 and "does not match today's plan" in run.stdout, (swap, run.stdout + run.stderr)
        assert _revisions(aws)[-1] == 288
    assert previewed() == args  # the same plan still: each refusal was its parameter's alone


def test_source_hygiene_violations_are_named_and_refused(fresh, aws, evidence_dir, tmp_path):
    import shutil

    src = tmp_path / "source"
    shutil.copytree(fresh["source_dir"], src)
    dockerfile = (src / "Dockerfile").read_text()
    (src / "Dockerfile").write_text(re.sub(r"@sha256:[0-9a-f]{64}", "", dockerfile).replace("USER 10001\n", ""))
    (src / "requirements.lock").unlink()
    # (a secret-named set_env item never gets this far: it is bad input, refused before a kernel starts)
    run = rovn_ops("run", "deploy", "--quiet", "-p", f"source={src}")
    assert run.returncode == 3, run.stdout + run.stderr
    for named in ("is not pinned by digest", "sets no USER", "no dependency lockfile"):
        assert named in run.stdout, named
    assert _revisions(aws)[-1] == 288


def test_a_drifted_live_task_definition_is_refused_naming_each_rule(fresh, aws, evidence_dir):
    ecs = aws("ecs")
    live = taskdef.TaskDefinition.describe(ecs, f"{FAMILY}:288")
    spec = json.loads(json.dumps(live.spec))
    app = spec["containerDefinitions"][0]
    app.pop("user")
    app["readonlyRootFilesystem"] = False
    app["environment"].append({"name": "DB_PASSWORD", "value": "hunter2hunter2"})
    app["secrets"][0]["valueFrom"] = "plain-text-not-an-arn"
    arn = ecs.register_task_definition(**spec)["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="rovn-prod", service=FAMILY, taskDefinition=arn)
    while len(_service(aws)["deployments"]) > 1:  # the rollout completes on the sandbox's clock
        time.sleep(0.05)
    run = rovn_ops("run", "deploy", "--quiet")
    assert run.returncode == 3
    for named in ("runs as root", "root filesystem is writable", "is not a Secrets Manager ARN",
                  "DB_PASSWORD looks like a secret"):
        assert named in run.stdout, named
    assert _revisions(aws)[-1] == 289  # only the drifted one


def test_an_alarm_already_firing_that_does_not_recover_fails_the_bake(fresh, aws, evidence_dir):
    # 5xx at 4% these 5 minutes, and no new data after the rollout: the alarm, evaluated from
    # them (sandbox/alarm_eval.py; SetAlarmState would last only to its next evaluation), fires
    import datetime
    now, alb = datetime.datetime.now(datetime.timezone.utc), [{"Name": "LoadBalancer",
                                                              "Value": "app/rovn-prod-alb/50dc6c495c0c9188"}]
    aws("cloudwatch").put_metric_data(Namespace="AWS/ApplicationELB", MetricData=[
        {"MetricName": name, "Dimensions": alb, "Timestamp": now - datetime.timedelta(minutes=m, seconds=5),
         "Value": value, "Unit": "Count"} for m in range(5) for name, value in
        (("RequestCount", 1000), ("HTTPCode_Target_5XX_Count", 40))])
    import time
    while aws("cloudwatch").describe_alarms(AlarmNames=["rovn-prod-alb-5xx-rate"])["MetricAlarms"][0][
            "StateValue"] != "ALARM":
        time.sleep(0.1)  # its next evaluation: a sandbox minute
    run = preview_then_execute()
    assert run.returncode == 1 and "alarm rovn-prod-alb-5xx-rate not recovering" in run.stdout
    m = _manifest(evidence_dir)
    assert m["facts"]["deployment"]["state"] == "completed" and m["facts"]["rollback"]["ok"] is True
    assert _service(aws)["taskDefinition"].endswith(":288")
    [row] = _deploy_rows(fresh["database_url"])
    assert row["outcome"] == "failed" and row["details"]["failed_step"] == "verify"


def test_a_hotfix_during_an_incident_that_recovers_succeeds(fresh, aws, evidence_dir):
    control.scenario(fresh, "incident_5xx")  # the 5xx alarm fires before the deploy; the fix brings the rate down
    run = preview_then_execute("-p", "bake_s=2")
    assert run.returncode == 0, run.stdout + run.stderr
    m = _manifest(evidence_dir)
    nb = _notebook(m)
    assert "rovn-prod-alb-5xx-rate already in ALARM" in nb  # the preview said so
    [bake] = [b for b in m["facts"]["bake"] if b["alarm"] == "rovn-prod-alb-5xx-rate"]
    assert bake["before"] == "ALARM" and bake["verdict"] == "recovering"
    assert bake["metric_after"] < bake["metric_before"]
    assert "ALARM → ALARM: recovering" in nb  # the verify table
    [row] = _deploy_rows(fresh["database_url"])
    assert row["outcome"] == "success" and row["details"]["bake"][0]["verdict"] == "recovering"


def test_an_alarm_that_fires_during_the_bake_fails_the_deploy_and_rolls_back(fresh, aws, evidence_dir):
    control.scenario(fresh, "alarm_fires_after_rollout")
    run = preview_then_execute()
    assert run.returncode == 1 and "alarm rovn-prod-alb-5xx-rate fired during the bake" in run.stdout
    m = _manifest(evidence_dir)
    assert m["facts"]["rollback"]["ok"] is True and _service(aws)["taskDefinition"].endswith(":288")
    assert [b["verdict"] for b in m["facts"]["bake"] if b["alarm"] == "rovn-prod-alb-5xx-rate"] == \
        ["fired during the bake"]


def test_a_failed_automatic_rollback_pages_p0_and_says_what_the_service_is_doing(fresh, aws, evidence_dir):
    control.scenario(fresh, "ecs_new_tasks_fail")
    control.scenario(fresh, "health_down")
    run = preview_then_execute("-p", "deadline_s=5")  # /health is never back: its wait ends at the deadline
    assert run.returncode == 1
    pages = [p for p in control.posts(fresh) if p["channel"] == "pagerduty"]
    assert len(pages) == 1
    page = pages[0]["payload"]
    assert page["event_action"] == "trigger" and page["payload"]["severity"] == "critical"
    assert page["payload"]["summary"].startswith("P0 [sandbox] rovn-passport-api")
    assert "runs rovn-passport-api:288" in page["payload"]["summary"]
    m = _manifest(evidence_dir)
    assert "did NOT verify; PagerDuty was paged (P0)" in m["error"] and "The service now: runs" in m["error"]
    assert m["facts"]["rollback"]["paged"] is True
