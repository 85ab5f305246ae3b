"""The migration engine against a real PostgreSQL: a scratch database per test, the
sample set copied to a temporary directory, the sandbox's RDS for snapshots."""
import shutil
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest

from rovn_ops.audit import log as audit
from rovn_ops.core.errors import BadInput, Refused
from rovn_ops.migrations import engine, files, lint, phi
from rovn_sandbox import control, database
from tests.conftest import ROOT

SAMPLE = ROOT / "lib/rovn_sandbox/migrations"
REGISTRY = phi.load_registry(ROOT / "parameters/phi_columns.yaml")
ACTOR = engine.Actor("arn:aws:iam::123456789012:user/claude-deploy", "oncall", "run-test")
TWO = ["giles", "christian"]


@pytest.fixture
def scratch(fresh):
    """A new, empty database with audit_log installed; yields its admin URL."""
    return database.scratch(fresh["admin_database_url"], "scratch")


@pytest.fixture
def mdir(tmp_path) -> Path:
    d = tmp_path / "migrations"
    shutil.copytree(SAMPLE, d)
    return d


@pytest.fixture
def rds(aws):
    return aws("rds")


def apply(url, d, approvers=TWO, rds=None, **kw):
    with psycopg.connect(url, autocommit=True) as conn:
        return engine.apply(conn, d, actor=ACTOR, approvers=approvers, registry=REGISTRY, rds=rds,
                            rds_instance="rovn-prod-db", **kw)


def schema_dump(url) -> str:
    import pgserver  # its pg_dump matches its server's major version

    pg_dump = Path(pgserver.__file__).parent / "pginstall/bin/pg_dump"
    return subprocess.run([str(pg_dump), "--schema-only", "--no-owner", "-d", url.replace("postgres:@", "postgres@")],
                          capture_output=True, text=True, check=True).stdout


def test_order_puts_the_hotfix_after_the_file_it_names():
    names = [m.name for m in files.discover(SAMPLE)]
    i = names.index("2026_04_14_audit_log_harden.sql")
    assert names[i - 1] == "0009_create_shift_requests.sql" and names[i + 1] == "0010_facility_contacts_drop_fax.sql"
    assert names[0] == "0001_create_workers.sql" and names[-1] == "0012_workers_dob_index.sql"


def test_a_hotfix_must_declare_its_place(mdir):
    (mdir / "2026_05_01_oops.sql").write_text("SELECT 1;\n")
    with pytest.raises(BadInput, match="rovn:after"):
        files.discover(mdir)


def test_lint_names_file_and_line(mdir):
    (mdir / "0013_bad.sql").write_text("-- c\n\nALTER TABLE workers ADD COLUMN nickname text;\n")
    [problem] = lint.check(files.load(mdir / "0013_bad.sql"))
    assert str(problem) == "0013_bad.sql:3: ADD COLUMN nickname needs IF NOT EXISTS"


def test_every_sample_file_passes_the_lint():
    assert [p for m in files.discover(SAMPLE) for p in lint.check(m)] == []


def test_apply_twice_changes_nothing_the_second_time(scratch, mdir, rds):
    first = apply(scratch, mdir, rds=rds)
    assert len(first.applied) == 13 and first.report.ok and first.snapshot
    dump = schema_dump(scratch)
    second = apply(scratch, mdir, rds=rds)
    assert second.applied == [] and second.snapshot is None
    assert schema_dump(scratch) == dump
    with psycopg.connect(scratch) as conn:  # the session lock went with the run
        assert not conn.execute("SELECT 1 FROM pg_locks WHERE locktype = 'advisory'").fetchone()
    with psycopg.connect(scratch) as conn:
        rows = engine.applied(conn)
        assert len(rows) == 13 and all(r["run_id"] == "run-test" and r["duration_ms"] >= 0 for r in rows)
        assert rows[0]["applied_by"].startswith("arn:aws:iam::123456789012:user/claude-deploy")


def test_unguarded_statement_is_refused_and_audited(scratch, mdir):
    (mdir / "0013_bad.sql").write_text("CREATE TABLE pets (id int);\n")
    apply(scratch, mdir, through="0012_workers_dob_index.sql")
    with pytest.raises(Refused, match=r"0013_bad.sql:1: CREATE TABLE needs IF NOT EXISTS"):
        apply(scratch, mdir)
    with psycopg.connect(scratch) as conn:
        assert audit.rows(conn)[0]["outcome"] == "refused"
        assert conn.execute("SELECT to_regclass('pets')").fetchone()[0] is None


