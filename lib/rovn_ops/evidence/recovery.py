"""Recovery of runs killed before their evidence was archived: the spools they left
are archived by the next invocation, after any audit_log rows kept while the database
was unreachable. It sits above both the spool and the archiver, so neither imports
the other back."""
from __future__ import annotations

import json
import sys

from rovn_ops.core import paths
from rovn_ops.core.environment import prepare_environment
from rovn_ops.evidence import archive
from rovn_ops.evidence.archive import connect
from rovn_ops.evidence.spool import RECOVERED, Spool, orphans


def flush_pending() -> int:
    """audit_log rows kept while the database was unreachable (audit_pending.py), written
    for each environment whose database answers now; one that still does not keeps them."""
    import psycopg

    from rovn_ops.audit import log as audit_log, pending as audit_pending

    done = 0
    for env in sorted({json.loads(p.read_text()).get("env", "sandbox") for p in audit_pending.kept()}):
        try:
            with connect(env) as conn:
                done += audit_log.flush_pending(conn, env)
        except (psycopg.OperationalError, psycopg.InterfaceError):
            print(f"rovn-ops: warning: {env} audit_log is still unreachable; its kept rows wait for the next "
                  "invocation", file=sys.stderr)
    return done


def recover() -> list[str]:
    """Archive every orphaned spool; one warning line for any that cannot be archived now.
    Rows kept while audit_log was unreachable are written first (they come before the run's anchor)."""
    done = []
    flush_pending()
    for sp in orphans():
        try:
            done.append(_archive_orphan(sp))
        except Exception as e:  # noqa: BLE001 - the spool stays for the next invocation
            print(f"rovn-ops: warning: run {sp.dir.name} was interrupted and is not archived yet "
                  f"({type(e).__name__}: {e}); it stays in {paths.spool()} for the next invocation",
                  file=sys.stderr)
            if sp._lock is not None:
                sp._lock.close()
    return done


def _archive_orphan(sp: Spool) -> str:
    meta = sp.meta
    prepare_environment(meta["env"])
    outcome = meta.get("outcome") or "interrupted"
    error = meta.get("error") or RECOVERED
    archiver = archive.Archiver(meta["env"], meta.get("runbook", ""))  # a rotation's run: the key it hands over
    m = archiver.finish(sp, outcome=outcome, error=error, operator=meta.get("operator"))
    print(f"rovn-ops: recovered run {m['run_id']}: archived as {m['outcome']}", file=sys.stderr)
    return m["run_id"]
