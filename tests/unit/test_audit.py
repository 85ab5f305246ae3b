"""audit_log: append-only for everyone, hash-chained, and verify finds tampering."""
import threading

import psycopg
import pytest

from rovn_ops.audit import log as audit


def _append(conn, n=3, run="r1"):
    return [audit.append(conn, actor="arn:aws:iam::1:user/claude-deploy", action="deploy",
                         target="rovn-passport-api", outcome="success", run_id=run,
                         details={"i": i, "approvers": ["giles"]}) for i in range(n)]


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET outcome = 'failed'",
    "DELETE FROM audit_log",
    "TRUNCATE audit_log",
])
def test_app_role_cannot_change_or_remove_rows(app_db, statement):
    _append(app_db)
    before = _count(app_db)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_db.execute(statement)
    assert _count(app_db) == before


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET outcome = 'x'", "DELETE FROM audit_log",
                                       "TRUNCATE audit_log"])
def test_even_the_owner_is_refused_by_the_triggers(admin_db, statement):
    _append(admin_db)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        admin_db.execute(statement)


def _count(conn) -> int:
    return conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]


def test_chain_verifies_and_links_rows(app_db):
    base = _count(app_db)  # the sandbox's seeded history
    entries = _append(app_db, 5)
    report = audit.verify(app_db)
    assert report.ok and report.rows == base + 5
    prevs = [r[0] for r in app_db.execute("SELECT prev_hash FROM audit_log ORDER BY id")]
    assert prevs[0] == audit.GENESIS
    assert prevs[-4:] == [e.row_hash for e in entries[:-1]]


def test_client_cannot_forge_hashes(app_db):
    app_db.execute("INSERT INTO audit_log (actor, action, target, outcome, prev_hash, row_hash) "
                   "VALUES ('a', 'b', 'c', 'd', 'forged', 'forged')")
    assert audit.verify(app_db).ok


def test_superuser_tampering_is_found(admin_db, app_db):
    entries = _append(app_db, 4)
    admin_db.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete")
    admin_db.execute("UPDATE audit_log SET outcome = 'failed' WHERE id = %s", [entries[2].id])
    report = audit.verify(app_db)
    assert not report.ok and report.first_bad_id == entries[2].id and "altered" in report.reason
    admin_db.execute("DELETE FROM audit_log WHERE id = %s", [entries[1].id])
    report = audit.verify(app_db)
    assert not report.ok and report.first_bad_id == entries[2].id and "deleted" in report.reason


def test_concurrent_writers_keep_one_chain(fresh):
    with psycopg.connect(fresh["database_url"]) as conn:
        base = _count(conn)

    def writer(n):
        with psycopg.connect(fresh["database_url"], autocommit=True) as conn:
            _append(conn, n, run=threading.current_thread().name)
    threads = [threading.Thread(target=writer, args=(10,)) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    with psycopg.connect(fresh["database_url"]) as conn:
        report = audit.verify(conn)
    assert report.ok and report.rows == base + 40


def test_install_is_idempotent(admin_db):
    audit.install(admin_db, app_role="rovn_app")
    audit.install(admin_db, app_role="rovn_app")
    _append(admin_db, 1)
    assert audit.verify(admin_db).ok


def test_runtime_role_holds_select_and_insert_only(admin_db):
    """No UPDATE or DELETE grant for the triggers to stop: the grants themselves are missing."""
    assert audit.privileges(admin_db, "rovn_app") == {"SELECT", "INSERT"}


def test_audit_log_belongs_to_an_owner_nobody_logs_in_as(admin_db):
    owner, can_login = admin_db.execute(
        "SELECT r.rolname, r.rolcanlogin FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
        "WHERE c.relname = 'audit_log'").fetchone()
    assert owner == "rovn_audit_owner" and not can_login


def test_runtime_role_cannot_disable_the_triggers(app_db):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_db.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")


def test_a_row_the_database_cannot_take_is_kept_then_written_in_order(fresh, tmp_path, monkeypatch):
    """Issue 20 class 7: audit_log unreachable mid-run; the row is kept, never lost, and
    written (with when it was kept) by the next command that reaches the database."""
    import psycopg

    from rovn_ops.audit import pending as audit_pending
    from rovn_ops.audit.log import AuditUnavailable

    monkeypatch.setenv("ROVN_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("ROVN_TARGET_ENV", "sandbox")
    gone = psycopg.connect(fresh["database_url"], autocommit=True)
    gone.close()
    for n in (1, 2):
        with pytest.raises(AuditUnavailable, match=f"the deploy row for svc-{n} \\(outcome success\\) is kept"):
            audit.append(gone, actor="user/claude-deploy", action="deploy", target=f"svc-{n}", outcome="success",
                         run_id=f"run-{n}", details={"n": n})
    assert len(audit_pending.kept()) == 2
    assert all(oct(p.stat().st_mode)[-3:] == "600" for p in audit_pending.kept())
    with psycopg.connect(fresh["database_url"], autocommit=True) as conn:
        assert audit.flush_pending(conn, "prod") == 0  # another environment's database takes none
        assert audit.flush_pending(conn, "sandbox") == 2
        rows = [r for r in audit.rows(conn, limit=5) if r["target"] in ("svc-1", "svc-2")]
        assert [r["target"] for r in sorted(rows, key=lambda r: r["id"])] == ["svc-1", "svc-2"]
        assert all(r["details"]["kept_while_unreachable_since"] for r in rows)
        assert audit.verify(conn).ok
    assert audit_pending.kept() == []
