"""The as-run notebook of an interactive run (evidence/as_run.py): the runbook filled with
what the kernel executed, as JupyterLab shows it (issue 28). Pure functions on nbformat
JSON: no kernel needed. nbformat v4 cells: https://nbformat.readthedocs.io/en/latest/format_description.html"""
from __future__ import annotations

import nbformat

from rovn_ops.evidence import as_run, cell_source


def _runbook() -> dict:
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Deploy"),
        nbformat.v4.new_code_cell("env: str = 'sandbox'  # help\nconfirm: bool = False", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(["ctx = begin(", "'deploy')"]),  # a list of lines, as nbformat may store it
        nbformat.v4.new_code_cell("plan = ctx.preview()"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})


def _ran(source: str, count: int, text: str = "") -> dict:
    outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)] if text else []
    return {"source": source, "execution_count": count, "outputs": outputs}


def test_cells_fill_the_runbook_in_the_order_they_ran_markdown_kept():
    nb = as_run.build(_runbook(), [_ran("env = 'prod'", 1), _ran("ctx = begin('deploy')", 2, "begun\n"),
                                   _ran("plan = ctx.preview()", 3)], {"rovn": {"mode": "interactive"}})
    assert [c["cell_type"] for c in nb.cells] == ["markdown", "code", "code", "code"]
    assert nb.cells[1]["source"] == "env = 'prod'"  # the edited parameters cell, values only
    assert nb.cells[2]["outputs"][0]["text"] == "begun\n"
    assert [c.get("execution_count") for c in nb.cells[1:]] == [1, 2, 3]
    assert nb.metadata["rovn"] == {"mode": "interactive", "execution_order": [1, 2, 3]}
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_a_cell_run_twice_keeps_its_earlier_run_and_out_of_order_shows_in_counts():
    nb = as_run.build(_runbook(), [_ran("plan = ctx.preview()", 1, "first\n"),
                                   _ran("plan = ctx.preview()", 2, "second\n")], {})
    cell = nb.cells[3]
    assert (cell["execution_count"], cell["outputs"][0]["text"]) == (2, "second\n")
    earlier = cell["metadata"]["rovn"]["earlier_runs"]
    assert [(e["execution_count"], e["outputs"][0]["text"]) for e in earlier] == [(1, "first\n")]
    assert nb.metadata["rovn"]["execution_order"] == [3, 3]


def test_code_not_in_the_runbook_goes_in_after_the_cell_run_before_it_marked():
    nb = as_run.build(_runbook(), [_ran("ctx = begin('deploy')", 1), _ran("import os; os.system('x')", 2),
                                   _ran("plan = ctx.preview()", 3)], {})
    sources = [cell_source.text(c["source"]) for c in nb.cells]
    assert sources.index("import os; os.system('x')") == sources.index("ctx = begin('deploy')") + 1
    inserted = nb.cells[sources.index("import os; os.system('x')")]
    assert inserted["metadata"]["rovn"]["not_in_runbook"] is True
    assert nb.metadata["rovn"]["execution_order"] == [2, 3, 4]  # indexes after the insertion


def test_no_runbook_the_executed_cells_alone():
    nb = as_run.build(None, [_ran("x = 1", 1), _ran("print(x)", 2, "1\n")], {})
    assert [c["source"] for c in nb.cells] == ["x = 1", "print(x)"]
    assert all(c["metadata"]["rovn"]["not_in_runbook"] for c in nb.cells)


def test_values_only_is_a_parameters_cell_and_nothing_else():
    assert cell_source.values_only("env = 'prod'\nconfirm: bool = True")
    assert not cell_source.values_only("env = os.environ['X']")
    assert not cell_source.values_only("env: os.PathLike = 'x'")  # an annotation that is code
    assert not cell_source.values_only("")
    assert not cell_source.values_only("def (")
    assert cell_source.text(["a\n", "b"]) == "a\nb" and cell_source.text("ab") == "ab"
