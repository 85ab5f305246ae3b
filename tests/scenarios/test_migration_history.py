"""Issue 20, class 2, the example: rovn_app (the runbooks' role) could UPDATE, DELETE and
INSERT schema_migrations, and so make the §7 gate ("did the prior deploy run a
migration?") say no. Now it cannot write the ledger at all, and a history someone who
can (the owner, a superuser) rewrites is named by `rovn-ops migrations verify`, row by
row against audit_log, the source of truth."""
import psycopg
import pytest

from tests.conftest import rovn_ops

HIDE = "UPDATE schema_migrations SET applied_at = applied_at - interval '400 days' WHERE name = %s"
BREAKING = "0010_facility_contacts_drop_fax.sql"


def test_the_runtime_role_cannot_hide_a_migration_and_a_rewritten_row_is_named(fresh, app_db, admin_db):
    for forgery, args in ((HIDE, [BREAKING]), ("DELETE FROM schema_migrations WHERE name = %s", [BREAKING])):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app_db.execute(forgery, args)
    assert rovn_ops("migrations", "verify").returncode == 0
    row = admin_db.execute("SELECT max(id) FROM audit_log WHERE action = 'migration' AND target = %s",
                           [BREAKING]).fetchone()[0]
    admin_db.execute(HIDE, [BREAKING])
    res = rovn_ops("migrations", "verify")
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"{BREAKING}: schema_migrations disagrees with audit_log row {row} (applied_at" in res.stdout
    admin_db.execute("GRANT INSERT ON schema_migrations TO rovn_app")  # a grant drifts
    res = rovn_ops("migrations", "verify")
    assert "role rovn_app can INSERT schema_migrations: only the migration role writes it" in res.stdout
