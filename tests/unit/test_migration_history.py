"""Issue 20, class 2: migration history is not forgeable. Only the migration role (the
ledger's owner) writes schema_migrations; rovn_app, the runbooks' role, reads it. `verify`
and the §7 gate cross-check every applied row with its audit_log 'migration' row (file
name, checksum, time) and name the row that disagrees."""
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from rovn_ops.migrations import compat, engine


@pytest.mark.parametrize("forgery", [
    "UPDATE schema_migrations SET applied_at = applied_at - interval '30 days'",
    "DELETE FROM schema_migrations WHERE name = '0011_add_worker_npi.sql'",
    "INSERT INTO schema_migrations (name, checksum, applied_by, duration_ms) VALUES ('0099_x.sql', 'x', 'me', 1)",
    "TRUNCATE schema_migrations",
])
def test_the_runtime_role_reads_the_history_and_cannot_write_it(app_db, forgery):
    assert app_db.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] > 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_db.execute(forgery)


def test_verify_names_a_role_that_may_write_the_ledger_and_apply_revokes_it(fresh, admin_db):
    mdir = Path(fresh["migrations_dir"])
    assert engine.verify(admin_db, mdir).ok
    admin_db.execute("GRANT UPDATE, DELETE ON schema_migrations TO rovn_app")
    report = engine.verify(admin_db, mdir)
    assert "role rovn_app can DELETE schema_migrations: only the migration role writes it" in str(report)
    assert "role rovn_app can UPDATE schema_migrations" in str(report)
    revoked = engine.restrict_ledger(admin_db)  # and from the roles that inherit rovn_app's grants
    assert {"DELETE from rovn_app", "UPDATE from rovn_app"} <= set(revoked)
    assert engine.verify(admin_db, mdir).ok
    with psycopg.connect(fresh["database_url"]) as app:  # still reads it
        assert app.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] > 0


def test_verify_cross_checks_each_applied_row_with_its_audit_row(fresh, admin_db):
    mdir = Path(fresh["migrations_dir"])
    audit_id = admin_db.execute("SELECT max(id) FROM audit_log WHERE action = 'migration' AND outcome = 'applied' "
                                "AND target = '0011_add_worker_npi.sql'").fetchone()[0]
    # The owner (or a superuser) moves a breaking migration's time back past the gate.
    admin_db.execute("UPDATE schema_migrations SET applied_at = applied_at - interval '30 days' "
                     "WHERE name = '0011_add_worker_npi.sql'")
    report = engine.verify(admin_db, mdir)
    assert not report.ok and (f"0011_add_worker_npi.sql: schema_migrations disagrees with audit_log row {audit_id} "
                              "(applied_at ") in str(report)
    admin_db.execute("UPDATE schema_migrations SET applied_at = applied_at + interval '30 days', checksum = 'x' || "
                     "substr(checksum, 2) WHERE name = '0011_add_worker_npi.sql'")
    assert f"disagrees with audit_log row {audit_id} (checksum x" in str(engine.verify(admin_db, mdir))
    admin_db.execute("INSERT INTO schema_migrations (name, checksum, applied_by, duration_ms) "
                     "SELECT '0013_hidden.sql', 'x', 'me', 1")
    assert "0013_hidden.sql: applied (schema_migrations) with no audit_log 'migration' row" \
        in str(engine.verify(admin_db, mdir))


def test_the_gate_names_a_row_that_disagrees_with_audit_log(fresh, admin_db):
    mdir = Path(fresh["migrations_dir"])
    start = datetime.now(timezone.utc) - timedelta(days=365)
    assert all(a.verdict != compat.UNKNOWN for a in compat.since(admin_db, mdir, start))
    admin_db.execute("UPDATE schema_migrations SET checksum = 'x' || substr(checksum, 2) "
                     "WHERE name = '0010_facility_contacts_drop_fax.sql'")
    [forged] = [a for a in compat.since(admin_db, mdir, start) if a.name == "0010_facility_contacts_drop_fax.sql"]
    assert forged.verdict == compat.UNKNOWN and "disagrees with audit_log row" in forged.reasons[0]


def test_a_sandbox_reset_restamps_the_audit_rows_and_moves_the_history_with_them(fresh, admin_db):
    """The sandbox's reset re-chains the seeded audit rows stamped now (sandbox/database.py);
    schema_migrations moves by the same interval, or a reset more than AUDIT_SLACK_S after
    the seed made every applied file disagree with its audit row (the whole suite refused)."""
    from rovn_sandbox import database

    mdir = Path(fresh["migrations_dir"])
    with admin_db.transaction():  # the seed, an hour ago: both records of it agree
        admin_db.execute("SET LOCAL session_replication_role = replica")
        admin_db.execute("UPDATE audit_log SET occurred_at = occurred_at - interval '1 hour'")
        admin_db.execute("UPDATE schema_migrations SET applied_at = applied_at - interval '1 hour'")
    database._rechain(admin_db)
    assert engine.verify(admin_db, mdir).ok, str(engine.verify(admin_db, mdir))
