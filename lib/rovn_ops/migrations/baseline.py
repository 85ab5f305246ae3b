"""Adopt a database another runner migrated (the platform's apply_migrations.py):
`rovn-ops migrations baseline`, through the protocol (runbooks/migrations_baseline).

The files are replayed on paper (sqlglot): which tables, columns and indexes they
leave behind, and which they dropped. That is compared with what the database has
(information_schema, pg_indexes). Where they agree, each file's checksum is recorded
in schema_migrations as *baselined* (applied by another runner, adopted by this run);
where they disagree, nothing is recorded and every disagreement is named. What the
files do beyond tables, columns and indexes (functions, triggers, grants, data) is
listed as not compared; verify checks audit_log's behaviour separately."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlglot import exp

from rovn_ops.core.errors import Refused
from rovn_ops.protocol.change import Plan, authorize, refuse
from rovn_ops.migrations import engine, files
from rovn_ops.migrations.sql import statements, table_name



@dataclass
class Expected:
    """The schema the files leave, replayed in order: each object with the file that made it."""

    tables: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> column -> file
    created: set[str] = field(default_factory=set)                    # tables the files create
    dropped_columns: dict[tuple[str, str], str] = field(default_factory=dict)
    dropped_tables: dict[str, str] = field(default_factory=dict)
    indexes: dict[str, str] = field(default_factory=dict)
    dropped_indexes: dict[str, str] = field(default_factory=dict)
    unchecked: list[str] = field(default_factory=list)                # "file:line: CREATE FUNCTION"

    def replay(self, m: files.Migration) -> None:
        for st in statements(m.sql):
            t = st.tree
            kind = (t.args.get("kind") or "").upper() if isinstance(t, (exp.Create, exp.Drop, exp.Alter)) else ""
            if isinstance(t, exp.Create) and kind == "TABLE" and isinstance(t.this, exp.Schema):
                name = table_name(t)
                self.created.add(name)
                self.dropped_tables.pop(name, None)
                self.tables[name] = {c.name: m.name for c in t.this.expressions if isinstance(c, exp.ColumnDef)}
            elif isinstance(t, exp.Create) and kind == "INDEX":
                self.indexes[t.this.name] = m.name
                self.dropped_indexes.pop(t.this.name, None)
            elif isinstance(t, exp.Drop) and kind in ("TABLE", "INDEX"):
                for obj in t.args.get("tables") or []:
                    self._drop(kind, obj.name, m.name)
            elif isinstance(t, exp.Alter) and kind == "TABLE":
                self._alter(table_name(t), t, m.name, st.line)
            else:
                self.unchecked.append(f"{m.name}:{st.line}: {' '.join(st.tokens[:2])}")

    def _drop(self, kind: str, name: str, by: str) -> None:
        if kind == "TABLE":
            self.tables.pop(name, None)
            self.created.discard(name)
            self.dropped_tables[name] = by
        else:
            self.indexes.pop(name, None)
            self.dropped_indexes[name] = by

    def _alter(self, table: str, t: exp.Alter, by: str, line: int) -> None:
        for action in t.args.get("actions") or []:
            if isinstance(action, exp.ColumnDef):
                self.tables.setdefault(table, {})[action.name] = by
                self.dropped_columns.pop((table, action.name), None)
            elif isinstance(action, exp.Drop) and (action.args.get("kind") or "").upper() == "COLUMN":
                for col in action.args.get("tables") or []:
                    self.tables.get(table, {}).pop(col.name, None)
                    self.dropped_columns[(table, col.name)] = by
            elif not (isinstance(action, (exp.AddConstraint, exp.Drop))):
                self.unchecked.append(f"{by}:{line}: ALTER TABLE {table} {action.key.upper()}")


def expected(migrations: list[files.Migration]) -> Expected:
    found = Expected()
    for m in migrations:
        found.replay(m)
    return found


def actual(conn) -> tuple[dict[str, set[str]], set[str]]:
    """(table -> columns, index names) in the public schema."""
    tables: dict[str, set[str]] = {}
    for t, c in conn.execute("SELECT table_name, column_name FROM information_schema.columns "
                             "WHERE table_schema = 'public'"):
        tables.setdefault(t, set()).add(c)
    indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    return tables, indexes


def disagreements(want: Expected, tables: dict[str, set[str]], indexes: set[str]) -> list[str]:
    out = []
    for table, cols in want.tables.items():
        if table not in tables:
            out.append(f"table {table} ({_by(cols, want, table)}) does not exist")
            continue
        out += [f"column {table}.{c} (added by {by}) does not exist" for c, by in cols.items() if c not in tables[table]]
        if table in want.created:
            out += [f"column {table}.{c} exists but no file creates it" for c in sorted(tables[table] - set(cols))]
    out += [f"column {t}.{c} (dropped by {by}) still exists" for (t, c), by in want.dropped_columns.items()
            if c in tables.get(t, set())]
    out += [f"table {t} (dropped by {by}) still exists" for t, by in want.dropped_tables.items() if t in tables]
    out += [f"index {i} (created by {by}) does not exist" for i, by in want.indexes.items() if i not in indexes]
    out += [f"index {i} (dropped by {by}) still exists" for i, by in want.dropped_indexes.items() if i in indexes]
    return out


def _by(cols: dict[str, str], want: Expected, table: str) -> str:
    return "created by " + (min(cols.values()) if table in want.created and cols else "a migration")


@dataclass
class Prepared:
    adopt: list[files.Migration]
    pending: list[str]
    compared: dict
    unchecked: list[str]
    plan: Plan

    def _repr_markdown_(self) -> str:
        rows = "\n".join(f"| `{m.name}` | `{m.checksum[:16]}…` |" for m in self.adopt)
        rest = ", ".join(f"`{n}`" for n in self.pending) or "none"
        return (f"**Baseline: {len(self.adopt)} file(s) recorded as applied by another runner** (the schema "
                f"agrees: {self.compared['tables']} tables, {self.compared['columns']} columns, "
                f"{self.compared['indexes']} indexes)\n\n| file | sha256 |\n|---|---|\n{rows}\n\n"
                f"**Left pending (applied later by this suite):** {rest}\n\n"
                f"Not compared (beyond tables, columns, indexes): {len(self.unchecked)} statement(s)\n")


class Steps:
    def __init__(self, ctx):
        from rovn_ops.clients import db
        from rovn_ops.core import paths

        self.ctx, self.p = ctx, ctx.params
        self.directory = paths.project_path(self.p.migrations_dir)
        self.conn = db.connect(db.migration_url())

    def prepare(self) -> Prepared:
        p, ctx = self.p, self.ctx
        authorize(ctx, "migrations baseline", self.directory.name or "migrations")
        ordered = files.discover(self.directory)
        names = [m.name for m in ordered]
        if p.through and p.through not in names:
            refuse(ctx, "migrations baseline", str(self.directory),
                   f"through={p.through}: no such file in {self.directory}")
        upto = ordered[: names.index(p.through) + 1] if p.through else ordered
        recorded = {r["name"]: r for r in engine.applied(self.conn)}
        problems = [f"{n}: recorded with checksum {r['checksum'][:12]}, the file has {m.checksum[:12]}"
                    for m in upto if (r := recorded.get(n := m.name)) and r["checksum"] != m.checksum]
        want = expected(upto)
        tables, indexes = actual(self.conn)
        problems += disagreements(want, tables, indexes)
        adopt = [m for m in upto if m.name not in recorded]
        compared = {"tables": len(want.tables), "columns": sum(len(c) for c in want.tables.values()),
                    "indexes": len(want.indexes)}
        plan = Plan("migrations baseline", self.directory.name or "migrations",
                    {"database": self.conn.info.dbname, "directory": str(self.directory),
                     "baseline": [{"name": m.name, "checksum": m.checksum} for m in adopt],
                     "compared": compared, "pending_after": names[len(upto):],
                     "revoke": [f"{priv} on schema_migrations from {role}" for role, priv in engine.writers(self.conn)]},
                    (f"record {len(adopt)} file(s) as baselined in schema_migrations",
                     f"the schema agrees with them: {compared}"))
        if problems:
            refuse(ctx, "migrations baseline", plan.target, "the database and the files disagree: "
                   + "; ".join(problems), {"disagreements": problems})
        return Prepared(adopt, names[len(upto):], compared, want.unchecked, plan)

    def replan(self) -> Plan:
        """The plan again from the live state, for protocol.Change.execute to compare with
        the approved one before anything changes."""
        return self.prepare().plan

    def execute(self, prepared: Prepared) -> list[str]:
        """Idempotent: a file already recorded (by a killed earlier run) is skipped."""
        op = self.ctx.operator
        engine.ensure_ledger(self.conn)
        engine.restrict_ledger(self.conn)  # the baseline's grants: only the migration role writes the ledger
        with self.conn.transaction():
            for m in prepared.adopt:
                creates, drops = engine.table_changes(m)
                self.conn.execute(
                    "INSERT INTO schema_migrations (name, checksum, applied_by, run_id, duration_ms, creates, drops, "
                    "baselined) VALUES (%s, %s, %s, %s, 0, %s, %s, true) ON CONFLICT (name) DO NOTHING",
                    [m.name, m.checksum, f"baseline by {op}", self.ctx.run_id, creates, drops])
        return [m.name for m in prepared.adopt]

    def verify(self, prepared: Prepared) -> engine.Report:
        report = engine.verify(self.conn, self.directory)
        rows = {r["name"]: r for r in engine.applied(self.conn)}
        missing = [m.name for m in prepared.adopt if rows.get(m.name, {}).get("checksum") != m.checksum]
        if missing or not report.ok:
            raise Refused(f"baseline did not verify: {', '.join(missing) or ''} {report}".strip())
        return report

    def details(self, prepared: Prepared, adopted: list[str] | None) -> dict:
        return {"baselined": [{"name": m.name, "checksum": m.checksum} for m in prepared.adopt],
                "recorded": adopted or [], "pending": prepared.pending, "compared": prepared.compared,
                "not_compared": prepared.unchecked}


def summary(ctx, change, prepared: Prepared):
    from IPython.display import Markdown

    if not change.approval.executed:
        return Markdown(f"### Preview only: nothing was recorded\n\nrun id: `{ctx.run_id}`")
    return Markdown(f"### Done: {len(prepared.adopt)} migration(s) baselined\n\nNext: `rovn-ops migrations verify`; "
                    f"pending files ({', '.join(prepared.pending) or 'none'}) apply with the next deploy.\n\n"
                    f"run id: `{ctx.run_id}`")
