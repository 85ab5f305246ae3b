"""The real migrations folder, as it is: a database the platform's own runner migrated
(here: the sample set applied by a plain psql loop, no schema_migrations) is adopted by
`rovn-ops migrations baseline`, verified, and then deployed with one new migration."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import psycopg

from rovn_ops.migrations import files
from tests.conftest import commit_source, rovn_ops
from tests.scenarios.test_deploy import SHIFT_NOTES, _manifest, _notebook, preview_then_execute

TABLES = ("shift_requests", "facility_contacts", "credentials", "workers", "facilities", "schema_migrations")


def _as_the_old_runner_left_it(fresh) -> None:
    """No schema_migrations; every sample file applied by psql, in the folder's order."""
    with psycopg.connect(fresh["admin_database_url"], autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {', '.join(TABLES)} CASCADE")
    url = fresh["admin_database_url"].replace("postgres:@", "postgres@")
    for m in files.discover(Path(fresh["migrations_dir"])):
        subprocess.run(["psql", "-q", "-X", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", str(m.path)],
                       check=True, capture_output=True, text=True)


def _baseline(*extra: str) -> subprocess.CompletedProcess:
    return rovn_ops("migrations", "baseline", "--quiet", *extra)


def _recorded(fresh) -> dict:
    with psycopg.connect(fresh["admin_database_url"]) as conn:
        return {r[0]: r[1:] for r in conn.execute("SELECT name, checksum, baselined FROM schema_migrations")}


def test_psql_loop_then_baseline_verify_and_a_deploy_with_one_new_migration(fresh, aws, evidence_dir):
    _as_the_old_runner_left_it(fresh)
    before = rovn_ops("migrations", "verify")
    assert before.returncode == 0 and "0 applied, 13 pending" in before.stdout  # nothing known yet
    preview = _baseline()
    assert preview.returncode == 0, preview.stdout + preview.stderr
    m = _manifest(evidence_dir, "migrations_baseline")
    assert m["outcome"] == "preview" and _recorded(fresh) == {}
    assert "2026_04_14_audit_log_harden.sql" in _notebook(m)
    done = _baseline("-p", "confirm=true", "-p", "approved_by=giles", "-p", f"plan_hash={m['plan_hash']}")
    assert done.returncode == 0, done.stdout + done.stderr
    recorded = _recorded(fresh)
    ordered = files.discover(Path(fresh["migrations_dir"]))
    assert recorded == {f.name: (f.checksum, True) for f in ordered}
    with psycopg.connect(fresh["database_url"]) as conn:
        [(details,)] = conn.execute("SELECT details FROM audit_log WHERE action = 'migrations baseline' "
                                    "AND outcome = 'success'").fetchall()
    assert [b["name"] for b in details["baselined"]] == [f.name for f in ordered]
    after = rovn_ops("migrations", "verify")
    assert after.returncode == 0 and "13 applied, 0 pending" in after.stdout, after.stdout
    (Path(fresh["migrations_dir"]) / "0013_shift_request_notes.sql").write_text(SHIFT_NOTES)
    commit_source(fresh, "0013: shift request notes")
    run = preview_then_execute()
    assert run.returncode == 0, run.stdout + run.stderr
    assert _manifest(evidence_dir)["facts"]["migrations"] == ["0013_shift_request_notes.sql"]
    assert _recorded(fresh)["0013_shift_request_notes.sql"][1] is False  # applied by this suite


def test_a_schema_that_disagrees_with_the_files_is_refused(fresh, evidence_dir):
    _as_the_old_runner_left_it(fresh)
    with psycopg.connect(fresh["admin_database_url"], autocommit=True) as conn:
        conn.execute("ALTER TABLE workers DROP COLUMN npi")           # a file added it
        conn.execute("ALTER TABLE facility_contacts ADD COLUMN fax text")  # a file dropped it
        conn.execute("ALTER TABLE shift_requests ADD COLUMN notes text")   # no file made it
    run = _baseline()
    assert run.returncode == 3, run.stdout + run.stderr  # refused at the preview
    error = _manifest(evidence_dir, "migrations_baseline")["error"]
    for named in ("column workers.npi (added by 0011_add_worker_npi.sql) does not exist",
                  "index workers_npi_idx (created by 0011_add_worker_npi.sql) does not exist",
                  "column facility_contacts.fax (dropped by 0010_facility_contacts_drop_fax.sql) still exists",
                  "column shift_requests.notes exists but no file creates it"):
        assert named in error, (named, error)
    assert _recorded(fresh) == {}
