"""Scenario audit_tampered: a data-integrity event (§6: P0) in audit_log, the source of
truth (§7). A break-glass superuser session drops the trigger that refuses UPDATE and
DELETE (the 2026_04_14_audit_log_harden.sql hotfix's), then rewrites the newest deploy
row's approvers to add a second approver who never approved, leaving its hash as it was
(the row no longer hashes to its row_hash: `rovn-ops audit verify` names it). The
service itself stays healthy: the drill is detection (incident_triage says P0 and
names the row), then the commands it prints."""
from __future__ import annotations

import json

TRIGGER = "audit_log_no_update_delete"
FORGED = ["giles", "christian"]


def tamper(admin_db_url: str) -> int:
    """Do it as a superuser would; returns the id of the row rewritten."""
    import psycopg

    with psycopg.connect(admin_db_url, autocommit=True) as conn:
        conn.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON audit_log")
        (row_id,) = conn.execute("SELECT max(id) FROM audit_log WHERE action = 'deploy'").fetchone()
        conn.execute("UPDATE audit_log SET details = jsonb_set(details, '{approvers}', %s::jsonb) WHERE id = %s",
                     [json.dumps(FORGED), row_id])
    return row_id


def install(sandbox) -> None:
    from rovn_sandbox import scenarios

    scenarios.on_activate("audit_tampered", lambda: tamper(sandbox.admin_db_url))
