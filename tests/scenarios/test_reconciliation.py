"""Issue 27, build 5: reconciliation with the systems of record. A deploy made outside the
suite (plain boto3 RegisterTaskDefinition + UpdateService, as anyone holding claude-deploy's
key could) left no run, so the index never showed it. `evidence reconcile` and the index
list every ECS deployment (ListServiceDeployments,
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListServiceDeployments.html)
and task-definition revision (RegisterTaskDefinition's registeredAt,
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTaskDefinition.html)
of the period, each matched to a run or UNEXPLAINED."""
from __future__ import annotations

import json
from datetime import datetime

from tests.conftest import rovn_ops
from tests.scenarios.test_approval_records import as_person
from tests.scenarios.test_deploy import _manifest
from tests.scenarios.test_index_truth import _page_rows

CLUSTER, SERVICE = "rovn-prod", "rovn-passport-api"


def _deploy_outside_the_suite(aws) -> str:
    ecs = aws("ecs")
    live = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["taskDefinition"]
    td = ecs.describe_task_definition(taskDefinition=live)["taskDefinition"]
    keep = ("family", "containerDefinitions", "volumes", "networkMode", "requiresCompatibilities", "cpu", "memory",
            "executionRoleArn", "taskRoleArn")
    new = ecs.register_task_definition(**{k: td[k] for k in keep if k in td})["taskDefinition"]
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=new["taskDefinitionArn"])
    return f"{new['family']}:{new['revision']}"


def test_a_deploy_outside_the_suite_is_unexplained(fresh, aws, evidence_dir):
    preview = rovn_ops("run", "deploy", "--quiet")
    assert preview.returncode == 0, preview.stdout + preview.stderr
    plan, began = _manifest(evidence_dir)["plan_hash"], _manifest(evidence_dir)["started_at"]
    assert rovn_ops("approve", plan, env=as_person("giles")).returncode == 0
    done = rovn_ops("run", "deploy", "--quiet", "-p", "confirm=true", "-p", f"plan_hash={plan}")
    assert done.returncode == 0, done.stdout + done.stderr
    executed = _manifest(evidence_dir)
    outside = _deploy_outside_the_suite(aws)

    got = rovn_ops("evidence", "reconcile", "--json")
    assert got.returncode == 1, got.stdout + got.stderr  # something is unexplained
    assert got.stdout.startswith("{"), got.stdout + got.stderr
    report = json.loads(got.stdout)
    # The period starts 5 s (reconcile.SKEW) before the archive's first run, so it may hold the sandbox's
    # reset: its CreateService deployment (ECS creates a service deployment when a service is
    # created, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-deployment.html),
    # seeded secret versions and migrations, all rightly UNEXPLAINED (no run made them). This test
    # judges what happened from its own preview on.
    ours = [i for i in report["items"] if datetime.fromisoformat(i["at"]) >= datetime.fromisoformat(began)]
    seeded = len(report["items"]) - len(ours)
    # what the sandbox's own seed wrote (before its world began, world_since) is left out, counted
    assert seeded == 0 and report["sandbox_seed"] >= 0, report
    assert report["unexplained"] == 2 + seeded, report
    revisions = {i["what"].split(" ")[0]: i for i in ours if i["kind"] == "task definition"}
    suite_rev = executed["summary"]["revision_to"]
    assert revisions[suite_rev]["matched"] == executed["run_id"], revisions
    assert revisions[outside]["matched"] == "", revisions
    deployments = [i for i in ours if i["kind"] == "ECS deployment"]
    assert sorted(bool(d["matched"]) for d in deployments) == [False, True], deployments
    assert {d["matched"] for d in deployments} == {"", executed["run_id"]}
    assert sum(not i["matched"] for i in ours) == 2
    text = rovn_ops("evidence", "reconcile")
    assert text.returncode == 1 and f"{outside}" in text.stdout and "UNEXPLAINED" in text.stdout

    # the nightly schedule (parameters/schedules.yaml) runs the same check from the bucket, and pages
    nightly = rovn_ops("scheduled", "evidence-reconcile-nightly")
    assert nightly.returncode == 1, nightly.stdout + nightly.stderr
    assert "unexplained" in nightly.stdout, nightly.stdout  # its last 24 h hold the whole reset: its count is larger
    assert outside in nightly.stdout and "scheduled evidence-reconcile-nightly: " in nightly.stdout

    page = rovn_ops("evidence", "index", "--bucket")
    assert page.returncode == 0, page.stdout + page.stderr
    html = (evidence_dir / "index.html").read_text()
    section = html.split("id='reconciliation'", 1)[1].split("<h2>Runs</h2>", 1)[0]
    assert f"{2 + seeded} unexplained" in section and outside in section
    assert section.count("UNEXPLAINED") == 2 + seeded
    assert executed["run_id"] in section
    assert _page_rows(evidence_dir / "index.html")  # the runs' data still there, one pass of markers


def test_an_offline_index_says_it_did_not_reconcile(fresh, evidence_dir):
    assert rovn_ops("run", "service_status", "--quiet").returncode == 0
    assert rovn_ops("evidence", "index").returncode == 0
    html = (evidence_dir / "index.html").read_text()
    assert "Not run: this index was built offline" in html


def test_a_migration_the_suite_applied_is_explained_by_its_run_and_a_forged_run_id_is_not(
        fresh, aws, evidence_dir, admin_db):
    """The database's run_id for a migration is a claim (anyone holding the app's credential can
    write schema_migrations): a deploy that applied 0013 explains both of its records
    (schema_migrations and audit_log), while a hand-inserted row naming that same run is UNEXPLAINED."""
    from pathlib import Path

    from tests.conftest import commit_source
    from tests.scenarios.test_deploy import SHIFT_NOTES, preview_then_execute

    (Path(fresh["migrations_dir"]) / "0013_shift_request_notes.sql").write_text(SHIFT_NOTES)
    commit_source(fresh, "0013: shift request notes")
    run = preview_then_execute()
    assert run.returncode == 0, run.stdout + run.stderr
    deploy = _manifest(evidence_dir)["run_id"]
    admin_db.execute("INSERT INTO schema_migrations (name, checksum, applied_by, run_id, duration_ms) "
                     "VALUES ('0099_by_hand.sql', 'x', 'someone', %s, 1)", [deploy])

    report = json.loads(rovn_ops("evidence", "reconcile", "--json").stdout)
    ours = {i["what"].split(" ")[0] + " " + i["source"]: i for i in report["items"] if i["kind"] == "migration"}
    assert ours["0013_shift_request_notes.sql schema_migrations"]["matched"] == deploy, ours
    assert ours["0013_shift_request_notes.sql audit_log"]["matched"] == deploy, ours
    assert ours["0099_by_hand.sql schema_migrations"]["matched"] == "", ours
