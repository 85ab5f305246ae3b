"""The migration engine: status, verify and apply, forward only (§3).

- `schema_migrations` records each applied file: name, sha256, applied_at,
  applied_by, run id and duration. There is no down direction.
- apply takes a session advisory lock with a bounded wait, refuses a drifted base
  (verify first), lints and PHI-checks every pending file, takes the pre-migration
  snapshot, then applies each file in its own transaction (unless its header says
  `rovn:no-transaction`), writes audit_log for every applied, refused or failed file,
  and runs verify again, which blocks the caller on failure.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlglot import exp

from rovn_ops.audit import log as audit
from rovn_ops.core.errors import Refused
from rovn_ops.migrations import append_only, files, lint, phi, snapshot
from rovn_ops.migrations.sql import statements, table_name

LOCK_KEY = 0x726F766E  # "rovn": one migration run per database at a time
LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name        text PRIMARY KEY,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    applied_by  text NOT NULL,
    run_id      text,
    duration_ms integer NOT NULL,
    creates     text[] NOT NULL DEFAULT '{}',  -- tables it created, parsed once at apply,
    drops       text[] NOT NULL DEFAULT '{}'   -- so verify need not re-parse every file
)"""
# Applied by another runner and adopted by `migrations baseline` (ledgers made before it too).
BASELINED = "ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS baselined boolean NOT NULL DEFAULT false"


@dataclass(frozen=True)
class Actor:
    """Who executes: the identity recorded, and the names that may not approve."""

    arn: str
    local_user: str
    run_id: str

    @property
    def names(self) -> set[str]:
        return {self.arn.rsplit("/", 1)[-1], self.local_user}

    def __str__(self) -> str:
        return f"{self.arn} (local user {self.local_user})"


@dataclass
class Report:
    applied: list[dict]
    pending: list[str]
    problems: list[str] = field(default_factory=list)
    files: list[files.Migration] = field(default_factory=list, repr=False)  # in apply order

    @property
    def ok(self) -> bool:
        return not self.problems

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        head = f"{len(self.applied)} applied, {len(self.pending)} pending"
        if self.ok:
            return f"migrations OK: {head}"
        return f"migrations NOT OK: {head}\n" + "\n".join(f"  - {p}" for p in self.problems)


WRITES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE")
AUDIT_SLACK_S = 300  # a file's audit row follows its schema_migrations row by its commit


def ensure_ledger(conn) -> None:
    """The ledger with every column, made or completed only when it is not (a verify, which
    every status and deploy runs, then issues no DDL and takes no lock on it)."""
    new, complete = conn.execute(
        "SELECT to_regclass('schema_migrations') IS NULL, EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = "
        "to_regclass('schema_migrations') AND attname = 'baselined' AND NOT attisdropped)").fetchone()
    if complete:
        return
    conn.execute(LEDGER)
    conn.execute(BASELINED)
    if new:  # default privileges may have granted the runtime role writes on it
        restrict_ledger(conn)


