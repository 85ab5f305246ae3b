"""The audit_log table: append-only and hash-chained.

The database enforces both, so no client can skip them: a BEFORE INSERT trigger
serialises writers, numbers the row and chains its hash to the previous row's;
triggers refuse UPDATE, DELETE and TRUNCATE.

Privileges (prod sets them up the same way, RUNBOOK "audit_log privileges"):
- the runtime role (`rovn_app`) holds SELECT and INSERT only: no UPDATE, DELETE,
  TRUNCATE or TRIGGER grant at all, so the triggers are a second wall, not the first;
- the table, its sequence and functions belong to a separate NOLOGIN role
  (`rovn_audit_owner`) that no runbook connects as: the owner could disable the
  triggers, so nobody logs in as the owner;
- a superuser can still edit a row and recompute every later hash. The row hash is
  not keyed; instead the evidence checkpoints (evidence/anchor.py), signed with the
  evidence key and locked in the bucket, record the audit_log head at every run, so
  `evidence verify` finds a recomputed chain (the head no longer matches) and a
  deleted tail (the checkpointed head, or a run's evidence row, is gone).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

from rovn_ops.core import paths, record
from rovn_ops.safety import scrub
from rovn_ops.core.errors import RovnError
from rovn_ops.audit import pending


class AuditUnavailable(RovnError):
    """audit_log could not be written: the row is kept (audit_pending.py)."""

GENESIS = "0" * 64
TS_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'

SCHEMA = f"""
CREATE SEQUENCE IF NOT EXISTS audit_log_id_seq;
CREATE TABLE IF NOT EXISTS audit_log (
    id          bigint PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor       text NOT NULL,
    action      text NOT NULL,
    target      text NOT NULL,
    outcome     text NOT NULL,
    run_id      text,
    details     jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    prev_hash   text NOT NULL DEFAULT '',
    row_hash    text NOT NULL DEFAULT ''
);

CREATE OR REPLACE FUNCTION audit_log_payload(r audit_log) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT concat_ws('|', r.id::text,
                   to_char(r.occurred_at AT TIME ZONE 'UTC', '{TS_FORMAT}'),
                   r.actor, r.action, r.target, r.outcome, coalesce(r.run_id, ''),
                   r.details::text, r.prev_hash)
$$;

CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- One writer at a time, so ids, times and the chain follow commit order.
  PERFORM pg_advisory_xact_lock(hashtext('audit_log_chain'));
  NEW.id := nextval('audit_log_id_seq');
  NEW.occurred_at := clock_timestamp();
  SELECT row_hash INTO NEW.prev_hash FROM audit_log ORDER BY id DESC LIMIT 1;
  NEW.prev_hash := coalesce(NEW.prev_hash, '{GENESIS}');
  NEW.row_hash := encode(sha256(convert_to(audit_log_payload(NEW), 'UTF8')), 'hex');
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE OR REPLACE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_chain();
CREATE OR REPLACE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();
CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
"""


OWNED = ("TABLE audit_log", "SEQUENCE audit_log_id_seq", "FUNCTION audit_log_payload(audit_log)",
         "FUNCTION audit_log_chain()", "FUNCTION audit_log_refuse()")


def install(conn, app_role: str | None = None, owner_role: str | None = None) -> None:
    """Create the table and its triggers (idempotent); hand them to the owner role and
    grant the app role SELECT and INSERT only (revoking whatever default privileges gave it)."""
    conn.execute(SCHEMA)
    if owner_role:
        for obj in OWNED:
            conn.execute(f'ALTER {obj} OWNER TO "{owner_role}"')
    if app_role:
        conn.execute(f'REVOKE ALL ON audit_log FROM "{app_role}"')
        conn.execute(f'GRANT SELECT, INSERT ON audit_log TO "{app_role}"')
        conn.execute(f'REVOKE ALL ON SEQUENCE audit_log_id_seq FROM "{app_role}"')
        conn.execute(f'GRANT USAGE ON SEQUENCE audit_log_id_seq TO "{app_role}"')


def privileges(conn, role: str) -> set[str]:
    """The privileges a role holds on audit_log (information_schema, as an auditor reads them)."""
    return {r[0] for r in conn.execute(
        "SELECT privilege_type FROM information_schema.role_table_grants "
        "WHERE table_name = 'audit_log' AND grantee = %s", [role])}


@dataclass(frozen=True)
class Entry:
    id: int
    row_hash: str


def append(conn, *, actor: str, action: str, target: str, outcome: str,
           run_id: str | None = None, details: dict | None = None) -> Entry:
    """Append one row; the database assigns id, time and hashes. A secret the
    library read never reaches the row (its text and details are scrubbed)."""
    import psycopg
    from psycopg.types.json import Jsonb

    clean = scrub.current()
    actor, action, target = clean.text(actor), clean.text(action), clean.text(target)
    details = clean.tree(json.loads(_dumps(details or {})))
    if os.environ.get("ROVN_DRAFT") == "1":  # a draft notebook's run (runner.py): never a reviewed runbook's row
        details = {**details, "draft": True}
    try:
        row = conn.execute(
            "INSERT INTO audit_log (actor, action, target, outcome, run_id, details) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id, row_hash",
            (actor, action, target, outcome, run_id, Jsonb(details, dumps=_dumps)),
        ).fetchone()
    except (psycopg.OperationalError, psycopg.InterfaceError) as e:
        # The database went away (killed mid-bake): the row is what the run knows, so it is
        # kept, and written by the next rovn-ops command that reaches the database.
        name = pending.keep(dict(actor=actor, action=action, target=target, outcome=outcome, run_id=run_id,
                                 details=details))
        record.record(audit_pending=[name])
        raise AuditUnavailable(f"audit_log is unreachable ({type(e).__name__}): the {action} row for {target} "
                               f"(outcome {outcome}) is kept and written by the next rovn-ops command once the "
                               "database answers; `rovn-ops evidence verify` shows it as pending until then") from None
    entry = Entry(*row)
    # The run's manifest names every row it wrote, with the hash it had then.
    record.record(audit_log=[{"id": entry.id, "row_hash": entry.row_hash}])
    return entry


def flush_pending(conn, env: str) -> int:
    """Append every row of `env` kept while the database was unreachable (audit/pending.py;
    its details say when it was kept); returns how many. Here, not in pending, so the
    kept rows' store needs nothing of the log: the arrow runs one way."""
    done = 0
    for path in pending.kept():
        row = json.loads(path.read_text())
        if row.pop("env", "sandbox") != env:
            continue
        kept_at = row.pop("kept_at", None)
        row["details"] = {**(row.get("details") or {}), "kept_while_unreachable_since": kept_at}
        # the run's manifest lists the row it wrote, as if written then: its spool's result file
        result = paths.spool() / str(row.get("run_id")) / "result.json"
        saved = os.environ.get("ROVN_RESULT_FILE")
        os.environ["ROVN_RESULT_FILE"] = str(result) if result.exists() else ""
        try:
            append(conn, **row)
        finally:
            os.environ.pop("ROVN_RESULT_FILE") if saved is None else os.environ.update(ROVN_RESULT_FILE=saved)
        path.unlink()
        done += 1
    return done


def _dumps(obj) -> str:
    return json.dumps(obj, default=str, sort_keys=True)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    rows: int
    first_bad_id: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"audit_log chain intact: {self.rows} rows"
        return f"audit_log chain broken at id {self.first_bad_id}: {self.reason}"


def payload(row: tuple) -> str:
    """The hashed text of a row, as audit_log_payload() builds it in SQL."""
    return "|".join(str(v) for v in row)