def test_edited_after_apply_fails_verify_naming_the_file(scratch, mdir):
    apply(scratch, mdir)
    f = mdir / "0006_add_facility_timezone.sql"
    f.write_text(f.read_text() + "-- edited\n")
    with psycopg.connect(scratch) as conn:
        report = engine.verify(conn, mdir)
    assert not report.ok and any(p.startswith("0006_add_facility_timezone.sql: edited") for p in report.problems)
    with pytest.raises(Refused, match="fails verify"):
        apply(scratch, mdir)


def test_unknown_applied_row_and_pending_before_applied(scratch, mdir):
    apply(scratch, mdir)
    (mdir / "0012_workers_dob_index.sql").rename(mdir / "0012_renamed.sql")
    (mdir / "2026_06_01_late.sql").write_text("-- rovn:after 0003_create_credentials.sql\nSELECT 1;\n")
    with psycopg.connect(scratch) as conn:
        report = engine.verify(conn, mdir)
    assert any(p.startswith("0012_workers_dob_index.sql: applied but not in") for p in report.problems)
    assert "2026_06_01_late.sql: pending but ordered before an applied migration" in report.problems


def test_post_state_finds_a_missing_trigger_and_table(scratch, mdir):
    apply(scratch, mdir)
    with psycopg.connect(scratch, autocommit=True) as conn:
        conn.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
        conn.execute("ALTER TABLE shift_requests RENAME TO shifts")
        report = engine.verify(conn, mdir)
    assert "audit_log accepts TRUNCATE (tried and rolled back): it is not append-only" in report.problems
    assert "table shift_requests (created by an applied migration) does not exist" in report.problems


def test_post_state_follows_each_tables_last_create_or_drop_in_apply_order(scratch, tmp_path):
    """The post-state is read from the ledger in the database (issue 24, build 4): a table
    made, dropped and made again must exist; one a file makes and drops must not."""
    d = tmp_path / "m"
    d.mkdir()
    for name, sql in (("0001_a.sql", "CREATE TABLE IF NOT EXISTS again (id int);"),
                      ("0002_b.sql", "DROP TABLE IF EXISTS again;"),
                      ("0003_c.sql", "CREATE TABLE IF NOT EXISTS again (id int);\n"
                                     "CREATE TABLE IF NOT EXISTS brief (id int);\nDROP TABLE IF EXISTS brief;")):
        (d / name).write_text(sql)
    apply(scratch, d, approvers=[])
    with psycopg.connect(scratch, autocommit=True) as conn:
        assert engine.verify(conn, d).ok
        conn.execute("DROP TABLE again")
        assert [p for p in engine.verify(conn, d).problems if "does not exist" in p] == [
            "table again (created by an applied migration) does not exist"]


def test_verify_takes_no_lock_on_a_complete_ledger(scratch, mdir):
    """status and verify issue no DDL once the ledger has every column: they read on while
    another session holds schema_migrations (ALTER TABLE's ACCESS EXCLUSIVE lock, which
    `ADD COLUMN IF NOT EXISTS` took on every verify, waited behind any reader)."""
    apply(scratch, mdir)
    with psycopg.connect(scratch) as reader, psycopg.connect(scratch, autocommit=True) as conn:
        reader.execute("SELECT count(*) FROM schema_migrations").fetchone()  # holds ACCESS SHARE until rollback
        conn.execute("SET lock_timeout = '2s'")
        assert engine.verify(conn, mdir).ok
        reader.rollback()


@pytest.mark.parametrize("approvers, message", [
    ([], "got 0"),
    (["giles"], "got 1"),
    (["giles", "oncall"], "oncall executes this run and cannot approve it"),
    (["giles", "claude-deploy"], "claude-deploy executes this run"),
    (["giles", "giles"], "listed twice"),
])
def test_phi_migration_needs_two_other_approvers(scratch, mdir, approvers, message):
    apply(scratch, mdir, through="0011_add_worker_npi.sql")
    with pytest.raises(Refused, match=message):
        apply(scratch, mdir, approvers=approvers)
    with psycopg.connect(scratch) as conn:
        assert "0012_workers_dob_index.sql" not in {r["name"] for r in engine.applied(conn)}
        assert audit.rows(conn)[0]["outcome"] == "refused"
    assert apply(scratch, mdir, approvers=TWO).names == ["0012_workers_dob_index.sql"]


def test_phi_detection():
    by_name = {m.name: m for m in files.discover(SAMPLE)}
    assert phi.touched(by_name["0012_workers_dob_index.sql"], REGISTRY) == {"workers.date_of_birth"}
    assert phi.touched(by_name["0011_add_worker_npi.sql"], REGISTRY) == set()
    assert phi.touched(by_name["0003_create_credentials.sql"], REGISTRY) == {"credentials.license_number"}


