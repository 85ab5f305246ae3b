"""Issue 21, point 3: the outage paths. Rollback and a hotfix deploy go ahead while the
service is down (their preflight says it is unhealthy, and that they are the remedy);
only a rollout in flight that the suite did not start blocks, and `force` goes over it
with two approvers, recorded in the audit row. A rollback target must be ACTIVE, its
image in ECR and scanned clean; the default takes the newest verified revision that
passes, naming those it skipped."""
from __future__ import annotations

import json
from pathlib import Path

import urllib3

from rovn_sandbox import control
from tests.conftest import commit_source, rovn_ops
from tests.scenarios.test_deploy import _deploy_rows, _manifest, _notebook, _service, preview_then_execute, previewed

LIVE = "prod-202605270526-ai-competitive-fix"
REPO = "rovn-passport-api"


def _health(fresh) -> tuple[int, str | None]:
    r = urllib3.request("GET", fresh["health_url"])
    return r.status, json.loads(r.data).get("version")


def test_rollback_goes_ahead_while_tasks_crash_and_says_the_service_is_unhealthy(fresh, aws, evidence_dir):
    control.scenario(fresh, "tasks_crashing")
    assert _health(fresh)[0] == 503 and _service(aws)["runningCount"] == 0
    run = preview_then_execute("-p", "to_revision=rovn-passport-api:288", runbook="rollback")
    assert run.returncode == 0, run.stdout + run.stderr
    runs = sorted(evidence_dir.glob("*/*rollback*/manifest.json"), key=lambda p: p.stat().st_mtime)
    preview = _notebook(json.loads(runs[0].read_text()))
    assert "UNHEALTHY: running 0 of 3 desired; the rollback goes ahead: it is the remedy" in preview
    assert _health(fresh) == (200, LIVE) and _service(aws)["runningCount"] == 3
    [row] = _deploy_rows(fresh["database_url"], action="rollback")
    assert row["outcome"] == "success" and row["details"]["override"] is None


def test_a_hotfix_deploy_goes_ahead_while_tasks_crash(fresh, aws, evidence_dir):
    control.scenario(fresh, "tasks_crashing")
    (Path(fresh["source_dir"]) / "app" / "release.txt").write_text("hotfix: worker pool sized to the task\n")
    commit_source(fresh, "hotfix: the worker pool")
    run = preview_then_execute()
    assert run.returncode == 0, run.stdout + run.stderr
    m = _manifest(evidence_dir)
    assert _health(fresh) == (200, m["facts"]["new_image_tag"]) and _service(aws)["runningCount"] == 3
    assert "UNHEALTHY: running 0 of 3 desired; the deploy goes ahead" in _notebook(m)


def _foreign_rollout(aws) -> str:
    """Someone else's update-service, outside the suite: a revision whose image was never
    pushed, on a service without the circuit breaker, so it stays IN_PROGRESS."""
    ecs = aws("ecs")
    td = ecs.describe_task_definition(taskDefinition="rovn-passport-api:288")["taskDefinition"]
    spec = {k: td[k] for k in ("family", "networkMode", "requiresCompatibilities", "cpu", "memory",
                               "executionRoleArn", "taskRoleArn", "containerDefinitions")}
    spec["containerDefinitions"][0]["image"] = td["containerDefinitions"][0]["image"].rsplit(":", 1)[0] + ":never-pushed"
    arn = ecs.register_task_definition(**spec)["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="rovn-prod", service=REPO, taskDefinition=arn, deploymentConfiguration={
        "deploymentCircuitBreaker": {"enable": False, "rollback": False}, "maximumPercent": 200,
        "minimumHealthyPercent": 100})
    return next(d["id"] for d in _service(aws)["deployments"] if d["status"] == "PRIMARY")


def test_a_rollout_in_flight_the_suite_did_not_start_blocks_and_force_takes_two_approvers(fresh, aws, evidence_dir):
    foreign = _foreign_rollout(aws)
    refused = rovn_ops("run", "rollback", "--quiet", "-p", "to_revision=rovn-passport-api:288")
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "a deployment is in flight" in refused.stdout and foreign in refused.stdout
    assert "-p force=true" in refused.stdout
    args = previewed("-p", "to_revision=rovn-passport-api:288", "-p", "force=true", runbook="rollback")
    one = rovn_ops("run", "rollback", "--quiet", *args)
    assert one.returncode == 3 and "needs 2 distinct approvers" in one.stdout, one.stdout
    two = rovn_ops("run", "rollback", "--quiet", *[a.replace("approved_by=giles", "approved_by=giles,christian")
                                                     for a in args])
    assert two.returncode == 0, two.stdout + two.stderr
    assert _health(fresh) == (200, LIVE)
    row = _deploy_rows(fresh["database_url"], action="rollback")[-1]
    assert row["outcome"] == "success" and row["details"]["approvers"] == ["giles", "christian"]
    assert [d["deployment_id"] for d in row["details"]["override"]["force"]] == [foreign]


