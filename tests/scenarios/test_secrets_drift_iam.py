"""§8's drift check evaluated as IAM evaluates (issue 29, point 3), against the
sandbox's IAM and Secrets Manager: a conditional Allow is reported with its condition,
a narrower Deny removes only the secret it names, a secret's own resource policy
grants, a secret no policy classifies is still checked and listed, claude-deploy
(§10: PowerUser + IAMFull + ArtifactSync) is a finding, and the RDS-managed master
secret carries RDS's own rotation schedule.

IAM policy evaluation logic:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
Secrets Manager resource policies (GetResourcePolicy):
https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetResourcePolicy.html
RDS-managed master secrets (rotated by RDS, every 7 days by default):
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html
"""
from __future__ import annotations

import json

from tests.conftest import rovn_ops
from tests.scenarios.test_deploy import _manifest, _notebook

ACCOUNT = "123456789012"
PROD = f"arn:aws:secretsmanager:us-east-2:{ACCOUNT}:secret:rovn/prod/"


def _doc(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _audit(evidence_dir) -> tuple:
    run = rovn_ops("run", "secrets_audit", "--quiet")
    m = _manifest(evidence_dir, "secrets_audit")
    return run, m["facts"]


def _grants(facts, principal: str) -> list[dict]:
    return [g for g in facts["secrets_drift"] if g["principal"] == principal]


def test_a_conditional_allow_and_a_narrower_deny(fresh, aws, evidence_dir):
    iam = aws("iam")
    iam.create_user(UserName="carol")  # reads only from the office network
    iam.put_user_policy(UserName="carol", PolicyName="office-only", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": PROD + "*",
         "Condition": {"IpAddress": {"aws:SourceIp": "10.20.0.0/16"}}}))
    iam.create_user(UserName="dave")  # everything, except the database master
    iam.put_user_policy(UserName="dave", PolicyName="sm-all", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}))
    iam.put_user_policy(UserName="dave", PolicyName="not-the-db", PolicyDocument=_doc(
        {"Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": PROD + "db-master-*"}))
    run, facts = _audit(evidence_dir)
    assert run.returncode == 4  # attention (issue 28): drift found, the audit worked
    [carol] = _grants(facts, "user/carol")
    assert carol["condition"] and "aws:SourceIp" in carol["condition"] and "10.20.0.0/16" in carol["condition"]
    assert "user/carol via office-only (inline) if" in run.stdout
    [dave] = _grants(facts, "user/dave")
    assert dave["policy"] == "sm-all" and dave["condition"] == ""
    assert "rovn/prod/db-master" not in dave["secrets"] and "rovn/prod/stripe-api-key" in dave["secrets"]


def test_a_secrets_own_resource_policy_grants(fresh, aws, evidence_dir):
    iam, sm = aws("iam"), aws("secretsmanager")
    erin = iam.create_user(UserName="erin")["User"]["Arn"]  # no identity policy at all
    sm.put_resource_policy(SecretId="rovn/prod/stripe-api-key", ResourcePolicy=_doc(
        {"Effect": "Allow", "Principal": {"AWS": erin}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
         "Action": "secretsmanager:GetSecretValue", "Resource": "*"}))
    run, facts = _audit(evidence_dir)
    assert run.returncode == 4  # attention (issue 28): drift found, the audit worked
    [g] = _grants(facts, "user/erin")
    assert g["via"] == "resource policy" and g["secrets"] == ["rovn/prod/stripe-api-key"] and not g["allowed"]
    [other] = _grants(facts, "arn:aws:iam::999999999999:root")
    assert "another account" in other["condition"]


def test_an_unclassified_secret_is_checked_and_listed(fresh, aws, evidence_dir):
    iam, sm = aws("iam"), aws("secretsmanager")
    sm.create_secret(Name="rovn/legacy/partner-token", SecretString="x" * 24)
    iam.create_user(UserName="frank")
    iam.put_user_policy(UserName="frank", PolicyName="legacy", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": f"arn:aws:secretsmanager:us-east-2:{ACCOUNT}:secret:rovn/legacy/*"}))
    run, facts = _audit(evidence_dir)
    assert run.returncode == 4  # attention (issue 28): drift found, the audit worked
    [g] = _grants(facts, "user/frank")
    assert g["secrets"] == ["rovn/legacy/partner-token"]
    assert "rovn/legacy/partner-token" in facts["secrets_drift_findings"]["unclassified_secrets"]


def test_claude_deploy_has_the_overviews_scope_and_can_grant_itself_anything(fresh, aws, evidence_dir):
    attached = {p["PolicyName"] for p in aws("iam").list_attached_user_policies(UserName="claude-deploy")[
        "AttachedPolicies"]}
    assert attached == {"PowerUserAccess", "IAMFullAccess", "ArtifactSync"}
    run, facts = _audit(evidence_dir)
    assert all(g["allowed"] for g in _grants(facts, "user/claude-deploy"))  # on the allow-list: no drift
    assert "drift:" not in run.stdout + run.stderr
    [finding] = [f for f in facts["secrets_drift_findings"]["findings"] if f.startswith("user/claude-deploy")]
    assert "can grant itself anything" in finding and "IAMFullAccess" in finding
    assert "can grant itself anything" in _notebook(_manifest(evidence_dir, "secrets_audit"))  # the report shows it


def test_the_rds_managed_master_secret_has_rds_rotation_policy(fresh, evidence_dir):
    run, facts = _audit(evidence_dir)
    [master] = [e for e in facts["secrets_inventory"] if e["name"].startswith("rds!db-")]
    assert master["klass"] == "rds-managed" and master["cadence_days"] == 7 and master["status"] == "fine"
    assert master["status"] != "no policy"
