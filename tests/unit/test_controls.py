"""Issue 27, build 8: the control matrix cannot drift from the code. Every check the registry
(core/controls.py) lists is a function that names that rule itself (@controls.enforces), every
such function is listed, every listed test exists, and a check naming a rule the registry does
not list for it is refused at import."""
import importlib
import pkgutil
from pathlib import Path

import pytest

import rovn_ops
from rovn_ops.core import controls
from tests.conftest import ROOT


def _import_everything():
    for mod in pkgutil.walk_packages(rovn_ops.__path__, "rovn_ops."):
        if not mod.name.startswith("rovn_sandbox"):
            importlib.import_module(mod.name)


def test_the_registry_and_the_checks_agree():
    _import_everything()
    listed = {c: r.id for r in controls.RULES for c in r.checks}
    assert controls.DECORATED == listed, "a check and the registry disagree (core/controls.py)"
    for name in listed:
        module, qualname = name.split(":")
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        assert callable(obj)


def test_every_listed_test_exists_and_gaps_are_named():
    for rule in controls.RULES:
        for test in rule.tests:
            assert (ROOT / test.split("::")[0]).is_file(), test
    assert {r.id for r in controls.gaps()} == {"§4 marketing site", "§11 claims"}


def test_a_check_the_registry_does_not_list_is_refused():
    with pytest.raises(LookupError, match="does not list"):
        @controls.enforces("§10 deployers")
        def sneaky():
            pass
    with pytest.raises(LookupError):
        controls.enforces("§99 invented")(lambda: None)


def test_the_matrix_page_lists_every_rule_and_its_prod_runs_only():
    from rovn_ops.evidence import controls_page

    data = [{"environment": "prod", "runbook": "deploy", "run_id": "20261207T000000Z-deploy-aaaaaa",
             "outcome": "success"},
            {"environment": "sandbox", "runbook": "deploy", "run_id": "20261207T000000Z-deploy-bbbbbb",
             "outcome": "success"}]
    page = controls_page.page(data)
    assert page.count("<tr data-rule=") == len(controls.RULES)
    assert "deploy-aaaaaa" in page and "deploy-bbbbbb" not in page and "gap" in page
    assert Path(controls_page.__file__).exists()