def test_snapshot_failure_means_no_ddl(scratch, mdir, rds, fresh):
    control.scenario(fresh, "rds_snapshot_fails")
    with pytest.raises(Refused, match="snapshot of rovn-prod-db failed"):
        apply(scratch, mdir, rds=rds)
    with psycopg.connect(scratch) as conn:
        assert conn.execute("SELECT to_regclass('workers')").fetchone()[0] is None
        assert engine.applied(conn) == []
        assert audit.rows(conn)[0]["outcome"] == "failed"


def test_snapshot_is_named_tagged_and_reused(scratch, mdir, rds):
    (mdir / "0013_boom.sql").write_text("ALTER TABLE workers ADD COLUMN IF NOT EXISTS boom int;\nSELECT 1/0;\n")
    apply(scratch, mdir, rds=rds, through="0012_workers_dob_index.sql")
    with pytest.raises(Refused, match="0013_boom.sql failed and was rolled back"):
        apply(scratch, mdir, rds=rds)
    snaps = rds.describe_db_snapshots(DBInstanceIdentifier="rovn-prod-db", SnapshotType="manual")["DBSnapshots"]
    ours = [s for s in snaps if s["DBSnapshotIdentifier"].startswith("m0013-boom-")]
    assert len(ours) == 1
    tags = {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=ours[0]["DBSnapshotArn"])["TagList"]}
    assert tags["rovn:migration"] == "0013_boom" and tags["rovn:expires-at"] > "2027"
    (mdir / "0013_boom.sql").write_text("ALTER TABLE workers ADD COLUMN IF NOT EXISTS boom int;\n")
    again = apply(scratch, mdir, rds=rds)
    assert again.snapshot.reused and again.snapshot.id == ours[0]["DBSnapshotIdentifier"]
    with psycopg.connect(scratch) as conn:
        applied_at = [r for r in engine.applied(conn) if r["name"] == "0013_boom.sql"][0]["applied_at"]
    assert ours[0]["SnapshotCreateTime"] < applied_at


def test_concurrent_apply_one_waits_then_fails(scratch, mdir):
    (mdir / "0013_slow.sql").write_text("SELECT pg_sleep(3);\n")
    apply(scratch, mdir, through="0012_workers_dob_index.sql")
    slow = threading.Thread(target=lambda: apply(scratch, mdir))
    slow.start()
    time.sleep(0.5)
    with pytest.raises(Refused, match="another migration run holds the lock"):
        apply(scratch, mdir, lock_wait=1)
    slow.join()
    with psycopg.connect(scratch) as conn:
        names = [r["name"] for r in engine.applied(conn)]
        assert names.count("0013_slow.sql") == 1 and len(names) == len(set(names))
        attempts = [r for r in audit.rows(conn, limit=5) if r["run_id"] == "run-test"]
        outcomes = {(r["target"], r["outcome"]) for r in attempts}
        assert ("0013_slow.sql", "applied") in outcomes and ("(pending set)", "refused") in outcomes


def test_killed_apply_releases_the_lock_and_verify_is_honest(scratch, mdir, tmp_path):
    (mdir / "0013_slow.sql").write_text("ALTER TABLE workers ADD COLUMN IF NOT EXISTS slow int;\nSELECT pg_sleep(30);\n")
    apply(scratch, mdir, through="0012_workers_dob_index.sql")
    script = tmp_path / "apply.py"
    script.write_text(f"""
import psycopg
from pathlib import Path
from rovn_ops.migrations import engine, phi
actor = engine.Actor("arn:aws:iam::1:user/claude-deploy", "x", "killed")
with psycopg.connect({scratch!r}, autocommit=True) as conn:
    engine.apply(conn, Path({str(mdir)!r}), actor=actor, approvers=[], registry={{}})
""")
    import sys
    proc = subprocess.Popen([sys.executable, str(script)])
    with psycopg.connect(scratch, autocommit=True) as conn:
        deadline = time.monotonic() + 20
        while not conn.execute("SELECT 1 FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'").fetchone():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 20
        while conn.execute("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = %s",
                           [engine.LOCK_KEY]).fetchone():
            assert time.monotonic() < deadline, "the lock outlived the killed run"
            time.sleep(0.1)
        report = engine.verify(conn, mdir)
        assert report.ok and report.pending == ["0013_slow.sql"]
        cols = conn.execute("SELECT 1 FROM information_schema.columns WHERE column_name = 'slow'").fetchone()
        assert cols is None  # rolled back with its transaction, not half-applied, not repaired
