"""No module of the library uses a private (`_`-prefixed) name of jupyter_client, papermill
or nbclient (issue 23, build 3): private names change between their releases without
notice, so the runner extends them only where they say to, a kernel provisioner
(https://jupyter-client.readthedocs.io/en/latest/provisioning.html) and a papermill
engine (https://papermill.readthedocs.io/en/latest/extending-entry-points.html).

The scan reads each module's AST and finds: an import of a private name or module; an
attribute `_x` read off a name bound to one of their modules or classes; and, in a class
derived from one of their classes, a method defined, or an attribute of `self` used,
whose `_x` name the base class has (an override or a call of its private part)."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

LIB = Path(__file__).resolve().parents[2] / "lib"
THEIRS = ("jupyter_client", "papermill", "nbclient")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _theirs(module: str | None) -> bool:
    return bool(module) and module.split(".")[0] in THEIRS


def _resolve(dotted: str):
    """The object `a.b.C` names, or None (an optional dependency that is not installed)."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr, None)
        return obj
    return None


def findings(source: str, where: str = "<module>") -> list[str]:
    tree = ast.parse(source)
    bound: dict[str, str] = {}  # local name -> their dotted name
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if _theirs(a.name):
                    bound[(a.asname or a.name).split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
                    if any(_private(p) for p in a.name.split(".")):
                        found.append(f"{where}:{node.lineno}: imports {a.name}")
        elif isinstance(node, ast.ImportFrom) and _theirs(node.module):
            for a in node.names:
                bound[a.asname or a.name] = f"{node.module}.{a.name}"
                if _private(a.name) or any(_private(p) for p in node.module.split(".")):
                    found.append(f"{where}:{node.lineno}: imports {node.module}.{a.name}")
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name)
                and node.value.id in bound):
            found.append(f"{where}:{node.lineno}: uses {bound[node.value.id]}.{node.attr}")
        elif isinstance(node, ast.ClassDef):
            found += _subclass_findings(node, bound, where)
    return found


def _subclass_findings(cls: ast.ClassDef, bound: dict[str, str], where: str) -> list[str]:
    bases = [_resolve(bound[b.id]) for b in cls.bases if isinstance(b, ast.Name) and b.id in bound]
    bases += [_resolve(f"{bound[b.value.id]}.{b.attr}") for b in cls.bases
              if isinstance(b, ast.Attribute) and isinstance(b.value, ast.Name) and b.value.id in bound]
    bases = [b for b in bases if isinstance(b, type)]
    if not bases:
        return []
    theirs = lambda name: _private(name) and any(hasattr(b, name) for b in bases)  # noqa: E731
    found = []
    for node in ast.walk(cls):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and theirs(node.name):
            found.append(f"{where}:{node.lineno}: {cls.name} overrides {node.name}")
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id in ("self", "cls", "super") and theirs(node.attr)):
            found.append(f"{where}:{node.lineno}: {cls.name} uses {node.attr}")
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Call)
              and isinstance(node.value.func, ast.Name) and node.value.func.id == "super" and theirs(node.attr)):
            found.append(f"{where}:{node.lineno}: {cls.name} calls super().{node.attr}")
    return found


def test_no_module_uses_a_private_jupyter_client_or_papermill_name():
    found = []
    for f in sorted(LIB.rglob("*.py")):
        found += findings(f.read_text(), str(f.relative_to(LIB)))
    assert not found, "private names of jupyter_client/papermill/nbclient:\n" + "\n".join(found)


def test_the_scan_sees_each_kind_of_private_use():
    """What today's runner did (an override of KernelManager's private launch, a call of its
    private reconcile), and the other ways in: each one is found."""
    cases = {
        "from jupyter_client.manager import _ShutdownStatus": "imports",
        "import jupyter_client._version": "imports",
        "import papermill as pm\npm._version": "uses papermill._version",
        "from jupyter_client.manager import KernelManager\n"
        "class K(KernelManager):\n    async def _async_launch_kernel(self, cmd, **kw):\n"
        "        self._reconcile_connection_info({})\n": "overrides _async_launch_kernel",
        "from jupyter_client.manager import KernelManager\n"
        "class K(KernelManager):\n    def start(self):\n        super()._async_wait()\n": "calls super()._async_wait",
    }
    for source, expected in cases.items():
        got = findings(source)
        assert any(expected in g for g in got), (source, got)
    ours = ("from jupyter_client.provisioning import LocalProvisioner\n"
            "class P(LocalProvisioner):\n    def _mine(self):\n        self._own = 1\n")
    assert findings(ours) == []  # a subclass's own private names are its own
