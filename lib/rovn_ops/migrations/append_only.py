"""Is audit_log append-only? Asked of its behaviour, not of trigger names: the
platform's own hotfix (2026_04_14_audit_log_harden.sql) and this suite may name their
triggers differently, and a trigger that exists but is disabled protects nothing.

Inside a transaction that is always rolled back, each of UPDATE and DELETE of the
newest row, and TRUNCATE, is tried: each must fail, or change no row. With no row to
try (a new, empty audit_log), UPDATE and DELETE are judged by what the table has for
them: an enabled row trigger, under any name."""
from __future__ import annotations

import psycopg

from rovn_ops.audit import log as audit_log

_NEWEST = "(SELECT max(id) FROM audit_log)"
PROBES = {"UPDATE": f"UPDATE audit_log SET outcome = outcome WHERE id = {_NEWEST} RETURNING id",
          "DELETE": f"DELETE FROM audit_log WHERE id = {_NEWEST} RETURNING id",
          "TRUNCATE": "TRUNCATE audit_log"}


def problems(conn) -> list[str]:
    if conn.execute("SELECT to_regclass('audit_log')").fetchone()[0] is None:
        return ["audit_log does not exist"]
    accepted = []
    try:
        with conn.transaction():
            empty = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM audit_log)").fetchone()[0]
            for op, sql in PROBES.items():
                if empty and op in ("UPDATE", "DELETE"):
                    if not audit_log.guarded(conn, op):
                        accepted.append(op)
                    continue
                if _accepted(conn, sql):
                    accepted.append(op)
            raise psycopg.Rollback()  # nothing a probe did survives, even what it was allowed
    except psycopg.Rollback:
        pass
    return [f"audit_log accepts {op} (tried and rolled back): it is not append-only" for op in accepted]


def _accepted(conn, sql: str) -> bool:
    try:
        with conn.transaction():  # a savepoint: a refused probe leaves the others their turn
            cur = conn.execute(sql)
            changed = cur.fetchall() if cur.description else [True]
    except psycopg.Error:
        return False
    return bool(changed)
