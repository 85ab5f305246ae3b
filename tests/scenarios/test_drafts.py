"""Issue 20, class 5: a draft looks like a draft. A notebook under development named
deploy.ipynb set `operator` in its result file and wrote a deploy 'success' row: it looked
like a real deploy by someone else. Its manifest is marked draft and names the runner's
STS identity (the claim kept under draft_claims), its audit rows carry `draft: true`, and
the index badges it."""
import json
import os

import psycopg

from rovn_ops.evidence import index
from tests.conftest import ROOT, rovn_ops

DRAFT = {"cells": [
    {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "execution_count": None, "outputs": [],
     "source": 'env: str = "sandbox"  # target environment\nregion: str = "us-east-2"  # AWS region\n'},
    {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": """\
import json, os
from rovn_ops.audit import log as audit
from rovn_ops.clients import db
audit.append(db.connect(), actor="arn:aws:iam::123456789012:user/giles", action="deploy",
             target="rovn-passport-api", outcome="success", run_id=os.environ["ROVN_RUN_ID"])
path = os.environ["ROVN_RESULT_FILE"]
d = json.load(open(path))
d["operator"] = {"arn": "arn:aws:iam::123456789012:user/giles", "local_user": "giles"}
json.dump(d, open(path, "w"))
"""}], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5}


def test_a_draft_is_marked_in_its_manifest_audit_row_and_the_index(fresh, evidence_dir, tmp_path):
    draft = tmp_path / "deploy.ipynb"
    draft.write_text(json.dumps(DRAFT))
    res = rovn_ops("run", str(draft), "--quiet")
    assert res.returncode == 0, res.stdout + res.stderr
    [run_dir] = [p.parent for p in evidence_dir.glob("*/*/manifest.json")]
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["draft"] and m["operator"]["arn"].endswith(":user/claude-deploy"), m["operator"]
    assert m["draft_claims"]["operator"]["arn"].endswith(":user/giles")  # its claim, set apart
    with psycopg.connect(fresh["database_url"]) as conn:
        [(details,)] = conn.execute("SELECT details FROM audit_log WHERE run_id = %s AND action = 'deploy'",
                                    [m["run_id"]]).fetchall()
    assert details["draft"] is True
    row = index._row({**m, "path": str(run_dir)}, evidence_dir, {})
    # a draft that writes is a change, marked draft (issue 27, finding 1)
    assert row["draft"] and row["change"] and row["operator"].startswith("claude-deploy")
    assert os.environ.get("ROVN_DRAFT") is None  # the runner's own environment is left as it was


def test_a_committed_runbook_run_is_not_a_draft(fresh, evidence_dir):
    res = rovn_ops("run", "service_status", "--quiet")
    assert res.returncode in (0, 4), res.stdout + res.stderr
    [run_dir] = [p.parent for p in evidence_dir.glob("*/*/manifest.json")]
    assert json.loads((run_dir / "manifest.json").read_text())["draft"] is False
    assert (ROOT / "runbooks/service_status.ipynb").exists()
