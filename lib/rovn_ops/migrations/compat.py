"""Can an older image run on today's schema? §7's question, from the schema's truth.

`since(conn, directory, at)` lists every migration applied after `at`, by any path
(a deploy, `migrations apply`, a reversal): schema_migrations is what the database
holds, audit_log is who applied it and how. Each is classified from its sqlglot parse:

- additive, safe for an older image: CREATE TABLE (a table it never reads), CREATE
  INDEX (not UNIQUE: changes no row it reads or writes), ADD COLUMN that is nullable
  or has a default (its INSERTs leave the column null or defaulted);
- anything else is breaking: DROP, RENAME, a type change, SET NOT NULL, NOT NULL
  without a default, a constraint or unique index that can reject its writes, data
  changes (UPDATE, DELETE), anything the parser does not understand;
- unknown: applied with no audit_log record (or recorded with no schema_migrations
  row), or a file missing or edited since it was applied. Unknown refuses too.

A migration and the reversal that undoes it (`-- rovn:reverses NAME`), both since `at`,
cancel out: the schema is back where the older image knew it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlglot import exp

from rovn_ops.migrations import engine, files
from rovn_ops.migrations.reversal import REVERSES
from rovn_ops.migrations.sql import Statement, statements, table_name

ADDITIVE, BREAKING, UNKNOWN, UNDONE = "additive", "breaking", "unknown", "undone"


@dataclass
class Applied:
    name: str
    applied_at: datetime | None
    path: str                     # deploy | migrations apply | migration_reversal | unknown
    run_id: str | None
    verdict: str = UNKNOWN
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"migration": self.name, "applied_at": str(self.applied_at) if self.applied_at else None,
                "path": self.path, "run_id": self.run_id, "verdict": self.verdict, "why": "; ".join(self.reasons)}


def _column(action: exp.ColumnDef) -> tuple[bool, str]:
    kinds = {type(c.args.get("kind")) for c in action.args.get("constraints") or []}
    default = exp.DefaultColumnConstraint in kinds
    if exp.NotNullColumnConstraint in kinds and not default:
        return False, f"ADD COLUMN {action.name} NOT NULL without a default: the older image's INSERTs fail"
    if kinds - {exp.NotNullColumnConstraint, exp.DefaultColumnConstraint}:
        return False, f"ADD COLUMN {action.name} with a constraint that can reject the older image's writes"
    return True, (f"ADD COLUMN {action.name} " + ("with a default" if default else "nullable")
                  + ": the older image's INSERTs leave it " + ("defaulted" if default else "null"))


def statement(st: Statement) -> tuple[bool, str]:
    """(additive?, why) for one statement."""
    tree = st.tree
    kind = (tree.args.get("kind") or "").upper() if isinstance(tree, (exp.Create, exp.Drop)) else ""
    if isinstance(tree, exp.Create) and kind == "TABLE":
        return True, f"CREATE TABLE {table_name(tree)}: a table the older image never reads"
    if isinstance(tree, exp.Create) and kind == "INDEX":
        if tree.args.get("unique") or (tree.this is not None and tree.this.args.get("unique")) \
                or st.starts_with("CREATE", "UNIQUE"):
            return False, f"CREATE UNIQUE INDEX {tree.this.name}: can reject the older image's writes"
        return True, f"CREATE INDEX {tree.this.name}: changes no row the older image reads or writes"
    if isinstance(tree, exp.Alter) and kind == "" and tree.args.get("actions"):
        verdicts = [_column(a) if isinstance(a, exp.ColumnDef) else
                    (False, f"ALTER TABLE {table_name(tree)} {_words(a)}") for a in tree.args["actions"]]
        ok = all(v for v, _ in verdicts)
        return ok, "; ".join(w for v, w in verdicts if v == ok)
    return False, f"line {st.line}: {' '.join(st.tokens[:3])}… is not additive"


def _words(action: exp.Expression) -> str:
    """What an ALTER TABLE action does, e.g. DROP COLUMN fax, RENAME COLUMN a."""
    if isinstance(action, exp.Drop):
        return f"DROP {action.args.get('kind') or ''} " + ", ".join(t.name for t in action.args.get("tables") or [])
    if isinstance(action, exp.AddConstraint):
        return "ADD CONSTRAINT " + ", ".join(c.name for c in action.find_all(exp.Constraint))
    names = {"RenameColumn": "RENAME COLUMN", "AlterRename": "RENAME TO", "AlterColumn": "ALTER COLUMN"}
    return names.get(type(action).__name__, action.key.upper()) + (f" {action.name}" if action.name else "")


def classify(migration: files.Migration) -> tuple[str, list[str]]:
    try:
        verdicts = [statement(st) for st in statements(migration.sql)]
    except Exception as e:  # noqa: BLE001 - what the parser cannot read is unknown, and unknown refuses
        return UNKNOWN, [f"not parsed ({type(e).__name__})"]
    if not verdicts:
        return UNKNOWN, ["no statements"]
    if all(ok for ok, _ in verdicts):
        return ADDITIVE, [w for _, w in verdicts]
    return BREAKING, [w for ok, w in verdicts if not ok]


def path_of(run_id: str | None) -> str:
    """How a migration was applied, from the run that applied it."""
    for marker, path in (("-deploy-", "deploy"), ("-migration_reversal-", "migration_reversal"),
                         ("-migrations-", "migrations apply")):
        if run_id and marker in run_id:
            return path
    return "unknown"


def since(conn, directory: Path, at: datetime) -> list[Applied]:
    """Every migration applied after `at`, classified, oldest first."""
    rows = [r for r in engine.applied(conn) if r["applied_at"] > at]
    audited = {name: run for name, run in conn.execute(
        "SELECT target, run_id FROM audit_log WHERE action = 'migration' AND outcome = 'applied' "
        "AND occurred_at > %s", [at])}
    on_disk = {m.name: m for m in files.discover(directory)}
    disagree = engine.unaudited(conn, rows)  # file name, checksum and time against audit_log (§7)
    out = []
    for r in rows:
        a = Applied(r["name"], r["applied_at"], path_of(r["run_id"]), r["run_id"])
        m = on_disk.get(r["name"])
        if r["name"] not in audited and not r.get("baselined"):
            a.reasons = ["applied (schema_migrations) with no audit_log record"]
        elif r["name"] in disagree:
            a.reasons = [disagree[r["name"]]]
        elif m is None or m.checksum != r["checksum"]:
            a.reasons = [f"its file is {'missing from' if m is None else 'edited in'} {directory}"]
        else:
            a.verdict, a.reasons = classify(m)
        out.append(a)
    recorded = {r["name"] for r in rows}
    out += [Applied(name, None, path_of(run), run, UNKNOWN, ["audit_log says applied; schema_migrations has no row"])
            for name, run in audited.items() if name not in recorded]
    _cancel(out, on_disk)
    return out


def _cancel(applied: list[Applied], on_disk: dict) -> None:
    """A migration and its reversal, both since the target: neither is in the schema now."""
    by_name = {a.name: a for a in applied}
    for a in applied:
        m = on_disk.get(a.name)
        undone = files._directives(m.sql).get(REVERSES.removeprefix("rovn:")) if m else None
        if undone in by_name and a.verdict != UNKNOWN and by_name[undone].verdict != UNKNOWN:
            by_name[undone].verdict, by_name[undone].reasons = UNDONE, [f"undone by {a.name}"]
            a.verdict, a.reasons = UNDONE, [f"reverses {undone}: the schema is back where it was"]
