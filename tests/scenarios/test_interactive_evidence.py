"""Interactive runs are evidence: a rollback stepped through cell by cell in a kernel (as
JupyterLab drives one) is recorded as executed, archived with mode `interactive`,
anchored like a headless run, shown in the change-management view, and verifies."""
import json

import pytest
from jupyter_client.manager import start_new_kernel

from rovn_ops.evidence import index, ledger
from tests.conftest import ROOT, rovn_ops
from tests.scenarios.test_interactive_confirm import _run

RUNBOOK = ROOT / "runbooks" / "rollback.ipynb"


def _cells(runbook=RUNBOOK, **overrides) -> list[str]:
    """The runbook's code cells, the parameters cell followed by the operator's edits."""
    cells = [("".join(c["source"]), c["metadata"].get("tags", [])) for c in json.loads(runbook.read_text())["cells"]
             if c["cell_type"] == "code"]
    edits = "\n".join(f"{k} = {v!r}" for k, v in overrides.items())
    return [src + ("\n" + edits if "parameters" in tags else "") for src, tags in cells]


def _execute(kc, code: str, answer: str = "") -> tuple[str, str | None]:
    """One cell through the kernel client, answering a prompt on stdin as JupyterLab would."""
    _, out, error = _run(kc, code, answer)
    return out, error


@pytest.fixture
def kernel(fresh, evidence_dir):
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(ROOT / "runbooks"))
    yield kc
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def _manifests(evidence_dir):
    return [json.loads((evidence_dir / e["path"] / "manifest.json").read_text()) for e in ledger.read(evidence_dir)]


FAST = {"poll_min": 0.05, "poll_max": 0.5}


def test_an_interactive_rollback_is_recorded_archived_and_verifies(kernel, evidence_dir):
    for code in _cells(**FAST):  # the preview, cell by cell
        out, error = _execute(kernel, code)
        assert error is None, error
    [preview] = _manifests(evidence_dir)
    assert preview["mode"] == "interactive" and preview["outcome"] == "preview" and preview["plan_hash"]
    outs = []
    for code in _cells(**FAST, confirm=True, approved_by=["giles"], plan_hash=preview["plan_hash"]):
        out, error = _execute(kernel, code, answer="rovn-passport-api")
        outs.append(out)
        assert error is None, error
    # The verify step logs the success (issue 11), so the recording is archived from that cell.
    assert "archived as success (mode interactive)" in "".join(outs)
    m = _manifests(evidence_dir)[-1]
    assert m["mode"] == "interactive" and m["outcome"] == "success" and m["runbook"] == "rollback"
    assert m["approvals"][0]["approvers"] == ["giles"] and m["approvals"][0]["plan_hash"] == preview["plan_hash"]
    nb = json.loads((evidence_dir / ledger.read(evidence_dir)[-1]["path"] / "rollback.ipynb").read_text())
    sources = [c["source"] for c in nb["cells"] if c["cell_type"] == "code"]
    assert sources[0].endswith("plan_hash = " + repr(preview["plan_hash"]))  # what ran, as edited
    assert any("change.confirm()" in s for s in sources) and any(c.get("outputs") for c in nb["cells"])
    row = next(r for r in index.rows(evidence_dir) if r["run_id"] == m["run_id"])
    assert row["change"] and row["approvers"] == ["giles"]  # the change-management view
    res = rovn_ops("evidence", "verify")
    assert res.returncode == 0 and "evidence OK: 2 runs" in res.stdout, res.stdout


def test_self_approval_is_refused_and_the_refusal_is_archived(kernel, evidence_dir):
    for code in _cells(**FAST):
        assert _execute(kernel, code)[1] is None
    [preview] = _manifests(evidence_dir)
    errors = [_execute(kernel, code, answer="rovn-passport-api")[1]
              for code in _cells(**FAST, confirm=True, approved_by=["claude-deploy"], plan_hash=preview["plan_hash"])]
    assert any(e and e.startswith("Refused") and "operator" in e for e in errors), errors
    m = _manifests(evidence_dir)[-1]
    assert m["mode"] == "interactive" and m["outcome"] == "refused"
    assert rovn_ops("evidence", "verify").returncode == 0


def test_a_dead_kernel_leaves_a_spool_the_next_invocation_archives(fresh, evidence_dir):
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(ROOT / "runbooks"))
    try:
        for code in _cells(**FAST)[:2]:
            assert _execute(kc, code)[1] is None
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)  # killed: no atexit, nothing archived
    assert not ledger.read(evidence_dir)
    res = rovn_ops("evidence", "list")
    assert "archived as interrupted" in res.stderr, res.stderr
    [m] = _manifests(evidence_dir)
    assert m["mode"] == "interactive" and m["outcome"] == "interrupted"
    assert rovn_ops("evidence", "verify").returncode == 0


