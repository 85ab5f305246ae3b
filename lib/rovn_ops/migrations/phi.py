"""The PHI rule (§3): a migration that touches a PHI column needs two engineers'
review: two distinct approvers, neither of them the executor."""
from __future__ import annotations

from pathlib import Path

from sqlglot import exp

from rovn_ops.core.errors import BadInput, Refused
from rovn_ops.migrations.files import Migration
from rovn_ops.migrations.sql import statements
from rovn_ops.core import controls


def load_registry(path: Path) -> dict[str, set[str]]:
    import yaml

    if not path.is_file():
        raise BadInput(f"PHI registry {path}: file not found")
    data = yaml.safe_load(path.read_text()) or {}
    return {table: set(cols) for table, cols in data.items()}


def _identifiers(tree: exp.Expression) -> set[str]:
    names = {c.name for c in tree.find_all(exp.Column)}
    names |= {c.name for c in tree.find_all(exp.ColumnDef)}
    names |= {a.this.name for a in tree.find_all(exp.AlterColumn) if a.this is not None}
    return names


def touched(migration: Migration, registry: dict[str, set[str]]) -> set[str]:
    """table.column of every PHI column a statement names (or wipes, for DROP/DELETE)."""
    found = set()
    for st in statements(migration.sql):
        tables = {t.name for t in st.tree.find_all(exp.Table)}
        wipes = isinstance(st.tree, (exp.Delete, exp.TruncateTable)) or (
            isinstance(st.tree, exp.Drop) and (st.tree.args.get("kind") or "").upper() == "TABLE")
        for table in tables & set(registry):
            cols = registry[table] if wipes else registry[table] & _identifiers(st.tree)
            found |= {f"{table}.{c}" for c in cols}
    return found


@controls.enforces('§3 PHI review')
def check_approvals(migration: Migration, columns: set[str], approvers: list[str], executor: set[str],
                    reviewed_by: tuple[str, ...] = ()) -> None:
    """Refuse unless two engineers, neither the executor, reviewed it: two distinct
    approvers, or one approver and a GitHub pull-request review of the file that
    migrations/review.py read and checked (`reviewed_by`, as github:LOGIN)."""
    if not columns:
        return
    if reviewed_by:
        approvers = [*approvers, *reviewed_by]
    distinct = list(dict.fromkeys(a.strip() for a in approvers if a.strip()))
    if len(distinct) < len([a for a in approvers if a.strip()]):
        raise Refused(f"{migration.name} touches PHI ({', '.join(sorted(columns))}): "
                      "an approver is listed twice; expected two distinct engineers")
    own = [a for a in distinct if a in executor]
    if own:
        raise Refused(f"{migration.name} touches PHI ({', '.join(sorted(columns))}): "
                      f"{own[0]} executes this run and cannot approve it")
    if len(distinct) < 2:
        raise Refused(f"{migration.name} touches PHI ({', '.join(sorted(columns))}): expected two "
                      f"approvers other than the executor (two-engineer review, §3), got {len(distinct)}")
