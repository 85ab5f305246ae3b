"""Runbooks are committed without outputs, and their parameters cell matches the model."""
import json
import re

import papermill as pm
import pytest

from rovn_ops.safety import params
from tests.conftest import ROOT

NOTEBOOKS = sorted((ROOT / "runbooks").glob("*.ipynb"))


def test_there_are_runbooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    cells = json.loads(path.read_text())["cells"]
    dirty = [i for i, c in enumerate(cells) if c["cell_type"] == "code"
             and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; strip them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_matches_the_model(path):
    declared = pm.inspect_notebook(str(path))
    model = params.model_for(path.stem)
    assert set(declared) == set(model.model_fields), "notebook and model disagree on parameter names"
    for name, p in declared.items():
        assert p["help"], f"{name}: the parameters cell needs a # help comment"
        assert not re.search(r'\w"s\b', p["help"]), f"{name}: a double quote where an apostrophe belongs"
        default = model.model_fields[name].get_default(call_default_factory=True)
        assert eval(p["default"]) == default, f"{name}: notebook default {p['default']} != model {default!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_conventions(path):
    cells = json.loads(path.read_text())["cells"]
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("# ")
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    for src in code:
        assert "def " not in src and "input(" not in src, "logic belongs in lib/rovn_ops"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_begin_reads_the_parameters_itself(path):
    """No notebook repeats its parameters in begin (a forgotten one ran with the notebook's
    default while the evidence recorded the -p value); after begin, cells read ctx.params,
    never a bare parameter name (in JupyterLab that is the value typed, not the one resolved)."""
    import ast

    declared = set(pm.inspect_notebook(str(path)))
    code = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    calls = [i for i, src in enumerate(code) if "context.begin(" in src]
    assert len(calls) == 1, "one begin() per runbook"
    assert f'context.begin("{path.stem}", globals())' in code[calls[0]]
    for src in code[calls[0]:]:
        names = {n.id for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Name)}
        assert not names & declared, f"reads {sorted(names & declared)} bare; use ctx.params"
