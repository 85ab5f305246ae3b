"""Anchoring a run in audit_log: the one serialization point every machine reaches, and
the archive's fourth stage (archive.py runs the stages), where the run is signed.

In one transaction, holding the audit_log chain's own lock (so no row slips in
between), the run's ledger entry is numbered after the last `evidence` row, a
checkpoint is signed over both heads (ledger entry, audit_log row before it,
previous checkpoint), and both go into a new audit_log row, action `evidence`.
So the ledger is ordered by audit_log across CI runners and laptops, audit_log
holds every ledger entry, and each checkpoint fixes audit_log's head: neither
chain can be cut or rewritten alone.
"""
from __future__ import annotations

from datetime import datetime, timezone

from psycopg.types.json import Jsonb

from rovn_ops.audit import log as audit
from rovn_ops.evidence import ledger

ACTION = "evidence"


def chain_id(conn) -> str | None:
    """The chain's name: the hash of audit_log's first row (a new database, a new chain)."""
    row = conn.execute("SELECT row_hash FROM audit_log ORDER BY id LIMIT 1").fetchone()
    return row[0] if row else None


def append(conn, *, run_id: str, path: str, manifest_sha256: str, key, actor: str, outcome: str) -> dict:
    """The run's ledger entry with its checkpoint, as written into audit_log."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('audit_log_chain'))")
        if chain_id(conn) is None:  # an empty audit_log: its first row names the chain
            _insert(conn, actor, "evidence-genesis", "audit_log", "success", None, {})
        chain = chain_id(conn)
        last = latest(conn, chain)
        entry = ledger.make_entry(seq=last["seq"] + 1 if last else 1, run_id=run_id, path=path,
                                  manifest_sha256=manifest_sha256, prev=last["hash"] if last else ledger.GENESIS,
                                  chain=chain, key=key)
        cp = ledger.make_checkpoint(entry=entry, audit_head=audit.head(conn),
                                    at=datetime.now(timezone.utc).isoformat(),
                                    previous=last.get("checkpoint") if last else None, key=key)
        line = entry | {"checkpoint": cp}
        _insert(conn, actor, ACTION, run_id, outcome, run_id, line)
    return line


def existing(conn, run_id: str) -> dict | None:
    """The run's ledger entry if an earlier attempt anchored it already (a recovery)."""
    row = conn.execute("SELECT details FROM audit_log WHERE action = %s AND run_id = %s ORDER BY id DESC LIMIT 1",
                       [ACTION, run_id]).fetchone()
    return row[0] if row else None


def _insert(conn, actor, action, target, outcome, run_id, details) -> None:
    conn.execute("INSERT INTO audit_log (actor, action, target, outcome, run_id, details) "
                 "VALUES (%s, %s, %s, %s, %s, %s)",
                 (actor, action, target, outcome, run_id, Jsonb(details)))


def latest(conn, chain: str) -> dict | None:
    row = conn.execute("SELECT details FROM audit_log WHERE action = %s AND details->>'chain' = %s "
                       "ORDER BY id DESC LIMIT 1", [ACTION, chain]).fetchone()
    return row[0] if row else None


def entries(conn, chain: str, after_seq: int = 0) -> list[dict]:
    """The authoritative ledger (or its part after a seq), in audit_log order."""
    return [r[0] for r in conn.execute(
        "SELECT details FROM audit_log WHERE action = %s AND details->>'chain' = %s "
        "AND (details->>'seq')::bigint > %s ORDER BY id", [ACTION, chain, after_seq])]


def runs_named(conn, env: str) -> dict[str, list[int]]:
    """{run id: [audit_log ids]} of every non-evidence row that names a run. A row the sandbox
    seeds as history (`sandbox_history`) is skipped in the sandbox only: anywhere else the
    flag is a claim anyone who can insert a row can make, and the row stands (issue 27, finding 6)."""
    named: dict[str, list[int]] = {}
    for row_id, run_id, details in conn.execute(
            "SELECT id, run_id, details FROM audit_log WHERE run_id IS NOT NULL AND action <> %s ORDER BY id",
            [ACTION]):
        if env != "sandbox" or not (isinstance(details, dict) and details.get("sandbox_history")):
            named.setdefault(run_id, []).append(row_id)
    return named
