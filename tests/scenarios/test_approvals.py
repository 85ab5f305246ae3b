"""Issue 11's refusals: a confirmed write needs the previewed plan and approvers from
the committed environment file, never the operator; the allow-list is the file's.
Each is archived as `refused` (exit 3), written to audit_log, and changes nothing."""
from __future__ import annotations

import pytest

from tests.conftest import rovn_ops
from tests.scenarios.test_deploy import _deploy_rows, _manifest, _revisions, _service


@pytest.mark.parametrize("args, says", [
    (["-p", "confirm=true", "-p", "approved_by=giles"], "confirm=True needs plan_hash"),
    (["-p", "approved_by=Claude-Deploy"], "Claude-Deploy is the operator"),
    (["-p", "approved_by=mallory"], "mallory is not on the approvers list of parameters/sandbox.yaml"),
    (["-p", "deployers=giles,claude-deploy"], "parameter 'deployers' (giles, claude-deploy) is refused"),
], ids=["no-plan-hash", "self-approval-other-case", "unknown-approver", "deployers-override"])
def test_refused_before_anything_changes(fresh, aws, evidence_dir, args, says):
    needs_hash = "plan_hash" in says
    if not needs_hash:  # the right plan hash: only the approval (or the allow-list) is wrong
        preview = rovn_ops("run", "deploy", "--quiet")
        assert preview.returncode == 0, preview.stdout + preview.stderr
        args = ["-p", "confirm=true", "-p", f"plan_hash={_manifest(evidence_dir)['plan_hash']}", *args]
    run = rovn_ops("run", "deploy", "--quiet", *args)
    assert run.returncode == 3, run.stdout + run.stderr
    assert says in run.stdout
    m = _manifest(evidence_dir)
    assert m["outcome"] == "refused" and says in m["error"]
    [row] = _deploy_rows(fresh["database_url"])
    assert row["outcome"] == "refused" and says in row["details"]["reason"]
    assert _revisions(aws)[-1] == 288 and _service(aws)["taskDefinition"].endswith(":288")
    assert aws("codebuild").list_builds()["ids"] == []


def test_migrations_apply_outside_the_sandbox_is_refused_naming_the_runbooks(fresh):
    res = rovn_ops("migrations", "apply", "--env", "prod", "--approved-by", "giles")
    assert res.returncode == 3
    assert "rovn-ops run deploy --env prod" in res.stderr and "migration_reversal" in res.stderr
    assert "Traceback" not in res.stderr


def test_migrations_apply_in_the_sandbox_checks_the_approvers(fresh):
    res = rovn_ops("migrations", "apply", "--approved-by", "CLAUDE-DEPLOY")
    assert res.returncode == 3 and "CLAUDE-DEPLOY is the operator" in res.stderr
    rows = [r for r in _deploy_rows(fresh["database_url"], action="migration") if r["outcome"] == "refused"]
    assert len(rows) == 1
