"""Issue 27, build 2 (finding 2): every change names a ticket and a one-line reason.

The ticket must match the environment's committed `change_ticket` pattern; in prod, confirm
refuses without a ticket and a reason (exit 2, one line naming the parameter, nothing run).
The ticket is shown in the plan, and kept in the audit_log row, the manifest, the run's HTML
header and the auditor index; the plan hash covers it, so an approval is for one reason."""
from __future__ import annotations

import json
from pathlib import Path

from rovn_ops.evidence import index
from tests.conftest import rovn_ops
from tests.scenarios.test_approval_records import as_person
from tests.scenarios.test_deploy import _deploy_rows, _manifest, _service

WHY = ["-p", "ticket=OPS-42", "-p", "reason=ship the login fix"]


def test_prod_confirm_without_a_ticket_or_reason_is_bad_input_naming_it(tmp_path):
    # no AWS credentials at all: the parameters are refused before anything is asked or run
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": "", "ROVN_EVIDENCE_DIR": str(tmp_path)}
    for given, missing in (([], "ticket"), (["-p", "ticket=OPS-7"], "reason")):
        res = rovn_ops("run", "rollback", "--env", "prod", "-p", "confirm=true", *given, env=env)
        assert res.returncode == 2, res.stdout + res.stderr
        assert res.stderr.startswith(f"rovn-ops: error: parameter '{missing}': expected"), res.stderr
        assert "Traceback" not in res.stderr and res.stderr.count("\n") == 1
    assert not list(tmp_path.glob("*/*/manifest.json"))  # no run started


def test_a_ticket_off_the_environments_pattern_is_refused(fresh, evidence_dir):
    res = rovn_ops("run", "deploy", "--quiet", "-p", "ticket=JIRA-9", "-p", "reason=x")
    assert res.returncode == 2 and "parameter 'ticket': expected a ticket matching parameters/sandbox.yaml" \
        in res.stderr, res.stderr
    assert _deploy_rows(fresh["database_url"]) == []


def test_the_ticket_is_in_the_plan_audit_row_manifest_header_and_index(fresh, aws, evidence_dir):
    preview = rovn_ops("run", "deploy", *WHY)
    assert preview.returncode == 0, preview.stdout + preview.stderr
    assert "ticket: OPS-42 · reason: ship the login fix" in preview.stdout  # the plan shows it
    plan = _manifest(evidence_dir)["plan_hash"]
    assert "-p ticket=OPS-42" in _manifest(evidence_dir)["confirm_command"]
    # the plan hash covers the reason: the same plan with another reason is another hash
    other = rovn_ops("run", "deploy", "--quiet", "-p", "ticket=OPS-42", "-p", "reason=something else")
    assert other.returncode == 0 and _manifest(evidence_dir)["plan_hash"] != plan
    assert rovn_ops("approve", plan, "--ticket", "OPS-42", env=as_person("giles")).returncode == 0
    done = rovn_ops("run", "deploy", "--quiet", *WHY, "-p", "confirm=true", "-p", f"plan_hash={plan}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not _service(aws)["taskDefinition"].endswith(":288")
    why = {"ticket": "OPS-42", "reason": "ship the login fix"}
    [success] = [r for r in _deploy_rows(fresh["database_url"]) if r["outcome"] == "success"]
    assert success["details"]["change_request"] == why
    assert success["details"]["operator"]["name"] == "claude-deploy"  # the person (build 3)
    m = _manifest(evidence_dir)
    assert m["change_request"] == why
    html = next(Path(m["notebook"]["path"]).parent.glob("*.html"))
    assert "OPS-42 · ship the login fix" in html.read_text()
    [row] = [r for r in index.rows(evidence_dir) if r["run_id"] == m["run_id"]]
    assert (row["ticket"], row["reason"], row["change"]) == ("OPS-42", "ship the login fix", True)


def test_a_refusal_keeps_the_ticket(fresh, evidence_dir):
    res = rovn_ops("run", "deploy", "--quiet", *WHY, "-p", "confirm=true", "-p", "plan_hash=" + "0" * 64)
    assert res.returncode == 3, res.stdout + res.stderr
    [refused] = [r for r in _deploy_rows(fresh["database_url"]) if r["outcome"] == "refused"]
    assert refused["details"]["change_request"] == {"ticket": "OPS-42", "reason": "ship the login fix"}
    assert json.loads(Path(next(evidence_dir.glob("*/*/manifest.json"))).read_text())["change_request"]["ticket"] \
        == "OPS-42"
