"""The runbooks on disk, read through papermill's own inspection."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from . import paths


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
