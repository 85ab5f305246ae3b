"""§7's gate: which migrations an older image can run on (migrations/compat.py)."""
from pathlib import Path

import pytest

from rovn_ops.migrations import compat
from rovn_ops.migrations.files import Migration


def _m(sql: str, name: str = "0013_x.sql") -> Migration:
    return Migration(name=name, path=Path(name), sql=sql, number=13)


@pytest.mark.parametrize("sql, why", [
    ("CREATE TABLE IF NOT EXISTS notes (id bigint)", "CREATE TABLE notes"),
    ("CREATE INDEX IF NOT EXISTS i ON workers (email)", "CREATE INDEX i"),
    ("ALTER TABLE workers ADD COLUMN IF NOT EXISTS npi text", "ADD COLUMN npi nullable"),
    ("ALTER TABLE f ADD COLUMN IF NOT EXISTS tz text NOT NULL DEFAULT 'UTC'", "ADD COLUMN tz with a default"),
])
def test_additive_says_why_it_is_safe(sql, why):
    verdict, reasons = compat.classify(_m(sql))
    assert verdict == compat.ADDITIVE and why in reasons[0]


@pytest.mark.parametrize("sql, why", [
    ("ALTER TABLE facility_contacts DROP COLUMN IF EXISTS fax", "DROP COLUMN fax"),
    ("DROP TABLE IF EXISTS notes", "DROP"),
    ("ALTER TABLE w RENAME COLUMN a TO b", "RENAME COLUMN"),
    ("ALTER TABLE w ALTER COLUMN a TYPE bigint", "ALTER COLUMN a"),
    ("ALTER TABLE w ALTER COLUMN a SET NOT NULL", "ALTER COLUMN a"),
    ("ALTER TABLE w ADD COLUMN IF NOT EXISTS x int NOT NULL", "NOT NULL without a default"),
    ("CREATE UNIQUE INDEX IF NOT EXISTS k ON workers (email)", "UNIQUE"),
    ("UPDATE workers SET npi = NULL", "UPDATE"),
    ("DELETE FROM workers", "DELETE"),
    ("ALTER TABLE w ADD COLUMN IF NOT EXISTS n text; ALTER TABLE w DROP COLUMN IF EXISTS m", "DROP COLUMN m"),
])
def test_anything_else_is_breaking_and_named(sql, why):
    verdict, reasons = compat.classify(_m(sql))
    assert verdict == compat.BREAKING and why in " ".join(reasons)


def test_path_of_a_migration_from_its_run():
    assert compat.path_of("20261127T081105Z-deploy-3a94a5") == "deploy"
    assert compat.path_of("20261127T081105Z-migrations-3a94a5") == "migrations apply"
    assert compat.path_of("20261127T081105Z-migration_reversal-3a94a5") == "migration_reversal"
    assert compat.path_of("sandbox-seed") == compat.path_of(None) == "unknown"


def test_since_reads_the_schema_and_the_audit_log(fresh, admin_db, tmp_path):
    """Unknown when audit_log has no record; a migration and its reversal cancel out."""
    from datetime import datetime, timezone

    from rovn_ops.audit import log as audit
    from rovn_ops.migrations import engine

    mdir = Path(fresh["migrations_dir"])
    start = datetime.now(timezone.utc)
    (mdir / "0013_notes.sql").write_text("ALTER TABLE shift_requests ADD COLUMN IF NOT EXISTS notes text;\n")
    actor = engine.Actor("arn:aws:iam::123456789012:user/claude-deploy", "t", "20261127T000000Z-migrations-aaaaaa")
    engine.apply(admin_db, mdir, actor=actor, approvers=[], registry={})
    [a] = compat.since(admin_db, mdir, start)
    assert (a.name, a.verdict, a.path) == ("0013_notes.sql", compat.ADDITIVE, "migrations apply")
    # By hand, with no audit row: unknown.
    (mdir / "0014_by_hand.sql").write_text("CREATE INDEX IF NOT EXISTS n_idx ON shift_requests (notes);\n")
    admin_db.execute("INSERT INTO schema_migrations (name, checksum, applied_by, duration_ms) "
                     "VALUES ('0014_by_hand.sql', 'x', 'someone', 1)")
    by_hand = compat.since(admin_db, mdir, start)[-1]
    assert by_hand.verdict == compat.UNKNOWN and "no audit_log record" in by_hand.reasons[0]
    # Recorded in audit_log but absent from schema_migrations: unknown too.
    audit.append(admin_db, actor="x", action="migration", target="0099_ghost.sql", outcome="applied")
    assert any(a.name == "0099_ghost.sql" and a.verdict == compat.UNKNOWN for a in compat.since(admin_db, mdir, start))
