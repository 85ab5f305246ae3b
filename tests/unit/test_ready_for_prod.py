"""Rules that let the suite meet Rōvn's real account and repositories: the migrations
folder as it is (hotfix placement from configuration, baseline's replay, audit_log's
append-only behaviour), snapshot ownership, and a zip's provenance in prod."""
from __future__ import annotations

import io
import zipfile
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from rovn_ops.protocol import checks
from rovn_ops.deploy import provenance, source
from rovn_ops.clients.github import GitHub
from rovn_ops.core.errors import BadInput
from rovn_ops.migrations import append_only, baseline, files, retention, snapshot
from rovn_sandbox import database
from tests.unit.test_migrations import SAMPLE, apply, mdir, scratch  # noqa: F401 (fixtures)


def test_the_hotfix_is_placed_by_configuration_without_a_header():
    hotfix = files.load(SAMPLE / "2026_04_14_audit_log_harden.sql")
    assert hotfix.after is None  # the platform's file, unedited
    names = [m.name for m in files.discover(SAMPLE)]
    assert names[names.index("2026_04_14_audit_log_harden.sql") - 1] == "0009_create_shift_requests.sql"


def test_configuration_and_header_must_agree(mdir):  # noqa: F811
    sql = (mdir / "2026_04_14_audit_log_harden.sql").read_text()
    (mdir / "2026_04_14_audit_log_harden.sql").write_text("-- rovn:after 0003_create_credentials.sql\n" + sql)
    with pytest.raises(BadInput, match="expected one place"):
        files.discover(mdir)
    assert files.discover(mdir, placement={})[3].name == "2026_04_14_audit_log_harden.sql"  # the header alone


def test_baseline_replays_the_files():
    want = baseline.expected(files.discover(SAMPLE))
    assert "npi" in want.tables["workers"] and "fax" not in want.tables["facility_contacts"]
    assert want.dropped_columns[("facility_contacts", "fax")] == "0010_facility_contacts_drop_fax.sql"
    assert want.indexes["workers_email_key"] == "0008_workers_email_unique.sql"
    assert any("2026_04_14_audit_log_harden.sql" in u for u in want.unchecked)  # functions, triggers: not compared


def test_append_only_is_judged_by_behaviour_not_names(scratch, mdir):  # noqa: F811
    with psycopg.connect(scratch, autocommit=True) as conn:
        assert append_only.problems(conn) == []  # empty: row triggers, any name
    apply(scratch, mdir)  # writes audit rows
    with psycopg.connect(scratch, autocommit=True) as conn:
        before = conn.execute("SELECT count(*), max(row_hash) FROM audit_log").fetchone()
        for old, new in [("audit_log_no_update_delete", "platform_immutable"), ("audit_log_no_truncate", "x_trunc")]:
            conn.execute(f"ALTER TRIGGER {old} ON audit_log RENAME TO {new}")
        assert append_only.problems(conn) == []
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER platform_immutable")
        found = append_only.problems(conn)
        assert found == ["audit_log accepts UPDATE (tried and rolled back): it is not append-only",
                         "audit_log accepts DELETE (tried and rolled back): it is not append-only"]
        assert conn.execute("SELECT count(*), max(row_hash) FROM audit_log").fetchone() == before  # probes left nothing


def _snap(sid: str, age: int, **tags) -> retention.Snap:
    return retention.Snap(sid, f"arn:{sid}", datetime.now(timezone.utc) - timedelta(days=age), "available", tags)


def _ours(stem: str, age: int, expires_in: int = -1) -> retention.Snap:
    created = datetime.now(timezone.utc) - timedelta(days=age)
    return retention.Snap(snapshot.snapshot_id(stem, created), "arn", created, "available", {
        snapshot.TAG_MIGRATION: stem, snapshot.TAG_RUN: "r",
        snapshot.TAG_EXPIRES: (datetime.now(timezone.utc) + timedelta(days=expires_in)).isoformat()})


def test_snapshot_ownership_and_expiry():
    now = datetime.now(timezone.utc)
    assert _ours("0010_x", 120).ours and _ours("0010_x", 120).expired(now)
    assert not _ours("0010_x", 30).expired(now)
    assert not _ours("0010_x", 120, expires_in=10).expired(now)  # its own tag says later
    assert not _ours("0010_x", 30, expires_in=-60).expired(now)  # a tag moved earlier cannot age it
    forged = _snap("before-upgrade", 200, **{snapshot.TAG_MIGRATION: "0010_x", snapshot.TAG_RUN: "r",
                                             snapshot.TAG_EXPIRES: "2020-01-01T00:00:00+00:00"})
    assert not forged.ours and "not taken by this suite" in forged.why_kept(now)


def _zip(tmp_path, comment: bytes = b"", manifest: str = "") -> source.Source:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("Dockerfile", "FROM x\n")
        if manifest:
            z.writestr(source.ZIP_MANIFEST, manifest)
        z.comment = comment
    path = tmp_path / "s.zip"
    path.write_bytes(buf.getvalue())
    return source.Source.open(str(path))


def test_a_zip_carries_its_commit_or_is_refused_in_prod(tmp_path):
    sha = "a" * 40
    assert _zip(tmp_path, comment=sha.encode()).commit == sha
    assert _zip(tmp_path, manifest=f'{{"commit": "{sha}"}}').commit == sha
    bare = _zip(tmp_path)
    assert bare.commit == ""
    unreachable = GitHub("http://127.0.0.1:9", "rovn/rovn-platform", lambda: "t")
    for env, verdict in (("prod", checks.FAIL), ("sandbox", checks.WARN)):
        found = checks.Checks()
        prov = provenance.check(found, bare, unreachable, env)
        assert prov.commit == "" and [c.verdict for c in found.items] == [verdict]
        assert "a zip without its commit" in found.items[0].detail
