"""Issue 11's refusals: a confirmed write needs the previewed plan and approvers from
the committed environment file, never the operator; the allow-list is the file's.
Each is archived as `refused` (exit 3), written to audit_log, and changes nothing."""
from __future__ import annotations

from tests.conftest import rovn_ops
from tests.scenarios.test_deploy import SEEDED_BUILDS, _deploy_rows, _manifest, _revisions, _service


REFUSALS = {  # what each refusal names, the arguments that give it
    "Claude-Deploy is the operator": ["-p", "approved_by=Claude-Deploy"],
    "mallory is not on the approvers list of parameters/sandbox.yaml": ["-p", "approved_by=mallory"],
    "parameter 'deployers' (giles, claude-deploy) is refused": ["-p", "deployers=giles,claude-deploy"],
}


def test_refused_before_anything_changes(fresh, aws, evidence_dir):
    preview = rovn_ops("run", "deploy", "--quiet")
    assert preview.returncode == 0, preview.stdout + preview.stderr
    plan = _manifest(evidence_dir)["plan_hash"]
    for n, (says, args) in enumerate(REFUSALS.items(), 1):
        # the right plan hash (one preview serves all: a refusal changes nothing): only the
        # approval (or the allow-list) is wrong (no plan hash at all is bad input: test_bad_input)
        run = rovn_ops("run", "deploy", "--quiet", "-p", "confirm=true", "-p", f"plan_hash={plan}", *args)
        assert run.returncode == 3, run.stdout + run.stderr
        assert says in run.stdout
        m = _manifest(evidence_dir)
        assert m["outcome"] == "refused" and says in m["error"]
        rows = _deploy_rows(fresh["database_url"])
        assert len(rows) == n and rows[-1]["outcome"] == "refused" and says in rows[-1]["details"]["reason"]
        assert _revisions(aws)[-1] == 288 and _service(aws)["taskDefinition"].endswith(":288")
        assert len(aws("codebuild").list_builds()["ids"]) == SEEDED_BUILDS


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
