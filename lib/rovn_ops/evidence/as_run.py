"""An interactive run's notebook as the person ran it (issue 28): the whole runbook, its
markdown included, each code cell with the outputs and execution count of its last run,
as JupyterLab shows it, so cells run out of order show it in their counts. What the
recorder saw is the truth it is built from (the notebook file on disk may say anything):

- a recorded cell whose source is a runbook cell's fills that cell (a re-run keeps the
  earlier runs' outputs under the cell's metadata rovn.earlier_runs: nothing is lost);
- one that is not, the parameters cell as edited (values only) fills the cell tagged
  `parameters`; any other goes in after the cell run before it, marked
  rovn.not_in_runbook (a draft's code, an edited cell);
- metadata rovn.execution_order lists the cell indexes in the order they ran."""
from __future__ import annotations

import copy

import nbformat

from rovn_ops.evidence import cell_source


def build(runbook: dict | None, executed: list[dict], metadata: dict) -> dict:
    """The notebook to archive: `runbook` (nbformat JSON, None for none) filled with the
    `executed` code cells, in the order they ran."""
    cells = [_blank(c) for c in (runbook or {}).get("cells", [])]
    order: list[int] = []
    for run in executed:
        at = _match(cells, run["source"])
        if at is None:
            at = (order[-1] + 1) if order else len(cells)
            cells.insert(at, nbformat.v4.new_code_cell(run["source"], metadata={"rovn": {"not_in_runbook": True}}))
            order = [i + 1 if i >= at else i for i in order]
        _fill(cells[at], run)
        order.append(at)
    nb = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy((runbook or {}).get("metadata", {})))
    nb.metadata.update(metadata)
    nb.metadata.setdefault("rovn", {})["execution_order"] = order
    return nb


def _blank(cell: dict) -> dict:
    cell = nbformat.from_dict(copy.deepcopy(cell))
    if cell.get("cell_type") == "code":
        cell["outputs"], cell["execution_count"] = [], None
    return cell


def _match(cells: list[dict], source: str) -> int | None:
    """The runbook cell this source ran as: the same code (the first not run yet, else the
    last run), else the parameters cell when the source is parameter values only."""
    same = [i for i, c in enumerate(cells) if c.get("cell_type") == "code"
            and cell_source.text(c["source"]).strip() == source.strip()]
    if same:
        return next((i for i in same if cells[i]["execution_count"] is None), same[-1])
    params = next((i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if params is not None and cell_source.values_only(source):
        return params
    return None


def _fill(cell: dict, run: dict) -> None:
    if cell.get("execution_count") is not None:  # run before: keep what it showed then
        earlier = cell.setdefault("metadata", {}).setdefault("rovn", {}).setdefault("earlier_runs", [])
        earlier.append({"execution_count": cell["execution_count"], "source": cell_source.text(cell["source"]),
                        "outputs": cell["outputs"]})
    cell["source"], cell["outputs"] = run["source"], run.get("outputs", [])
    cell["execution_count"] = run.get("execution_count")
