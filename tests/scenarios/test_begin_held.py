"""Through `rovn-ops run` and a real kernel: a notebook whose kernel holds another value
than the run validated and recorded never runs on it (issue 23, build 2). Before, begin()
took its parameters by name: a forgotten one ran with the notebook's default while the
manifest recorded the -p value, and a cell setting a parameter's name went unnoticed."""
import json

from tests.conftest import ROOT, rovn_ops


def draft(tmp_path, edit) -> str:
    nb = json.loads((ROOT / "runbooks/service_status.ipynb").read_text())
    edit(nb["cells"])
    path = tmp_path / "service_status.ipynb"
    path.write_text(json.dumps(nb))
    return str(path)


def parameters_cell(cells) -> dict:
    return next(c for c in cells if "parameters" in c["metadata"].get("tags", []))


def run(path: str, *args) -> dict:
    res = rovn_ops("run", path, "--json", "--quiet", *args)
    out = json.loads(res.stdout)
    assert res.returncode == out["exit_code"] and "Traceback" not in (out["error"] or ""), res.stdout + res.stderr
    return out


def test_a_shadowed_parameter_is_refused_and_the_run_changes_nothing(fresh, evidence_dir, tmp_path):
    def shadow(cells):
        at = cells.index(parameters_cell(cells)) + 1
        cells.insert(at, {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                          "source": "events = 1  # a later edit that sets a parameter's name again"})

    out = run(draft(tmp_path, shadow), "-p", "events=5")
    assert out["outcome"] == "failed" and out["exit_code"] == 1, out
    assert "parameters events: the kernel holds other values than the run validated and recorded" in out["error"]


def test_a_forgotten_parameter_is_refused(fresh, evidence_dir, tmp_path):
    """Headless, papermill injects every recorded parameter, so a parameters cell that lost
    one still runs on the recorded value; a kernel rovn-ops did not start (bare papermill,
    as JupyterLab) has only what the notebook declares, and begin() names what is missing."""
    import papermill as pm
    import pytest
    from papermill.exceptions import PapermillExecutionError

    def forget(cells):
        cell = parameters_cell(cells)
        cell["source"] = [line for line in cell["source"] if not line.startswith("alarm_prefix:")]

    path = draft(tmp_path, forget)
    with pytest.raises(PapermillExecutionError) as e:
        pm.execute_notebook(path, str(tmp_path / "out.ipynb"), cwd=str(tmp_path), progress_bar=False)
    assert e.value.ename == "BadInput" and e.value.evalue.startswith("parameters alarm_prefix: not in the kernel")
    headless = run(path, "-p", "alarm_prefix=rovn-prod-")  # injected and recorded: one value, used and shown
    assert headless["outcome"] in ("success", "attention"), headless


def test_the_same_draft_untouched_runs(fresh, evidence_dir, tmp_path):
    out = run(draft(tmp_path, lambda cells: None), "-p", "events=5")
    assert out["outcome"] in ("success", "attention"), out
