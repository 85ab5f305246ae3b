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
def test_begin_is_given_every_declared_parameter(path):
    """A parameter the cell declares but begin() is not given (a new `ticket`, say) would be
    validated at its default while the operator's value sat unused in the kernel (issue 27)."""
    code = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
    begin = code[code.index("begin("):]
    begin = begin[:begin.index(")\n")]
    missing = [n for n in pm.inspect_notebook(str(path)) if not re.search(rf"\b{n}={n}\b", begin)]
    assert not missing, f"begin() is not given {missing}"