def test_a_rollback_target_must_be_active_in_ecr_and_scanned_clean(fresh, aws, evidence_dir):
    ecs, ecr = aws("ecs"), aws("ecr")
    # audit_log's history: 287 then 288 verified healthy (the seed); then the scenario's deploy of 289
    control.scenario(fresh, "tasks_crashing")  # the service on 289, crashing
    # 288's image expired from ECR (a lifecycle policy): the default target skips it, and says why
    ecr.batch_delete_image(repositoryName=REPO, imageIds=[{"imageTag": LIVE}])
    named = rovn_ops("run", "rollback", "--quiet", "-p", "to_revision=rovn-passport-api:288")
    assert named.returncode == 3 and f"image {REPO}:{LIVE} is not in ECR" in named.stdout, named.stdout
    assert "the newest verified revision that passes is rovn-passport-api:287" in named.stdout
    preview = rovn_ops("run", "rollback", "--quiet")
    assert preview.returncode == 0, preview.stdout + preview.stderr
    nb = _notebook(_manifest(evidence_dir, "rollback"))
    assert "`rovn-passport-api:289` → `rovn-passport-api:287`" in nb
    assert f"skipped rovn-passport-api:288 ({LIVE}): image {REPO}:{LIVE} is not in ECR" in nb
    # deregistered (INACTIVE): refused, naming it
    ecs.deregister_task_definition(taskDefinition=f"{REPO}:287")
    refused = rovn_ops("run", "rollback", "--quiet")
    assert refused.returncode == 3, refused.stdout
    assert "rovn-passport-api:287 is INACTIVE, not ACTIVE" in refused.stdout
    assert "no revision verified healthy can run" in refused.stdout


def test_a_rollback_target_whose_scan_is_not_clean_is_refused_naming_its_findings(fresh, aws, evidence_dir):
    """The third of the target's checks (§7 with §9's scanning): a revision whose image's scan
    has a finding at or above the threshold (CRITICAL: a CVE its scan found) is no target.
    Named, it is refused with its findings and the newest verified revision that passes.
    The counts are DescribeImageScanFindings' findingSeverityCounts
    (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImageScanFindings.html);
    the sandbox takes per-tag results through moto's own API (ecr_scans.post)."""
    from rovn_sandbox import ecr_scans
    from rovn_sandbox.image_config import manifest

    ecs, ecr = aws("ecs"), aws("ecr")
    control.scenario(fresh, "tasks_crashing")  # the service on 289, crashing: a rollback is wanted
    tag = "prod-202606010900-cve-found"
    ecr.put_image(repositoryName=REPO, imageTag=tag, imageManifest=manifest(tag))
    registry = ecr.describe_repositories(repositoryNames=[REPO])["repositories"][0]["registryId"]
    ecr_scans.post(fresh["endpoint"], fresh["region"],
                   [ecr_scans.result(registry, REPO, tag, {"CRITICAL": 1, "HIGH": 2})])
    ecr.start_image_scan(repositoryName=REPO, imageId={"imageTag": tag})
    td = ecs.describe_task_definition(taskDefinition=f"{REPO}:288")["taskDefinition"]
    keep = ("family", "networkMode", "requiresCompatibilities", "cpu", "memory", "executionRoleArn",
            "taskRoleArn", "volumes", "containerDefinitions")
    spec = {k: td[k] for k in keep if k in td}
    spec["containerDefinitions"][0]["image"] = td["containerDefinitions"][0]["image"].rsplit(":", 1)[0] + f":{tag}"
    revision = ecs.register_task_definition(**spec)["taskDefinition"]["revision"]
    refused = rovn_ops("run", "rollback", "--quiet", "-p", f"to_revision={REPO}:{revision}")
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert f"image {REPO}:{tag} has 1 CRITICAL finding(s) (threshold CRITICAL)" in refused.stdout, refused.stdout
    assert f"the newest verified revision that passes is {REPO}:288" in refused.stdout
    assert _health(fresh)[0] == 503  # refused: nothing was rolled out


def test_a_rollback_target_ecs_does_not_have_is_bad_input(fresh, evidence_dir):
    """An attack review's case: `-p to_revision=rovn-passport-api:999` failed the run (exit
    1, AWS's ClientException). DescribeTaskDefinition answers ClientException for a revision
    it does not have (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTaskDefinition.html):
    the operator's typo, so one line naming the parameter, exit 2."""
    run = rovn_ops("run", "rollback", "--json", "-p", "to_revision=rovn-passport-api:999")
    out = json.loads(run.stdout)
    assert run.returncode == 2 and out["outcome"] == "bad_input", run.stdout + run.stderr
    assert out["error"].startswith("parameter 'to_revision': ECS has no task definition rovn-passport-api:999")
    assert "Traceback" not in run.stderr and "ClientException" not in run.stdout + run.stderr


def test_a_refused_inactive_target_orders_a_rollback_that_would_be_accepted(fresh, aws, evidence_dir):
    """An attack review's case: a named target that is INACTIVE, on a schema it cannot be
    trusted on, was refused with an order to follow ending in the very command refused."""
    control.scenario(fresh, "bad_deploy_migration")
    aws("ecs").deregister_task_definition(taskDefinition=f"{REPO}:288")
    refused = rovn_ops("run", "rollback", "--quiet", "-p", f"to_revision={REPO}:288")
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert f"{REPO}:288 is INACTIVE, not ACTIVE" in refused.stdout
    order = refused.stdout.split("Order to follow: ", 1)[1]
    assert "migration_reversal" in order and f"to_revision={REPO}:288" not in order, order
    assert f"-p to_revision={REPO}:287" in order, order
