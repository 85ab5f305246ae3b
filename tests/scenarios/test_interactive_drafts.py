"""Issue 20, class 5: a draft run in JupyterLab is marked as a draft. A kernel that runs
any code but the committed runbook's (besides its parameter values) is a draft in its
manifest, every audit_log row it writes and the index, and cannot name its own operator:
the manifest names the identity begin() saw, the self-reported one goes under
draft_claims. Before, only `rovn-ops run path/to/draft.ipynb` drafts were marked: an
interactive run's source was always runbooks/<name>.ipynb, so a kernel that ran a forged
cell looked like a reviewed runbook's run, under the operator it claimed."""
import json

from rovn_ops.evidence import index, ledger
from tests.scenarios.test_interactive_evidence import FAST, _cells, _execute, _manifests, kernel  # noqa: F401

FORGED = ("from rovn_ops.audit import log as audit\n"
          "ctx.record(operator={'arn': 'arn:aws:iam::123456789012:user/giles', 'local_user': 'giles'})\n"
          "audit.append(ctx.db, actor='arn:aws:iam::123456789012:user/giles', action='rollback',\n"
          "             target='rovn-passport-api', outcome='success', run_id=ctx.run_id, details={})")


def test_the_committed_runbook_is_no_draft_and_a_cell_of_ones_own_makes_one(kernel, evidence_dir, app_db):
    # (whether the preview passes or is refused does not matter here: what ran does)
    for code in _cells(**FAST):  # the reviewed runbook, its parameters edited: not a draft
        _execute(kernel, code)
    [reviewed] = _manifests(evidence_dir)
    assert reviewed["mode"] == "interactive" and not reviewed["draft"] and "draft_claims" not in reviewed

    cells = _cells(**FAST)
    for code in cells[:2] + [FORGED] + cells[2:]:  # the same, with one cell of the operator's own
        _execute(kernel, code)
    m = _manifests(evidence_dir)[-1]
    assert m["mode"] == "interactive" and m["draft"] is True
    assert m["draft_claims"]["operator"]["local_user"] == "giles"  # the claim, set apart
    assert "giles" not in json.dumps(m["operator"]) and "claude-deploy" in m["operator"]["arn"]
    rows = app_db.execute("SELECT details FROM audit_log WHERE run_id = %s AND action = 'rollback'",
                          [m["run_id"]]).fetchall()
    assert rows and all(r[0].get("draft") is True for r in rows)  # the kernel's rows (not the evidence anchor)
    before = app_db.execute("SELECT count(*) FROM audit_log WHERE run_id = %s AND details ? 'draft'",
                            [reviewed["run_id"]]).fetchone()[0]
    assert before == 0
    row = next(r for r in index.rows(evidence_dir) if r["run_id"] == m["run_id"])
    # its forged cell wrote a rollback `success` row: a draft's write is a change, badged draft (issue 27 finding 1)
    assert row["draft"] and row["change"]
    assert ledger.read(evidence_dir)[-1]["run_id"] == m["run_id"]
