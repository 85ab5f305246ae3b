"""§3's pre-migration snapshots as RDS keeps them (issue 29, point 2), against the
sandbox's RDS: DescribeDBSnapshots pages (100 at most, then a Marker), each migration
deploy takes its own snapshot (a 30-day-old one for the same file is not "preceding"
it), and any file name becomes a valid DBSnapshotIdentifier.

DescribeDBSnapshots (MaxRecords 20-100, default 100; Marker):
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBSnapshots.html
CreateDBSnapshot (1-255 letters, digits, hyphens; first a letter; no `--`, no trailing hyphen):
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSnapshot.html
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from rovn_ops.migrations import retention, snapshot
from tests.unit.test_migrations import apply, mdir, rds, scratch  # noqa: F401 - fixtures

INSTANCE = "rovn-prod-db"
VALID = re.compile(r"(?!.*--)[A-Za-z][A-Za-z0-9-]{0,254}(?<!-)")


def test_a_page_of_100_and_one_more(rds):  # noqa: F811
    seeded = len(snapshot.manual(rds, INSTANCE))
    for i in range(101 - seeded):
        rds.create_db_snapshot(DBSnapshotIdentifier=f"hand-made-{i:03d}", DBInstanceIdentifier=INSTANCE)
    now = datetime.now(timezone.utc)
    sid = snapshot.snapshot_id("0099_last_on_page_two", now)
    rds.create_db_snapshot(DBSnapshotIdentifier=sid, DBInstanceIdentifier=INSTANCE, Tags=[
        {"Key": snapshot.TAG_MIGRATION, "Value": "0099_last_on_page_two"},
        {"Key": snapshot.TAG_RUN, "Value": "run-page-two"}, {"Key": snapshot.TAG_EXPIRES, "Value": "2099-01-01"}])
    first = rds.describe_db_snapshots(DBInstanceIdentifier=INSTANCE, SnapshotType="manual")
    assert len(first["DBSnapshots"]) == 100 and first["Marker"]  # RDS's page, as documented
    assert sid not in {s["DBSnapshotIdentifier"] for s in first["DBSnapshots"]}
    assert len(snapshot.manual(rds, INSTANCE)) == 102
    found = snapshot.find_reusable(rds, INSTANCE, "0099_last_on_page_two", now, "run-page-two")
    assert found and found.id == sid and found.reused
    assert sid in {s.id for s in retention.manual_snapshots(rds, INSTANCE)}


def test_each_migration_deploy_takes_its_own_snapshot(scratch, mdir, rds):  # noqa: F811
    """The sandbox holds m0012-workers-dob-index-…, taken for 0012 thirty days ago."""
    [old] = [s for s in snapshot.manual(rds, INSTANCE) if s["DBSnapshotIdentifier"].startswith("m0012-workers-dob")]
    apply(scratch, mdir, rds=rds, through="0011_add_worker_npi.sql")
    result = apply(scratch, mdir, rds=rds, through="0012_workers_dob_index.sql")
    assert not result.snapshot.reused and result.snapshot.id != old["DBSnapshotIdentifier"]
    assert result.snapshot.id in {s["DBSnapshotIdentifier"] for s in snapshot.manual(rds, INSTANCE)}


@pytest.mark.parametrize("stem", ["0014__double_underscore", "0015_trailing_", "0016 dots.and spaces",
                                  "0017_ünïcode_naïve", "__", "0018_" + "x" * 300 + "_y", "0019--dashes--"])
def test_odd_file_names_make_valid_snapshot_ids(stem, rds):  # noqa: F811
    sid = snapshot.snapshot_id(stem, datetime(2026, 12, 7, 3, 4, 5, tzinfo=timezone.utc))
    assert VALID.fullmatch(sid) and len(sid) <= 255, sid
    assert sid.endswith("-20261207t030405z")
    rds.create_db_snapshot(DBSnapshotIdentifier=sid, DBInstanceIdentifier=INSTANCE)  # RDS (moto) accepts it
