"""Every sandbox module that patches moto is keyed to the moto version it was checked
against, and refuses loudly, before patching anything, on another one (issue 22, build 2:
"keyed to the moto version with a guard that fails loudly on upgrade").

Which modules patch moto is read from their source (an assignment to, or setattr on, a
name imported from moto), so a new patching module without the guard fails here. The
other version is played by setting `moto.__version__` for the test: moto itself is not
changed."""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import moto
import pytest

import rovn_sandbox as sandbox_pkg
from rovn_sandbox import moto_guard

PACKAGE = sandbox_pkg.__name__


def _moto_names(tree: ast.Module) -> set[str]:
    """Names bound to something of moto's: imported from it, or aliases of those (`r = X`)."""
    names = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             and (node.module or "").split(".")[0] == "moto" for alias in node.names}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id in names:
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _patches_moto(source: str) -> bool:
    tree = ast.parse(source)
    names = _moto_names(tree)

    def owned(target) -> bool:
        while isinstance(target, (ast.Attribute, ast.Subscript)):
            target = target.value
            if isinstance(target, ast.Name) and target.id in names:
                return True
        return False

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets = [e for t in node.targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
            if any(isinstance(t, (ast.Attribute, ast.Subscript)) and owned(t) for t in targets):
                return True
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr"
                and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id in names):
            return True
    return False


def patching_modules() -> list[str]:
    found = []
    for info in pkgutil.iter_modules(sandbox_pkg.__path__):
        path = Path(sandbox_pkg.__path__[0]) / f"{info.name}.py"
        if path.exists() and _patches_moto(path.read_text()):
            found.append(f"{PACKAGE}.{info.name}")
    return sorted(found)


def test_the_scan_finds_the_known_patching_modules():
    """The scan is not vacuous: it finds patches in each form they take (class attribute,
    a tuple of them through an alias, setattr, moto's url map)."""
    found = {name.rsplit(".", 1)[1] for name in patching_modules()}
    assert {"ecs_api", "alarm_eval", "synthetics_sim", "rds_paging", "standby"} <= found
    assert "world_snapshot" in found  # BackendDict._instances[:] = …: a subscript of an attribute
    assert "clock" not in found and "moto_guard" not in found


def _guarded_entries(module) -> list:
    """The module's callables that apply its patches: a guarded `install`, or a class whose
    guarded __init__ touches moto (world_snapshot.MotoState)."""
    found = []
    for value in vars(module).values():
        if getattr(value, "moto_guarded", False) or getattr(getattr(value, "__init__", None), "moto_guarded", False):
            if getattr(value, "__module__", None) == module.__name__:
                found.append(value)
    return found


@pytest.mark.parametrize("name", patching_modules())
def test_a_patching_module_refuses_another_moto_before_patching(monkeypatch, name):
    module = importlib.import_module(name)
    entries = _guarded_entries(module)
    assert entries, f"{name} patches moto and nothing in it is @moto_guard.patches"
    monkeypatch.setattr(moto, "__version__", "9.9.9")
    for entry in entries:
        params = [p for p in inspect.signature(entry).parameters.values() if p.default is inspect.Parameter.empty]
        with pytest.raises(moto_guard.MotoVersionError) as refused:
            entry(*[None] * len(params))  # the guard runs first, so the arguments are never read
        message = str(refused.value)
        assert name in message and "moto 9.9.9" in message and ", ".join(moto_guard.CHECKED) in message


def test_the_refusal_leaves_moto_unpatched(monkeypatch):
    from moto.rds.responses import RDSResponse

    from rovn_sandbox import rds_paging

    before = RDSResponse.describe_db_snapshots
    monkeypatch.setattr(moto, "__version__", "9.9.9")
    with pytest.raises(moto_guard.MotoVersionError):
        rds_paging.install()
    assert RDSResponse.describe_db_snapshots is before


def test_the_checked_version_is_the_one_installed():
    """The lock pins the moto the patches were checked against: a lock bump that moves moto
    fails here (and the sandbox refuses to start) until CHECKED names it."""
    assert moto_guard.installed() in moto_guard.CHECKED
    moto_guard.check("this test")  # does not raise
