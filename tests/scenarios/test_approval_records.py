"""Issue 27, build 1: an approval is the approver's own act. `rovn-ops approve PLAN_HASH`
runs under the approver's own sandbox credentials (moto IAM access keys); STS
GetCallerIdentity names them, as AWS documents it:
https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
Execute counts only records of exactly the re-derived plan, never the operator's, once."""
from __future__ import annotations

import json

from rovn_ops.sandbox.world import person_credentials
from tests.conftest import rovn_ops
from tests.scenarios.test_deploy import _deploy_rows, _manifest, _service


def as_person(name: str) -> dict:
    key, secret = person_credentials(name)
    return {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}


def _preview(evidence_dir) -> str:
    preview = rovn_ops("run", "deploy", "--quiet")
    assert preview.returncode == 0, preview.stdout + preview.stderr
    return _manifest(evidence_dir)["plan_hash"]


def test_the_operator_cannot_approve_and_an_approvers_record_executes_once(fresh, aws, evidence_dir):
    plan = _preview(evidence_dir)
    # the operator's own credentials (claude-deploy): not an approver, refused, recorded
    own = rovn_ops("approve", plan, "--ticket", "CHG-1")
    assert own.returncode == 3 and "not on the approvers list" in own.stderr, own.stdout + own.stderr
    # without any record, execute is refused (a parameter naming no one approves nothing)
    bare = rovn_ops("run", "deploy", "--quiet", "-p", "confirm=true", "-p", f"plan_hash={plan}")
    assert bare.returncode == 3 and "needs 1 approval record" in bare.stdout, bare.stdout + bare.stderr
    assert _service(aws)["taskDefinition"].endswith(":288")
    # giles approves under his own key: the record names his STS identity and the preview
    ok = rovn_ops("approve", plan, "--ticket", "CHG-1", env=as_person("giles"))
    assert ok.returncode == 0 and "as giles (arn:aws:iam::123456789012:user/giles)" in ok.stdout, ok.stderr
    done = rovn_ops("run", "deploy", "--quiet", "-p", "confirm=true", "-p", f"plan_hash={plan}")
    assert done.returncode == 0, done.stdout + done.stderr
    m = _manifest(evidence_dir)
    [approval] = m["approvals"]
    assert approval["approvers"] == ["giles"]
    [rec] = approval["records"]
    assert rec["identity"]["arn"].endswith(":user/giles") and rec["ticket"] == "CHG-1" and rec["preview"]["run_id"]
    [success] = [r for r in _deploy_rows(fresh["database_url"]) if r["outcome"] == "success"]
    assert success["details"]["approval_records"] == [rec["id"]]
    # the same approval never executes again
    again = rovn_ops("run", "deploy", "--quiet", "-p", "confirm=true", "-p", f"plan_hash={plan}")
    assert again.returncode == 3, again.stdout + again.stderr


def test_an_approval_covers_exactly_one_plan(fresh, aws, evidence_dir):
    plan = _preview(evidence_dir)
    assert rovn_ops("approve", plan, env=as_person("christian")).returncode == 0
    # another plan (another bake): christian's record is not for it
    other = rovn_ops("run", "deploy", "--quiet", "-p", "bake_s=2")
    assert other.returncode == 0
    plan2 = _manifest(evidence_dir)["plan_hash"]
    assert plan2 != plan
    run = rovn_ops("run", "deploy", "--quiet", "-p", "bake_s=2", "-p", "confirm=true", "-p", f"plan_hash={plan2}")
    assert run.returncode == 3 and "found none" in run.stdout, run.stdout
    assert _service(aws)["taskDefinition"].endswith(":288")


def test_approve_takes_the_full_hash_only(fresh):
    res = rovn_ops("approve", "abc123", env=as_person("giles"))
    assert res.returncode == 2 and "expected the full 64-hex plan hash" in res.stderr
    assert "Traceback" not in res.stderr
    assert json.dumps(res.stderr).count("\\n") == 1
