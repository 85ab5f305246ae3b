"""Issue 27, the auditor's walk-through: findings 1, 6 and 7, each failing on the main
before the fix.

1. A draft that writes is a change (marked draft), even when its kernel strips the rows
   from its own result file: the runner reads the rows naming the run from audit_log.
6. `sandbox_history` is honoured only in the sandbox: elsewhere a row marked so is a row
   naming a run without evidence, as any forged row is.
7. The index has an environment filter, and only prod is called production."""
from __future__ import annotations

import json

from rovn_ops.audit import log as audit
from rovn_ops.evidence import anchor, index, online
from rovn_ops.evidence.verify import Report
from tests.conftest import rovn_ops
from tests.scenarios.test_drafts import DRAFT

HIDE_ROWS = """\
import json, os
path = os.environ["ROVN_RESULT_FILE"]
d = json.load(open(path))
d.pop("audit_log", None)  # the draft hides the row it wrote from its own result file
json.dump(d, open(path, "w"))
"""


def _draft(tmp_path, hide: bool):
    nb = json.loads(json.dumps(DRAFT))
    if hide:
        nb["cells"].append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                            "source": HIDE_ROWS})
    path = tmp_path / "rollback.ipynb"
    path.write_text(json.dumps(nb))
    return path


def test_finding_1_a_draft_that_writes_is_a_change_marked_draft(fresh, evidence_dir, tmp_path):
    res = rovn_ops("run", str(_draft(tmp_path, hide=True)), "--quiet")
    assert res.returncode == 0, res.stdout + res.stderr
    [m] = [json.loads(p.read_text()) for p in evidence_dir.glob("*/*/manifest.json")]
    assert m["draft"] and m["audit_log"] == []  # its own list is empty: it removed it
    assert [(r["action"], r["outcome"]) for r in m["audit_rows"]] == [("deploy", "success")]  # the runner's read
    [row] = index.rows(evidence_dir)
    assert row["change"] and row["draft"] and row["approvers"] == []
    page = index.build(evidence_dir).read_text()
    assert "1 success" in page  # counted in the weekly chart


def test_finding_1_a_read_only_run_and_a_refusal_are_no_change(fresh, evidence_dir):
    assert rovn_ops("run", "service_status", "--quiet").returncode == 0
    refused = rovn_ops("run", "deploy", "--quiet", "-p", "confirm=true", "-p", "plan_hash=" + "0" * 64)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    rows = index.rows(evidence_dir)
    assert len(rows) == 2 and not any(r["change"] for r in rows)


FORGED = "20261207T000000Z-deploy-f0f0f0"


def test_finding_6_sandbox_history_counts_only_in_the_sandbox(fresh, app_db):
    audit.append(app_db, actor="arn:aws:iam::123456789012:user/claude-deploy", action="deploy",
                 target="rovn-passport-api", outcome="success", run_id=FORGED, details={"sandbox_history": True})
    assert FORGED not in anchor.runs_named(app_db, "sandbox")
    assert FORGED in anchor.runs_named(app_db, "prod")
    for env, flagged in (("sandbox", False), ("prod", True)):
        report = Report()
        online.check_audit(app_db, env, lambda e: None, [], [], report, partial=False)
        assert any(run == FORGED and "has no evidence" in why for run, why in report.problems) is flagged, env


def _run(env: str, started: str) -> dict:
    return {"environment": env, "change": True, "started_at": started, "outcome": "success"}


def test_finding_7_only_prod_is_production_and_each_environment_has_its_chart():
    sandbox_only = index.week_charts([_run("sandbox", "2026-12-07T10:00:00+00:00")])
    assert "Changes per week: sandbox (not production)" in sandbox_only
    assert "production changes" not in sandbox_only.lower().replace("not production", "")
    both = index.week_charts([_run("sandbox", "2026-12-07T10:00:00+00:00"), _run("prod", "2026-12-01T10:00:00+00:00")])
    assert both.index("Changes per week: production") < both.index("Changes per week: sandbox (not production)")


def test_finding_7_the_index_filters_by_environment(fresh, evidence_dir):
    assert rovn_ops("run", "service_status", "--quiet").returncode == 0
    page = index.build(evidence_dir).read_text()
    assert 'id="f-env"' in page and "Production changes per week" not in page
    assert "every production write" not in page
