"""The runbook's library imports, done while its kernel boots rather than in its first cell.

The runner launches a run's kernel before it imports papermill (kernels.launch), and the
kernel loads this module as an IPython extension (`IPKernelApp.extensions`, IPython's
public hook: https://ipython.readthedocs.io/en/stable/config/extensions/). It imports the
`rovn_ops` modules the notebook's own import statements name (pandas and pydantic come
with them), then what those modules declare they import lazily on every run (a module's
`PRELOAD`: run/context.py's boto3 and psycopg, which the CLI must not pay for), on the
other core while the runner is still importing, so the first cell finds them in
sys.modules. It binds no name in the notebook's namespace and runs
none of the notebook's code: the cells still run every statement themselves, and an
import that fails here fails again, with its traceback, in the cell that makes it.
"""
from __future__ import annotations

import ast
import json
import os
import sys

ENV = "ROVN_PRELOAD"  # JSON: [[module, [names from it]], ...]
LIBRARY = "rovn_ops"


def imports(cells: list[dict]) -> list[list]:
    """(module, names) of each top-level `import rovn_ops…` / `from rovn_ops… import …`
    statement of the code cells, in order."""
    found = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse("".join(cell.get("source", "")))
        except SyntaxError:  # IPython syntax (%magic, !cmd): that cell's imports are not preloaded
            continue
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.level == 0 and _ours(node.module or ""):
                found.append([node.module, [a.name for a in node.names if a.name != "*"]])
            elif isinstance(node, ast.Import):
                found += [[a.name, []] for a in node.names if _ours(a.name)]
    return found


def environment(notebook_path: str) -> str:
    with open(notebook_path, encoding="utf-8") as f:
        return json.dumps(imports(json.load(f).get("cells", [])))


def _ours(module: str) -> bool:
    return module == LIBRARY or module.startswith(LIBRARY + ".")


def load_ipython_extension(ipython) -> None:  # noqa: ARG001 - IPython's extension signature
    lazy: list[str] = []
    for module, names in json.loads(os.environ.get(ENV) or "[]"):
        loaded = _import(module, names)  # what `from module import names` imports
        for m in [loaded, *(getattr(loaded, n, None) for n in names)]:
            lazy += [d for d in getattr(m, "PRELOAD", ()) if d not in lazy]
    for module in lazy:
        _import(module, [])


def _import(module: str, names: list[str]):
    try:
        __import__(module, fromlist=names)
        return sys.modules[module]
    except Exception:  # noqa: BLE001 - the cell that imports it raises it, with its traceback
        return None
