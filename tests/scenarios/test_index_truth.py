"""Issue 27, finding 10: the index can look clean when it isn't.

- statuses came from an offline check of the local directory, so a run whose bucket
  manifest was overwritten (a second Object Lock version) showed "signed intact":
  `evidence index --bucket` takes them from the bucket and audit_log, and the page says
  which source it checked;
- a run directory copied under a new id showed as a second "signed intact" change;
- retention (COMPLIANCE, 2,555 days) was not shown;
- nothing linked a preview to its execution.
S3 keeps each PutObject to a versioned (Object Lock) bucket as a new version:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from rovn_ops.evidence import index
from tests.conftest import rovn_ops
from tests.scenarios.test_approval_records import as_person
from tests.scenarios.test_deploy import _manifest

BUCKET = "rovn-evidence-archive"


def _page_rows(page: Path) -> list[dict]:
    text = page.read_text()
    return json.loads(text.split("const RUNS = ", 1)[1].split(";\nconst $", 1)[0])


def test_statuses_come_from_the_bucket_with_bucket(fresh, aws, evidence_dir):
    assert rovn_ops("run", "service_status", "--quiet").returncode == 0
    m = _manifest(evidence_dir, "service_status")
    key = f"runs/{m['run_id']}/manifest.json"
    s3 = aws("s3")
    forged = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()) | {"outcome": "failed"}
    head = s3.head_object(Bucket=BUCKET, Key=key)
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(forged).encode(), ObjectLockMode="COMPLIANCE",
                  ObjectLockRetainUntilDate=head["ObjectLockRetainUntilDate"])
    offline = rovn_ops("evidence", "index")
    assert offline.returncode == 0 and "statuses from this directory only" in offline.stdout
    [row] = _page_rows(evidence_dir / "index.html")
    assert row["verified"] == "intact"  # the local copy alone cannot see it: and the page says so
    assert "this directory only" in (evidence_dir / "index.html").read_text()
    online = rovn_ops("evidence", "index", "--bucket")
    assert online.returncode == 0, online.stdout + online.stderr
    [row] = _page_rows(evidence_dir / "index.html")
    assert row["verified"].startswith("NOT OK") and f"s3://{BUCKET}/{key}" in row["verified"], row["verified"]
    assert f"the bucket s3://{BUCKET}" in (evidence_dir / "index.html").read_text()


def test_a_copied_run_directory_is_flagged_and_retention_is_shown(fresh, evidence_dir):
    assert rovn_ops("run", "service_status", "--quiet").returncode == 0
    m = _manifest(evidence_dir, "service_status")
    run_dir = Path(m["notebook"]["path"]).parent
    shutil.copytree(run_dir, run_dir.parent / (m["run_id"][:-6] + "c0ffee"))
    rows = index.rows(evidence_dir)
    assert len(rows) == 2
    [copy] = [r for r in rows if r["duplicate"]]
    assert "a copy" in copy["duplicate"] and copy["verified"].startswith("NOT OK")
    [real] = [r for r in rows if not r["duplicate"]]
    assert real["verified"] == "intact"
    assert real["retention"].startswith("COMPLIANCE until ") and real["retention"].endswith("(2555 days)")


def test_an_execution_links_to_its_preview(fresh, evidence_dir):
    assert rovn_ops("run", "deploy", "--quiet").returncode == 0
    preview = _manifest(evidence_dir)
    assert rovn_ops("approve", preview["plan_hash"], env=as_person("giles")).returncode == 0
    done = rovn_ops("run", "deploy", "--quiet", "-p", "confirm=true", "-p", f"plan_hash={preview['plan_hash']}")
    assert done.returncode == 0, done.stdout + done.stderr
    executed = _manifest(evidence_dir)
    rows = {r["run_id"]: r for r in index.rows(evidence_dir)}
    assert rows[executed["run_id"]]["preview_run"] == preview["run_id"]
    assert rows[preview["run_id"]]["executed_by"] == [executed["run_id"]]
