"""Issue 27, build 3 (finding 4): who ran it, as a person, not the shared `claude-deploy (root)`.

- an assumed role's session: STS GetCallerIdentity returns
  `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` for AssumeRole credentials
  (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html); the
  session name is the person (SourceIdentity is not in that answer: CloudTrail keeps it);
- under GitHub Actions, GITHUB_ACTOR, GITHUB_WORKFLOW and the run's URL
  {GITHUB_SERVER_URL}/{GITHUB_REPOSITORY}/actions/runs/{GITHUB_RUN_ID}, GitHub's default
  variables (https://docs.github.com/en/actions/reference/variables-reference), counted only
  with GITHUB_ACTIONS=true and each of its documented shape.
The manifest, the HTML header, the index (runs and change view, with a link to the CI run)
and a change's audit row show the person."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import boto3

from rovn_ops.core import identity
from rovn_ops.evidence import index
from tests.conftest import rovn_ops
from tests.scenarios.test_deploy import _manifest

CI = {"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "octo-giles", "GITHUB_WORKFLOW": "deploy prod",
      "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "rovn/rovn-runbooks", "GITHUB_RUN_ID": "4242",
      "GITHUB_STEP_SUMMARY": ""}
RUN_URL = "https://github.com/rovn/rovn-runbooks/actions/runs/4242"


def test_the_person_behind_an_identity():
    role = identity.person("arn:aws:sts::123456789012:assumed-role/Deploy/giles@rovn.to", environ={})
    assert (role["kind"], role["role"], role["session"]) == ("role session", "Deploy", "giles@rovn.to")
    assert identity.person("arn:aws:iam::123456789012:user/claude-deploy", environ={})["name"] == "claude-deploy"
    assert "ci" not in identity.person("arn:aws:iam::1:user/x", environ={k: v for k, v in CI.items()
                                                                         if k != "GITHUB_ACTIONS"})
    ci = identity.person("arn:aws:iam::123456789012:user/claude-deploy", environ=CI)["ci"]
    assert (ci["actor"], ci["workflow"], ci["run_url"]) == ("octo-giles", "deploy prod", RUN_URL)
    # a value off its shape is left out, never shown (nor turned into a link)
    junk = identity.ci(CI | {"GITHUB_ACTOR": "<img src=x>", "GITHUB_SERVER_URL": "javascript:alert(1)//"})
    assert "actor" not in junk and "run_url" not in junk
    op = {"arn": "arn:aws:iam::123456789012:user/claude-deploy", "local_user": "root",
          "person": identity.person("arn:aws:iam::123456789012:user/claude-deploy", environ=CI)}
    assert identity.who(op) == "octo-giles (GitHub Actions: deploy prod; as claude-deploy)"


def test_a_ci_run_names_the_actor_workflow_and_run_link(fresh, evidence_dir):
    res = rovn_ops("run", "service_status", "--quiet", env=CI)
    assert res.returncode == 0, res.stdout + res.stderr
    m = _manifest(evidence_dir, "service_status")
    assert m["operator"]["person"]["ci"]["run_url"] == RUN_URL
    html = next(Path(m["notebook"]["path"]).parent.glob("*.html")).read_text()
    assert "octo-giles (GitHub Actions: deploy prod; as claude-deploy)" in html and RUN_URL in html
    [row] = index.rows(evidence_dir)
    assert row["operator"].startswith("octo-giles (GitHub Actions") and row["ci_run"] == RUN_URL
    page = index.build(evidence_dir).read_text()
    assert RUN_URL in page


def test_an_assumed_role_session_is_the_person(fresh, evidence_dir):
    iam = boto3.client("iam", endpoint_url=fresh["endpoint"], region_name="us-east-2")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                     "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="OnCall", AssumeRolePolicyDocument=json.dumps(trust))
    sts = boto3.client("sts", endpoint_url=fresh["endpoint"], region_name="us-east-2")
    creds = sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/OnCall", RoleSessionName="christian")["Credentials"]
    env = {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
           "AWS_SESSION_TOKEN": creds["SessionToken"], "GITHUB_ACTIONS": ""}
    res = rovn_ops("run", "service_status", "--quiet", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    person = _manifest(evidence_dir, "service_status")["operator"]["person"]
    assert (person["kind"], person["role"], person["session"]) == ("role session", "OnCall", "christian")
    [row] = index.rows(evidence_dir)
    assert row["operator"].startswith("christian (role OnCall")


def test_a_role_sessions_source_identity_names_the_person_in_the_index(fresh, evidence_dir):
    """Issue 27, build 3: giles assumes a shared role with SourceIdentity=giles (AssumeRole:
    2-64 characters of [\\w+=,.@-], answered in AssumeRoleResult;
    https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html). CloudTrail records
    it in every event of the session, userIdentity.sessionContext.sourceIdentity
    (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html),
    and `evidence index --bucket` names him, not only the session name he chose."""
    from botocore.exceptions import ClientError

    from rovn_sandbox.world import person_credentials

    iam = boto3.client("iam", endpoint_url=fresh["endpoint"], region_name="us-east-2")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                     "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]}]}
    iam.create_role(RoleName="SharedOps", AssumeRolePolicyDocument=json.dumps(trust))
    key, secret = person_credentials("giles")
    sts = boto3.client("sts", endpoint_url=fresh["endpoint"], region_name="us-east-2",
                       aws_access_key_id=key, aws_secret_access_key=secret)
    role = "arn:aws:iam::123456789012:role/SharedOps"
    try:
        sts.assume_role(RoleArn=role, RoleSessionName="shift", SourceIdentity="giles/admin")
        raise AssertionError("a SourceIdentity off its pattern was accepted")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ValidationError", e.response
    answer = sts.assume_role(RoleArn=role, RoleSessionName="night-shift", SourceIdentity="giles")
    assert answer["SourceIdentity"] == "giles"
    creds = answer["Credentials"]
    env = {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
           "AWS_SESSION_TOKEN": creds["SessionToken"], "GITHUB_ACTIONS": ""}
    res = rovn_ops("run", "service_status", "--quiet", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    # a write of the session's (the sandbox's CloudTrail keeps write events only; AWS keeps reads too)
    boto3.client("logs", endpoint_url=fresh["endpoint"], region_name="us-east-2", aws_access_key_id=env[
        "AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"]).create_log_group(logGroupName="/giles/night-shift")
    trail = boto3.client("cloudtrail", endpoint_url=fresh["endpoint"], region_name="us-east-2")
    events = trail.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "night-shift"}])
    identities = [json.loads(e["CloudTrailEvent"])["userIdentity"] for e in events["Events"]]
    assert identities and all(i["type"] == "AssumedRole" for i in identities), identities
    assert {i["sessionContext"]["sourceIdentity"] for i in identities} == {"giles"}
    assert identities[0]["arn"] == "arn:aws:sts::123456789012:assumed-role/SharedOps/night-shift"
    built = rovn_ops("evidence", "index", "--bucket")
    assert built.returncode == 0, built.stdout + built.stderr
    page = (evidence_dir / "index.html").read_text()
    assert "giles (source identity) · night-shift (role SharedOps" in page
    today = datetime.now(timezone.utc).date().isoformat()
    export = rovn_ops("evidence", "export", "--from", today, "--to", today, "--bucket", "--format", "json")
    [row] = [r for r in json.loads(export.stdout)["runs"] if r["operator_arn"].endswith("/night-shift")]
    assert row["source_identity"] == "giles" and row["operator"].startswith("giles (source identity)")
