"""`rovn-ops run migration_reversal` end to end in the sandbox."""
import json
import re
from pathlib import Path

import psycopg

from rovn_ops.audit import log as audit
from rovn_ops.migrations import engine
from rovn_sandbox.github import git as reversal_git
from tests.conftest import commit_reversal, rovn_ops


def _manifest(evidence: Path) -> dict:
    runs = sorted(evidence.glob("*/*/manifest.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(runs[-1].read_text())


def _has_column(url, table, column) -> bool:
    with psycopg.connect(url) as conn:
        return bool(conn.execute("SELECT 1 FROM information_schema.columns WHERE table_name = %s "
                                 "AND column_name = %s", [table, column]).fetchone())


def test_reverse_add_column_end_to_end(fresh, evidence_dir):
    mdir = Path(fresh["migrations_dir"])
    preview = rovn_ops("run", "migration_reversal", "--quiet")
    assert preview.returncode == 0, preview.stderr
    m = _manifest(evidence_dir)
    assert m["outcome"] == "preview" and m["audit_log_ids"] == []
    nb = Path(m["notebook"]["path"]).read_text()
    assert "DROP COLUMN IF EXISTS npi" in nb and "DROP INDEX IF EXISTS workers_npi_idx" in nb
    assert "| workers | npi | 2 |" in nb  # the rows that would lose data
    assert not (mdir / "0013_reverse_add_worker_npi.sql").exists() and _has_column(fresh["database_url"], "workers", "npi")
    plan_hash = re.search(r"plan_hash=([0-9a-f]{64})", nb).group(1)

    # The previewed plan, approved, is still not applied straight from the preview (§7): the
    # file must be committed to the migrations repository first (issue 29).
    direct = rovn_ops("run", "migration_reversal", "--quiet", "-p", "confirm=true", "-p", "approved_by=giles",
                      "-p", f"plan_hash={plan_hash}")
    assert direct.returncode == 3 and "never straight from the preview" in direct.stdout, direct.stdout
    assert _manifest(evidence_dir)["outcome"] == "refused"
    assert not (mdir / "0013_reverse_add_worker_npi.sql").exists() and _has_column(fresh["database_url"], "workers", "npi")
    written = commit_reversal(fresh)
    written.write_text(written.read_text() + "DROP TABLE IF EXISTS workers;\n")  # edited after the commit
    edited = rovn_ops("run", "migration_reversal", "--quiet", "-p", "confirm=true", "-p", "approved_by=giles",
                      "-p", f"plan_hash={plan_hash}")
    assert edited.returncode == 3 and "differs from its committed version" in edited.stdout, edited.stdout
    reversal_git(mdir, "checkout", "--", written.name)
    preview = rovn_ops("run", "migration_reversal", "--quiet")  # the committed file's plan
    assert preview.returncode == 0, preview.stderr
    plan_hash = re.search(r"plan_hash=([0-9a-f]{64})", Path(_manifest(evidence_dir)["notebook"]["path"]).read_text()).group(1)

    stale = rovn_ops("run", "migration_reversal", "--quiet", "-p", "confirm=true", "-p", "approved_by=giles",
                     "-p", "plan_hash=" + "0" * 64)
    assert stale.returncode == 3 and "does not match today's plan" in stale.stdout
    assert _manifest(evidence_dir)["outcome"] == "refused"
    assert _has_column(fresh["database_url"], "workers", "npi")

    run = rovn_ops("run", "migration_reversal", "--quiet", "-p", "confirm=true", "-p", "approved_by=giles",
                   "-p", f"plan_hash={plan_hash}")
    assert run.returncode == 0, run.stdout + run.stderr
    m = _manifest(evidence_dir)
    assert m["outcome"] == "success" and m["approvals"][0]["approvers"] == ["giles"]
    assert m["approvals"][0]["plan_hash"] == plan_hash
    assert m["acted_on"] == [{"action": "migration_reversal", "target": "0011_add_worker_npi.sql", "outcome": "success",
                              "file": "0013_reverse_add_worker_npi.sql", "snapshot": m["acted_on"][0]["snapshot"]}]
    assert m["acted_on"][0]["snapshot"].startswith("m0013-reverse-add-worker-npi-")
    generated = mdir / "0013_reverse_add_worker_npi.sql"
    [artifact] = [f for f in m["files"] if f["kind"] == "artifact"]
    kept = Path(m["notebook"]["path"]).parent / artifact["path"]
    assert generated.exists() and kept.name == generated.name and kept.read_text() == generated.read_text()
    assert not _has_column(fresh["database_url"], "workers", "npi")
    with psycopg.connect(fresh["admin_database_url"]) as conn:
        report = engine.verify(conn, mdir)
        assert report.ok and report.pending == []
        rows = {r["id"]: r for r in audit.rows(conn)}
        written = [rows[i] for i in m["audit_log_ids"]]  # every row the run wrote, in order
        assert [(r["action"], r["target"], r["outcome"]) for r in written] == [
            ("migration", generated.name, "applied"),
            ("migration_reversal", "0011_add_worker_npi.sql", "success")]
        assert written[0]["details"]["snapshot"].startswith("m0013-reverse")


def test_reverse_drop_column_is_refused_with_the_restore_path(fresh, evidence_dir):
    res = rovn_ops("run", "migration_reversal", "--quiet", "-p", "migration=0010_facility_contacts_drop_fax.sql")
    assert res.returncode == 3
    m = _manifest(evidence_dir)
    assert m["outcome"] == "refused"
    assert "cannot be reversed by a forward migration" in m["error"]
    assert "restore" in m["error"] and "rds restore-db-instance-from-db-snapshot" in Path(m["notebook"]["path"]).read_text()
    assert not list(Path(fresh["migrations_dir"]).glob("0013_*"))


def test_migrations_cli_status_verify(fresh):
    res = rovn_ops("migrations", "status")
    assert res.returncode == 0 and "13 applied, 0 pending" in res.stdout
    assert rovn_ops("migrations", "verify").returncode == 0
