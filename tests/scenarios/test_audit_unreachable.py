"""PostgreSQL gone during a deploy's bake (issue 20, class 7): the run says what it knows
(the deploy's outcome, from its verify of ECS), keeps the audit row and its evidence,
exits 1 with one line and no traceback; the next rovn-ops command after the database is
back writes the row and archives the run."""
from __future__ import annotations

import json

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.conftest import rovn_ops
from tests.scenarios.test_deploy import _deploy_rows, _service, previewed
from tests.scenarios.test_deploy_resume import _start, _wait


def _database_down(admin_url: str, dbname: str, down: bool) -> None:
    """No connection to `dbname` (the existing ones ended, new ones refused), or back."""
    with psycopg.connect(make_conninfo(admin_url, dbname="postgres"), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS {"false" if down else "true"}')
        if down:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [dbname])


def test_the_database_killed_during_the_bake_keeps_the_row_and_writes_it_when_back(fresh, aws, evidence_dir):
    dbname = conninfo_to_dict(fresh["database_url"])["dbname"]
    args = previewed("-p", "bake_s=4")
    before = set(evidence_dir.glob("*/*/manifest.json"))  # the preview's
    progress: list[str] = []
    proc = _start(args, progress)
    try:
        _wait(proc, lambda: any("bake: watching" in line for line in progress), "the bake")
        _database_down(fresh["admin_database_url"], dbname, True)
        proc.wait(timeout=180)
        gap = rovn_ops("evidence", "verify", "--offline")  # still down: the gap shows
    finally:
        _database_down(fresh["admin_database_url"], dbname, False)
    assert gap.returncode == 1 and "gap: its deploy audit_log row (outcome success)" in gap.stdout, gap.stdout + gap.stderr
    assert "gap: the run is spooled, not archived yet" in gap.stdout and "Traceback" not in gap.stderr
    out = "".join(progress)
    assert proc.returncode == 1, out
    assert "Traceback" not in out and "psycopg" not in out.replace("psycopg.", ""), out[-3000:]
    assert "audit_log is unreachable" in out and "the deploy row for rovn-passport-api (outcome success)" in out
    assert _service(aws)["taskDefinition"].endswith(":289")  # the deploy itself went through
    kept = list((evidence_dir / ".spool" / ".audit-pending").glob("*.json"))
    assert len(kept) == 1 and json.loads(kept[0].read_text())["outcome"] == "success"
    assert set(evidence_dir.glob("*/*/manifest.json")) == before  # not archived: it could not be anchored
    # the database is back: the next command writes the row and archives the run
    listed = rovn_ops("evidence", "list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    [row] = _deploy_rows(fresh["database_url"])
    assert row["outcome"] == "success" and row["details"]["kept_while_unreachable_since"]
    assert not list((evidence_dir / ".spool" / ".audit-pending").glob("*.json"))
    [archived] = set(evidence_dir.glob("*/*/manifest.json")) - before
    m = json.loads(archived.read_text())
    assert m["runbook"] == "deploy" and row["run_id"] == m["run_id"]
    verify = rovn_ops("evidence", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
