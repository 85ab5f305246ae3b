"""The idempotency lint (§3: every migration is safely re-runnable), on sqlglot's
parse tree. Each unguarded statement is reported with its file and line."""
from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from rovn_ops.migrations.files import Migration
from rovn_ops.migrations.sql import Statement, statements


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def check(migration: Migration) -> list[Problem]:
    problems, dropped_constraints = [], set()
    for st in statements(migration.sql):
        for message in _check(st, dropped_constraints):
            problems.append(Problem(migration.name, st.line, message))
    return problems


def _check(st: Statement, dropped_constraints: set) -> list[str]:
    tree = st.tree
    if isinstance(tree, exp.Create):
        return _create(tree)
    if isinstance(tree, exp.Drop):
        return [] if tree.args.get("exists") else [f"DROP {tree.args.get('kind')} needs IF EXISTS"]
    if isinstance(tree, exp.Alter):
        return [m for action in tree.args.get("actions") or [] for m in _alter(action, dropped_constraints)]
    if isinstance(tree, exp.Command):
        return _command(st)
    return []


def _create(tree: exp.Create) -> list[str]:
    kind = (tree.args.get("kind") or "").upper()
    if kind in ("TABLE", "INDEX", "SCHEMA", "SEQUENCE", "EXTENSION") and not tree.args.get("exists"):
        return [f"CREATE {kind} needs IF NOT EXISTS"]
    if kind in ("FUNCTION", "PROCEDURE", "TRIGGER", "VIEW") and not tree.args.get("replace"):
        return [f"CREATE {kind} needs OR REPLACE"]
    return []


def _alter(action, dropped_constraints: set) -> list[str]:
    if isinstance(action, exp.ColumnDef) and not action.args.get("exists"):
        return [f"ADD COLUMN {action.name} needs IF NOT EXISTS"]
    if isinstance(action, exp.Drop):
        kind = (action.args.get("kind") or "").upper()
        names = [t.name for t in action.args.get("tables") or []]
        if not action.args.get("exists"):
            return [f"DROP {kind} {', '.join(names)} needs IF EXISTS"]
        if kind == "CONSTRAINT":
            dropped_constraints.update(names)
    if isinstance(action, exp.AddConstraint):
        names = [c.name for c in action.find_all(exp.Constraint)]
        missing = [n for n in names if n not in dropped_constraints]
        if missing or not names:
            return [f"ADD CONSTRAINT {', '.join(missing) or '(unnamed)'} needs a preceding "
                    "DROP CONSTRAINT IF EXISTS of the same name (PostgreSQL has no IF NOT EXISTS here)"]
    return []


def _command(st: Statement) -> list[str]:
    """Statements sqlglot keeps as Command: judge them by their leading keywords."""
    if st.starts_with("CREATE", "OR", "REPLACE"):
        return []
    if st.starts_with("CREATE"):
        return [f"CREATE {st.tokens[1] if len(st.tokens) > 1 else ''} needs OR REPLACE or IF NOT EXISTS"]
    if st.starts_with("DROP"):
        return ["DROP needs IF EXISTS"] if "IF" not in st.tokens else []
    return []
