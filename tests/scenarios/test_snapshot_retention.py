"""§3: pre-migration snapshots are kept 90 days. The snapshot_retention runbook deletes
the suite's expired ones after confirmation, and keeps a younger one and one the
suite did not take (the sandbox world seeds all three)."""
from __future__ import annotations

import json

from tests.scenarios.test_deploy import _deploy_rows, _manifest, _notebook, preview_then_execute


def _ids(aws) -> set[str]:
    snaps = aws("rds").describe_db_snapshots(DBInstanceIdentifier="rovn-prod-db", SnapshotType="manual")
    return {s["DBSnapshotIdentifier"] for s in snaps["DBSnapshots"]}


def test_the_expired_suite_snapshot_is_deleted_the_others_kept(fresh, aws, evidence_dir):
    before = _ids(aws)
    [expired] = [i for i in before if i.startswith("m0010-facility-contacts-drop-fax-")]
    [young] = [i for i in before if i.startswith("m0012-workers-dob-index-")]
    assert "rovn-prod-db-before-pg15-upgrade" in before
    run = preview_then_execute(runbook="snapshot_retention")
    assert run.returncode == 0, run.stdout + run.stderr
    assert _ids(aws) == before - {expired}
    [row] = _deploy_rows(fresh["database_url"], action="snapshot retention")
    assert row["outcome"] == "success" and [d["id"] for d in row["details"]["deleted"]] == [expired]
    kept = {k["id"]: k["why"] for k in row["details"]["kept"]}
    assert "not taken by this suite" in kept["rovn-prod-db-before-pg15-upgrade"] and "within 90 days" in kept[young]
    again = preview_then_execute(runbook="snapshot_retention")  # nothing left to delete
    assert again.returncode == 0 and _ids(aws) == before - {expired}


def test_the_preview_deletes_nothing(fresh, aws, evidence_dir):
    from tests.conftest import rovn_ops

    before = _ids(aws)
    assert rovn_ops("run", "snapshot_retention", "--quiet").returncode == 0
    m = _manifest(evidence_dir, "snapshot_retention")
    assert m["outcome"] == "preview" and _ids(aws) == before
    assert "m0010-facility-contacts-drop-fax-" in _notebook(m) and "| DELETE |" in _notebook(m)


def test_tags_copied_onto_a_hand_made_snapshot_do_not_make_it_ours(fresh, aws, evidence_dir):
    rds = aws("rds")
    old = rds.describe_db_snapshots(DBSnapshotIdentifier="rovn-prod-db-before-pg15-upgrade")["DBSnapshots"][0]
    rds.add_tags_to_resource(ResourceName=old["DBSnapshotArn"], Tags=[
        {"Key": "rovn:migration", "Value": "0001_create_workers"}, {"Key": "rovn:run-id", "Value": "forged"},
        {"Key": "rovn:expires-at", "Value": "2020-01-01T00:00:00+00:00"}])
    run = preview_then_execute(runbook="snapshot_retention")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "rovn-prod-db-before-pg15-upgrade" in _ids(aws)
    assert json.dumps(_deploy_rows(fresh["database_url"], action="snapshot retention")[0]["details"]["deleted"]) \
        .count('"id"') == 1
