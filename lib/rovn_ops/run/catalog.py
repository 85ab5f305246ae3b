"""The runbooks on disk, read through papermill's own inspection."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import typing

from rovn_ops.core import paths


@dataclass(frozen=True)
class Entry:
    name: str
    title: str
    parameters: list[dict]


def _title(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    first = next((c for c in cells if c["cell_type"] == "markdown"), None)
    text = "".join(first["source"]) if first else ""
    return text.lstrip("# ").splitlines()[0] if text else ""


def runbooks() -> list[Entry]:
    import papermill as pm

    return [Entry(p.stem, _title(p), list(pm.inspect_notebook(str(p)).values()))
            for p in sorted(paths.runbooks().glob("*.ipynb"))]


def describe(name: str) -> str:
    """One runbook's parameters: type, the notebook's default, what each environment
    file sets instead (as written there), and the help text."""
    import papermill as pm
    import yaml

    from rovn_ops.core.errors import BadInput

    path = paths.runbooks() / f"{name}.ipynb"
    if not path.is_file():
        known = ", ".join(e.stem for e in sorted(paths.runbooks().glob("*.ipynb")))
        raise BadInput(f"runbook '{name}': unknown; expected one of: {known}")
    envs = {f.stem: (yaml.safe_load(f.read_text()) or {}).get("parameters") or {}
            for f in sorted(paths.parameters().glob("*.yaml")) if f.stem in ("sandbox", "prod")}
    rows = [("name", "type", "default", *envs, "help")]
    from rovn_ops.safety.params import MODELS

    model = MODELS.get(name)
    for p in pm.inspect_notebook(str(path)).values():
        rows.append((p["name"], type_name(model, p["name"]) if model else p["inferred_type_name"], p["default"],
                     *(_shown(values.get(p["name"])) for values in envs.values()), p["help"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] for r in rows]
    return "\n".join([f"{name}: {_title(path)}", "", *lines, "",
                      "Precedence, lowest first: default, parameters/<env>.yaml, each -f FILE, each -p NAME=VALUE."])


def _shown(value, width: int = 30) -> str:
    if value is None:
        return "-"
    text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if len(text) <= width else text[:width - 1] + "…"


def type_name(model, name: str) -> str:
    """The type the parameter's model enforces, as `list` shows it: int, float, bool,
    str, list, or the choices of a Literal (rotate|prune)."""
    field = model.model_fields.get(name)
    if field is None:
        return "?"
    kind = field.annotation
    if typing.get_origin(kind) is typing.Literal:
        return "|".join(map(str, typing.get_args(kind)))
    if typing.get_origin(kind) is list:
        return "list"
    return getattr(kind, "__name__", str(kind))