def verify(conn) -> ChainReport:
    """Recompute every row's hash in Python and follow the chain from genesis."""
    cur = conn.execute(
        f"SELECT id, to_char(occurred_at AT TIME ZONE 'UTC', '{TS_FORMAT}'), actor, action, "
        "target, outcome, coalesce(run_id, ''), details::text, prev_hash, row_hash "
        "FROM audit_log ORDER BY id")
    prev, count = GENESIS, 0
    for *fields, row_hash in cur:
        count += 1
        if fields[-1] != prev:
            return ChainReport(False, count, fields[0], "prev_hash does not match the row before "
                               "(a row was deleted, inserted or reordered)")
        if hashlib.sha256(payload(fields).encode()).hexdigest() != row_hash:
            return ChainReport(False, count, fields[0], "row_hash does not match the row's contents "
                               "(the row was altered)")
        prev = row_hash
    return ChainReport(True, count)


# pg_trigger.tgtype bits (PostgreSQL's catalog, pg_trigger.h): ROW 1, BEFORE 2, INSERT 4, DELETE 8,
# UPDATE 16, TRUNCATE 32. https://www.postgresql.org/docs/current/catalog-pg-trigger.html
GUARDED = {"UPDATE": 16, "DELETE": 8, "TRUNCATE": 32}


def guarded(conn, op: str) -> bool:
    """Does an enabled trigger on audit_log fire for `op` (row-level for UPDATE and DELETE;
    TRUNCATE's are statement-level), under any name? Read from the catalog, which any role
    may read: the app role cannot try an UPDATE (it holds no grant), so it asks."""
    row_level = "" if op == "TRUNCATE" else " AND (tgtype & 1) = 1"
    return bool(conn.execute(
        "SELECT 1 FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass AND NOT tgisinternal "
        f"AND tgenabled <> 'D'{row_level} AND (tgtype & %s) <> 0", [GUARDED[op]]).fetchone())


def integrity(conn) -> list[str]:
    """What is wrong with audit_log as the append-only, chained record (§7: the source of
    truth): a broken chain (a row altered, deleted or inserted by someone past the
    triggers), and each of UPDATE, DELETE and TRUNCATE no trigger refuses. Empty: intact.
    A superuser who recomputed every later hash and restored the triggers passes here;
    `evidence verify` finds that against the signed checkpoints."""
    chain = verify(conn)
    problems = [] if chain.ok else [str(chain)]
    open_to = [op for op in GUARDED if not guarded(conn, op)]
    if open_to:
        problems.append(f"audit_log has no enabled trigger refusing {', '.join(open_to)}: it is not append-only "
                        "(a trigger was dropped or disabled)")
    return problems


def head(conn) -> dict | None:
    """The newest row's id and hash: what a manifest and a checkpoint record."""
    row = conn.execute("SELECT id, row_hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    return {"id": row[0], "row_hash": row[1]} if row else None


def rows(conn, *, run_id: str | None = None, limit: int = 50) -> list[dict]:
    where, args = ("WHERE run_id = %s", [run_id]) if run_id else ("", [])
    cur = conn.execute(f"SELECT id, occurred_at, actor, action, target, outcome, run_id, details "
                       f"FROM audit_log {where} ORDER BY id DESC LIMIT %s", [*args, limit])
    names = [c.name for c in cur.description]
    return [dict(zip(names, r)) for r in cur]


def content_hashes(conn, ids: list[int]) -> dict[int, tuple[str, str]]:
    """{id: (hash recomputed from the row's contents, stored row_hash)} for rows that exist."""
    cur = conn.execute(
        f"SELECT id, to_char(occurred_at AT TIME ZONE 'UTC', '{TS_FORMAT}'), actor, action, target, outcome, "
        "coalesce(run_id, ''), details::text, prev_hash, row_hash FROM audit_log WHERE id = ANY(%s)", [list(ids)])
    return {fields[0]: (hashlib.sha256(payload(fields).encode()).hexdigest(), stored)
            for *fields, stored in cur}
