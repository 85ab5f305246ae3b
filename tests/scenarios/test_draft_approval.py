"""A modified copy of a runbook (a draft) cannot spend an approval (session 6's attack review,
MEDIUM 13): its code is not the reviewed runbook's, so confirm refuses it before counting any
approval record, and the committed runbook then executes the same plan with that approval."""
from __future__ import annotations

import json

import nbformat

from tests.conftest import ROOT, rovn_ops
from tests.scenarios.test_approval_records import as_person
from tests.scenarios.test_deploy import _manifest, _service

WHY = ("-p", "ticket=CHG-14", "-p", "reason=draft attack")


def test_a_draft_copy_of_deploy_cannot_spend_a_real_approval(fresh, aws, evidence_dir, tmp_path):
    preview = rovn_ops("run", "deploy", "--quiet", *WHY)
    assert preview.returncode == 0, preview.stdout + preview.stderr
    plan = _manifest(evidence_dir)["plan_hash"]
    assert rovn_ops("approve", plan, env=as_person("giles")).returncode == 0
    before = _service(aws)["taskDefinition"]

    nb = nbformat.read(ROOT / "runbooks" / "deploy.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("print('one more cell')"))
    copy = tmp_path / "deploy2.ipynb"
    nbformat.write(nb, copy)
    confirm = ("-p", "confirm=true", "-p", f"plan_hash={plan}", *WHY)
    draft = rovn_ops("run", str(copy), "--quiet", *confirm)
    assert draft.returncode == 3, draft.stdout + draft.stderr
    assert "this notebook is a draft" in draft.stdout and "an approval is spent only by reviewed code" in draft.stdout
    assert _service(aws)["taskDefinition"] == before  # nothing changed

    done = rovn_ops("run", "deploy", "--quiet", *confirm)  # the approval was not spent
    assert done.returncode == 0, done.stdout + done.stderr
    m = _manifest(evidence_dir)
    assert m["outcome"] == "success" and not m["draft"]
    report = json.loads(rovn_ops("evidence", "reconcile", "--json").stdout)
    assert not any("draft run" in i["note"] for i in report["items"]), report