def restrict_ledger(conn) -> list[str]:
    """Only the migration role (the table's owner) writes schema_migrations; every other
    role keeps SELECT (issue 20, class 2: rovn_app could rewrite the history the §7 gate
    reads). Part of `apply` and of the migrations baseline. Returns what it revoked."""
    revoked = []
    for role, priv in writers(conn):
        from psycopg import sql

        conn.execute(sql.SQL("REVOKE {} ON schema_migrations FROM {}").format(sql.SQL(priv), sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT SELECT ON schema_migrations TO {}").format(sql.Identifier(role)))
        revoked.append(f"{priv} from {role}")
    conn.execute("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM PUBLIC")
    return revoked


def writers(conn) -> list[tuple[str, str]]:
    """(role, privilege) for every role other than the owner (and its members, and
    superusers, whom no grant stops) that may write schema_migrations."""
    if conn.execute("SELECT to_regclass('schema_migrations') IS NULL").fetchone()[0]:
        return []
    return _writers(conn)


def _writers(conn) -> list[tuple[str, str]]:
    """writers() of a ledger known to exist (verify has just ensured it: one round trip less)."""
    return [tuple(r) for r in conn.execute(
        "SELECT r.rolname, p.priv FROM pg_roles r CROSS JOIN unnest(%s::text[]) AS p(priv) "
        "WHERE NOT r.rolsuper AND r.rolname !~ '^pg_' "
        "AND NOT pg_has_role(r.oid, (SELECT relowner FROM pg_class WHERE oid = 'schema_migrations'::regclass), "
        "'MEMBER') AND has_table_privilege(r.oid, 'schema_migrations', p.priv) ORDER BY 1, 2",
        [list(WRITES)]).fetchall()]


def grant_problems(conn) -> list[str]:
    """Roles that may write an existing ledger (verify calls it once ensure_ledger has run)."""
    return [f"role {role} can {priv} schema_migrations: only the migration role writes it (run the migrations "
            "baseline, or `migrations apply`, as the migration role)" for role, priv in _writers(conn)]


# Each applied row beside its best audit_log 'migration' row, in one statement: a hash join
# and a sort, where reading every audit row into Python and matching there grew with the
# whole audit history (issue 24). Best: one within AUDIT_SLACK_S with the same checksum,
# else the newest within it, else the newest at all; none is a row never audited.
_UNAUDITED = """
SELECT name, checksum, applied_at, id, audit_checksum, occurred_at, close, same FROM (
    SELECT DISTINCT ON (r.name) r.ord, r.name, r.checksum, r.applied_at, a.id,
           a.details->>'checksum' AS audit_checksum, a.occurred_at,
           abs(extract(epoch FROM a.occurred_at - r.applied_at)) <= %(slack)s AS close,
           abs(extract(epoch FROM a.occurred_at - r.applied_at)) <= %(slack)s
               AND a.details->>'checksum' = r.checksum AS same
    FROM {rows} AS r
    LEFT JOIN audit_log a ON a.action = 'migration' AND a.outcome = 'applied' AND a.target = r.name
    ORDER BY r.name, same DESC NULLS LAST, close DESC NULLS LAST, a.id DESC NULLS LAST
) best WHERE same IS NOT TRUE ORDER BY ord"""
_GIVEN = ("unnest(%(names)s::text[], %(checksums)s::text[], %(times)s::timestamptz[]) "
          "WITH ORDINALITY AS g(name, checksum, applied_at, ord)")
# The whole ledger, read where it is: verify's rows are all of it, and sending 5,000 names,
# checksums and times back as arrays cost more than the join (issue 24, build 4).
_LEDGER = ("(SELECT name, checksum, applied_at, row_number() OVER (ORDER BY applied_at, name) AS ord "
           "FROM schema_migrations WHERE NOT baselined)")


def unaudited(conn, rows: list[dict] | None = None) -> dict[str, str]:
    """Each applied (not baselined) row whose audit_log 'migration' row is missing or
    disagrees (file name, checksum, time): audit_log is the source of truth (§7). A
    baselined row was adopted from another runner: its audit row is the baseline's.
    rows: those of schema_migrations to check; None, every row of it."""
    if rows is None:
        query, args = _UNAUDITED.format(rows=_LEDGER), {"slack": AUDIT_SLACK_S}
    else:
        rows = [r for r in rows if not r.get("baselined")]
        query, args = _UNAUDITED.format(rows=f"(SELECT * FROM {_GIVEN})"), {
            "slack": AUDIT_SLACK_S, "names": [r["name"] for r in rows], "checksums": [r["checksum"] for r in rows],
            "times": [r["applied_at"] for r in rows]}
    out = {}
    for name, checksum, at, id_, audit_checksum, audit_at, close, _ in conn.execute(query, args):
        if id_ is None:
            out[name] = f"{name}: applied (schema_migrations) with no audit_log 'migration' row"
            continue
        out[name] = (f"{name}: schema_migrations disagrees with audit_log row {id_} ("
                     + (f"checksum {checksum[:12]} != {str(audit_checksum)[:12]}" if close else
                        f"applied_at {at.isoformat(timespec='seconds')} != "
                        f"{audit_at.isoformat(timespec='seconds')}") + ")")
    return out


def applied(conn) -> list[dict]:
    ensure_ledger(conn)
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT name, checksum, applied_at, applied_by, run_id, duration_ms, creates, drops, "
                           "baselined FROM schema_migrations ORDER BY applied_at, name").fetchall()


def verify(conn, directory: Path) -> Report:
    """The integrity check: checksums, unknown rows, order, and the post-state."""
    ordered = files.discover(directory)
    by_name = {m.name: m for m in ordered}
    rows = applied(conn)
    done = {r["name"] for r in rows}
    pending = [m.name for m in ordered if m.name not in done]
    problems = []
    for r in rows:
        m = by_name.get(r["name"])
        if m is None:
            problems.append(f"{r['name']}: applied but not in {directory}")
        elif m.checksum != r["checksum"]:
            problems.append(f"{r['name']}: edited after it was applied (checksum {m.checksum[:12]} "
                            f"!= applied {r['checksum'][:12]})")
    position = {m.name: i for i, m in enumerate(ordered)}
    last_applied = max((position[n] for n in done if n in position), default=-1)
    problems += [f"{n}: pending but ordered before an applied migration" for n in pending
                 if position[n] < last_applied]
    problems += list(unaudited(conn).values())  # rows: the whole ledger, as read in the database
    problems += grant_problems(conn)
    problems += _post_state(conn)
    return Report(rows, pending, problems, ordered)


# Every table the ledger's migrations leave created, in apply order (applied's): a table's
# last create or drop decides, and a file that creates and drops it leaves it dropped.
_LEFT_CREATED = """
SELECT t FROM (
    SELECT DISTINCT ON (t) t, created FROM (
        SELECT m.ord, c.t, true AS created FROM ledger m, unnest(m.creates) AS c(t)
        UNION ALL SELECT m.ord, d.t, false FROM ledger m, unnest(m.drops) AS d(t)) AS ev
    ORDER BY t, ord DESC, created
) last WHERE created AND to_regclass(t) IS NULL ORDER BY t"""


def _post_state(conn) -> list[str]:
    problems = append_only.problems(conn)
    missing = conn.execute("WITH ledger AS (SELECT creates, drops, row_number() OVER (ORDER BY applied_at, name) "
                           "AS ord FROM schema_migrations)" + _LEFT_CREATED).fetchall()
    problems += [f"table {t} (created by an applied migration) does not exist" for (t,) in missing]
    return problems


def table_changes(m: files.Migration) -> tuple[list[str], list[str]]:
    """(tables created, tables dropped) by a migration's statements."""
    creates, drops = [], []
    for st in statements(m.sql):
        kind = (st.tree.args.get("kind") or "").upper() if isinstance(st.tree, (exp.Create, exp.Drop)) else ""
        if kind == "TABLE" and isinstance(st.tree, exp.Create):
            creates.append(table_name(st.tree))
        elif kind == "TABLE":
            drops += [t.name for t in st.tree.args.get("tables") or []]
    return creates, drops


class _Lock:
    """A session advisory lock, waited on for at most `wait` seconds."""

    def __init__(self, conn, wait: float):
        self.conn, self.wait = conn, wait

    def acquire(self) -> "_Lock":
        # If this client dies mid-migration, the server notices within a second, rolls the
        # migration back and drops the session, and with it the lock (PostgreSQL >= 14).
        self.conn.execute("SET client_connection_check_interval = '1s'")
        deadline = time.monotonic() + self.wait
        while not self.conn.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()[0]:
            if time.monotonic() > deadline:
                holder = self.conn.execute(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted",
                    [LOCK_KEY]).fetchone()
                raise Refused(f"another migration run holds the lock (backend pid {holder[0] if holder else '?'}); "
                              f"waited {self.wait:.0f}s; try again when it has finished")
            time.sleep(0.2)
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self.conn.closed:
            self.conn.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


@dataclass
class ApplyResult:
    applied: list[dict] = field(default_factory=list)
    snapshot: snapshot.Snapshot | None = None
    report: Report | None = None

    @property
    def names(self) -> list[str]:
        return [a["name"] for a in self.applied]

    def __repr__(self) -> str:
        snap = (f"snapshot {self.snapshot.id}" + (" (reused)" if self.snapshot.reused else "")
                if self.snapshot else "no snapshot")
        done = ", ".join(f"{a['name']} ({a['duration_ms']} ms, audit_log {a['audit_id']})" for a in self.applied)
        return f"{snap}; applied: {done or 'nothing'}"


def _audit(conn, actor: Actor, migration: str, outcome: str, **details) -> int:
    return audit.append(conn, actor=str(actor), action="migration", target=migration, outcome=outcome,
                        run_id=actor.run_id, details=details).id


def preflight(directory: Path, pending: list[files.Migration], registry: dict, approvers: list[str],
              actor: Actor, reviewed: dict[str, tuple[str, ...]] | None = None) -> dict[str, set[str]]:
    """Lint and PHI rule for every pending file; raises Refused on the first failure.
    `reviewed`: file -> the GitHub reviewers who approved it (migrations/review.py)."""
    touched = {}
    for m in pending:
        problems = lint.check(m)
        if problems:
            raise Refused("not idempotent, refused:\n" + "\n".join(f"  {p}" for p in problems))
        touched[m.name] = phi.touched(m, registry)
        phi.check_approvals(m, touched[m.name], approvers, actor.names, (reviewed or {}).get(m.name, ()))
    return touched


def apply(conn, directory: Path, *, actor: Actor, approvers: list[str], registry: dict,
          rds=None, rds_instance: str = "", lock_wait: float = 10.0, through: str | None = None,
          reviewed: dict[str, tuple[str, ...]] | None = None) -> ApplyResult:
    """Apply every pending migration (or those up to `through`); see the module's docstring."""
    try:
        lock = _Lock(conn, lock_wait).acquire()
    except Refused as e:
        _audit(conn, actor, "(pending set)", "refused", reason=str(e))
        raise
    with lock:
        ensure_ledger(conn)
        restrict_ledger(conn)  # the migration role alone writes the history it is about to extend
        before = verify(conn, directory)
        if before.problems:
            _audit(conn, actor, "(pending set)", "refused", reason="integrity check failed before apply",
                   problems=before.problems)
            raise Refused(f"refusing to apply on a base that fails verify:\n{before}")
        ordered = {m.name: m for m in files.discover(directory)}
        pending = [ordered[n] for n in before.pending]
        if through:
            names = [m.name for m in pending]
            pending = pending[: names.index(through) + 1] if through in names else []
        result = ApplyResult(report=before)
        if not pending:
            return result
        try:
            touched = preflight(directory, pending, registry, approvers, actor, reviewed)
        except Refused as e:
            _audit(conn, actor, pending[0].name, "refused", reason=str(e), approvers=approvers)
            raise
        if rds is not None:
            try:
                result.snapshot = snapshot.take(rds, rds_instance, pending[0].stem, actor.run_id)
            except Refused as e:
                _audit(conn, actor, pending[0].name, "failed", reason=str(e))
                raise
        for m in pending:
            result.applied.append(_apply_one(conn, m, actor, approvers, touched[m.name], result.snapshot))
        result.report = verify(conn, directory)
        if not result.report.ok:
            _audit(conn, actor, "(post-state)", "failed", problems=result.report.problems)
            raise Refused(f"integrity check failed after apply; stop and investigate:\n{result.report}")
        return result


def _apply_one(conn, m: files.Migration, actor: Actor, approvers: list[str], phi_cols: set[str],
               snap: snapshot.Snapshot | None) -> dict:
    started = time.monotonic()
    try:
        if m.transactional:
            with conn.transaction():
                _run(conn, m, actor, started)
        else:  # e.g. CREATE INDEX CONCURRENTLY: each statement on its own
            for st in statements(m.sql):
                conn.execute(st.text)
            _record(conn, m, actor, started)
    except Exception as e:
        _audit(conn, actor, m.name, "failed", error=f"{type(e).__name__}: {e}", checksum=m.checksum)
        raise Refused(f"migration {m.name} failed and was rolled back: {type(e).__name__}: {e}") from None
    ms = int((time.monotonic() - started) * 1000)
    audit_id = _audit(conn, actor, m.name, "applied", checksum=m.checksum, duration_ms=ms,
                      phi_columns=sorted(phi_cols), approvers=approvers if phi_cols else [],
                      snapshot=snap.id if snap else None)
    return {"name": m.name, "checksum": m.checksum, "duration_ms": ms, "audit_id": audit_id}


def _run(conn, m: files.Migration, actor: Actor, started: float) -> None:
    for st in statements(m.sql):
        conn.execute(st.text)
    _record(conn, m, actor, started)


def _record(conn, m: files.Migration, actor: Actor, started: float) -> None:
    creates, drops = table_changes(m)
    conn.execute("INSERT INTO schema_migrations (name, checksum, applied_by, run_id, duration_ms, creates, drops) "
                 "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                 [m.name, m.checksum, str(actor), actor.run_id, int((time.monotonic() - started) * 1000),
                  creates, drops])