def test_bare_papermill_refuses_to_write_with_one_line(fresh, evidence_dir, tmp_path):
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as e:
        pm.execute_notebook(str(RUNBOOK), str(tmp_path / "out.ipynb"), cwd=str(ROOT / "runbooks"),
                            parameters={**FAST, "confirm": True, "approved_by": ["giles"],
                                        "plan_hash": "0" * 64}, progress_bar=False)
    assert e.value.ename == "Refused" and "rovn-ops run rollback" in e.value.evalue
    assert "StdinNotImplementedError" not in str(e.value)
    m = _manifests(evidence_dir)[-1]  # recorded the same way, as mode papermill
    assert m["mode"] == "papermill" and m["outcome"] == "refused"


def test_the_archive_is_the_whole_notebook_as_run_out_of_order_cells_visible(kernel, evidence_dir):
    """Issue 28: the archived notebook of an interactive run is the whole runbook, as
    JupyterLab shows it: its markdown, each code cell with its last run's outputs and
    execution count (a cell re-run out of order shows it), an earlier run's outputs kept,
    a cell that is not the runbook's put where it ran and marked, the order of execution
    in the metadata."""
    code = _cells(**FAST)
    runs = code[:4] + [code[2], 'print("operator looked")'] + code[4:]  # prepare re-run after its display
    for source in runs:
        assert _execute(kernel, source)[1] is None
    [m] = _manifests(evidence_dir)
    nb = json.loads((evidence_dir / ledger.read(evidence_dir)[-1]["path"] / "rollback.ipynb").read_text())
    book = json.loads(RUNBOOK.read_text())["cells"]
    assert [c["cell_type"] for c in nb["cells"] if c["cell_type"] == "markdown"] == \
        [c["cell_type"] for c in book if c["cell_type"] == "markdown"]
    assert nb["cells"][0]["source"].startswith("# Rollback")  # the title: the whole notebook
    by_source = {c["source"]: c for c in nb["cells"] if c["cell_type"] == "code"}
    prepare, shown = by_source[code[2]], by_source[code[3]]
    assert prepare["execution_count"] > shown["execution_count"]  # out of order, visible
    assert prepare["metadata"]["rovn"]["earlier_runs"][0]["execution_count"] < shown["execution_count"]
    assert any(o.get("output_type") in ("execute_result", "display_data") for o in shown["outputs"])
    extra = by_source['print("operator looked")']
    assert extra["metadata"]["rovn"]["not_in_runbook"] is True
    assert nb["cells"].index(extra) == nb["cells"].index(prepare) + 1  # where it ran
    assert "operator looked" in "".join(o.get("text", "") for o in extra["outputs"])
    order = nb["metadata"]["rovn"]["execution_order"]
    assert len(order) == len(runs) and order[4] == nb["cells"].index(prepare)
    assert m["mode"] == "interactive" and rovn_ops("evidence", "verify").returncode == 0


def test_an_interactive_key_rotation_resumed_after_its_promote_is_signed_by_the_key_it_hands_over(
        kernel, app_db, aws, evidence_dir):
    """A rotation killed once AWSCURRENT had moved to the successor (the promote's
    UpdateSecretVersionStage done, its journal row not yet written), resumed in JupyterLab:
    the kernel's run is the rotation's, so it is signed by the pinned key it hands over
    (now at AWSPREVIOUS), as a headless run is, not refused as an unpinned key's run."""
    from rovn_ops.evidence import rotation
    from tests.conftest import kill_when
    from tests.scenarios.test_evidence_key_rotation import PINNED, SECRET, _steps, _versions, previewed

    args = previewed(evidence_dir)
    kill_when(args, lambda: len(_steps(app_db)) >= 3)  # stage, statement, publish journalled
    sm, token = aws("secretsmanager"), rotation.successor_token(PINNED)
    current = next(v for v, stages in _versions(sm).items() if "AWSCURRENT" in stages)
    if current != token:  # a loaded machine may let the killed run reach the promote itself
        sm.update_secret_version_stage(SecretId=SECRET, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                       RemoveFromVersionId=current)
    current = next(v for v, stages in _versions(sm).items() if "AWSPREVIOUS" in stages)
    plan = next(a for a in args if a.startswith("plan_hash=")).split("=", 1)[1]
    for code in _cells(ROOT / "runbooks" / "evidence_key_rotation.ipynb", confirm=True, plan_hash=plan):
        out, error = _execute(kernel, code, answer=SECRET)
        assert error is None, error
    m = _manifests(evidence_dir)[-1]
    assert m["mode"] == "interactive" and m["runbook"] == "evidence_key_rotation" and m["outcome"] == "success"
    assert ledger.read(evidence_dir)[-1]["key_id"] == PINNED and current != token
