"""dr_readiness (issue 25, §11): READY on the seeded standby, NOT READY under dr_gap naming
each gap, an audit row either way, Slack only when not ready; read-only.

The items are read as AWS documents them: DescribeDBSnapshots (Encrypted, KmsKeyId)
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBSnapshots.html,
DescribeSecret's VersionIdsToStages in each region (a replica keeps the primary's version ids)
https://docs.aws.amazon.com/secretsmanager/latest/userguide/create-manage-multi-region-secrets.html,
ECR's registry replication rule https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeRegistry.html.
"""
from __future__ import annotations

from rovn_sandbox import control
from tests.conftest import rovn_ops
from tests.scenarios.test_deploy import _manifest


def _rows(app_db, action: str = "dr_readiness") -> list[tuple]:
    return app_db.execute("SELECT outcome, target, details FROM audit_log WHERE action = %s ORDER BY id",
                          [action]).fetchall()


def test_ready_on_the_seeded_standby(fresh, app_db, evidence_dir):
    run = rovn_ops("run", "dr_readiness", "--quiet")
    assert run.returncode == 0, run.stdout + run.stderr
    m = _manifest(evidence_dir, "dr_readiness")
    assert m["summary"]["verdict"] == "READY" and m["summary"]["problems"] == []
    facts = m["facts"]["dr_readiness"]
    assert 5.5 * 3600 < facts["rpo_s"] < 6.5 * 3600  # the copy is six hours old: the RPO now
    assert facts["snapshot"]["kms_key"].startswith("arn:aws:kms:us-west-2:")
    [(outcome, target, details)] = _rows(app_db)
    assert (outcome, target) == ("ready", "us-west-2") and details["verdict"] == "READY"
    assert not [p for p in control.posts(fresh) if p["channel"] == "slack"]


def test_not_ready_under_dr_gap_names_each_gap(fresh, app_db, evidence_dir, aws):
    control.scenario(fresh, "dr_gap")
    run = rovn_ops("run", "dr_readiness", "--quiet")
    assert run.returncode == 4, run.stdout + run.stderr  # attention: the check worked, the standby is not ready
    m = _manifest(evidence_dir, "dr_readiness")
    assert m["summary"]["verdict"] == "NOT READY"
    gaps = " ".join(m["summary"]["problems"])
    assert "rovn/prod/stripe-api-key" in gaps and "not replicated to us-west-2" in gaps
    assert "prod-202605270526-ai-competitive-fix is not in us-west-2's ECR" in gaps
    assert "db-master" not in gaps  # only the gaps: the replicated secrets pass
    [(outcome, _, details)] = _rows(app_db)
    assert outcome == "not_ready" and len(details["gaps"]) == 2
    [post] = [p for p in control.posts(fresh) if p["channel"] == "slack"]
    assert "NOT READY" in post["payload"]["text"] and "stripe-api-key" in post["payload"]["text"]


def test_a_drifted_standby_is_degraded(fresh, app_db, evidence_dir, aws):
    """Present but off: the standby service scaled up by hand is DEGRADED, not NOT READY."""
    import boto3

    ecs = boto3.client("ecs", region_name="us-west-2", endpoint_url=fresh["endpoint"],
                       aws_access_key_id=fresh["access_key_id"], aws_secret_access_key=fresh["secret_access_key"])
    ecs.update_service(cluster="rovn-prod-dr", service="rovn-passport-api", desiredCount=1)
    run = rovn_ops("run", "dr_readiness", "--quiet")
    assert run.returncode == 4
    m = _manifest(evidence_dir, "dr_readiness")
    assert m["summary"]["verdict"] == "DEGRADED" and "desired 1" in " ".join(m["summary"]["problems"])
    assert _rows(app_db)[0][0] == "degraded"


def test_only_the_dr_runbooks_reach_the_standby_region(fresh, evidence_dir):
    """allowed_regions stays the primary's: another runbook pointed at the standby is refused."""
    run = rovn_ops("run", "service_status", "-p", "region=us-west-2")
    assert run.returncode == 2 and "parameter 'region'" in run.stderr and "us-east-2" in run.stderr
    assert "Traceback" not in run.stderr
