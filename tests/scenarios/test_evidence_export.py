"""Issue 27, build 6 (finding 8: the CSV held change rows only, with no statement of
completeness): `rovn-ops evidence export` gives every run of a period, previews and refusals
too, each flagged change or not, and ends with a completeness statement (ledger sequence
range, gaps, the checkpoint hash covering it, how to verify). A run deleted from the bucket
makes the statement fail. S3 DeleteObject without a version id on a versioned (Object Lock)
bucket adds a delete marker; the locked versions stay
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectVersions.html)."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

from tests.conftest import rovn_ops

BUCKET = "rovn-evidence-archive"
TODAY = datetime.now(timezone.utc).date().isoformat()


def _export(*extra: str, env: dict | None = None):
    return rovn_ops("evidence", "export", "--from", TODAY, "--to", TODAY, *extra, env=env)


def test_the_whole_population_with_a_completeness_statement(fresh, evidence_dir):
    assert rovn_ops("run", "service_status", "--quiet").returncode == 0
    assert rovn_ops("run", "deploy", "--quiet").returncode == 0  # a preview
    refused = rovn_ops("run", "deploy", "--quiet", "-p", "confirm=true", "-p", "plan_hash=" + "0" * 64)
    assert refused.returncode == 3
    res = _export("--format", "json")
    assert res.returncode == 0, res.stdout + res.stderr
    data = json.loads(res.stdout)
    assert [r["outcome"] for r in data["runs"]] == ["success", "preview", "refused"]
    assert not any(r["change"] for r in data["runs"])
    c = data["completeness"]
    assert c["complete"] and c["runs"] == 3 and c["gaps"] == [] and c["problems"] == []
    assert c["ledger_seq_to"] - c["ledger_seq_from"] == 2 and len(c["checkpoint_hash"]) == 64
    assert c["verify"].startswith("rovn-ops evidence verify --bucket --env sandbox")
    text = _export().stdout
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0][:3] == ["run_id", "started_at", "environment"] and len([ln for ln in lines[1:4]]) == 3
    assert ["# completeness.complete", "True"] in lines


def test_a_run_deleted_from_the_bucket_fails_the_statement(fresh, aws, evidence_dir, tmp_path):
    for _ in range(3):
        assert rovn_ops("run", "service_status", "--quiet").returncode == 0
    auditor = {"ROVN_EVIDENCE_DIR": str(tmp_path / "auditor")}
    ok = _export("--bucket", "--format", "json", env=auditor)
    assert ok.returncode == 0 and json.loads(ok.stdout)["completeness"]["complete"], ok.stdout + ok.stderr
    s3 = aws("s3")
    middle = json.loads(ok.stdout)["runs"][1]["run_id"]
    for obj in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"runs/{middle}/")["Contents"]:
        s3.delete_object(Bucket=BUCKET, Key=obj["Key"])  # a delete marker over each locked object
    res = _export("--bucket", "--format", "json", env={"ROVN_EVIDENCE_DIR": str(tmp_path / "another")})
    assert res.returncode == 1, res.stdout + res.stderr
    c = json.loads(res.stdout)["completeness"]
    assert not c["complete"] and any(middle in p for p in c["problems"]), c
    assert c["statuses_from"].startswith(f"s3://{BUCKET}")


def test_a_bad_period_is_bad_input(fresh, evidence_dir):
    for args in (["--from", "2026-13-01", "--to", TODAY], ["--from", TODAY, "--to", "2020-01-01"]):
        res = rovn_ops("evidence", "export", *args)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr


def test_export_and_reconcile_take_the_same_period_forms(fresh, evidence_dir):
    """One rule for --from/--to in `evidence export` and `evidence reconcile` (evidence/period.py):
    a UTC date (the whole day) or an ISO 8601 instant; anything else is bad input, one line, exit 2.
    reconcile took a date only, so its default of "the last 24 hours" could not be asked for by hand."""
    import time

    assert rovn_ops("run", "service_status", "--quiet").returncode == 0
    time.sleep(1.1)  # run ids are to the second
    cut = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    time.sleep(1.1)
    assert rovn_ops("run", "service_status", "--quiet").returncode == 0
    after = json.loads(rovn_ops("evidence", "export", "--from", cut, "--to", TODAY, "--format", "json").stdout)
    before = json.loads(rovn_ops("evidence", "export", "--from", TODAY, "--to", cut, "--format", "json").stdout)
    assert len(after["runs"]) == 1 and len(before["runs"]) == 1, (after, before)
    assert after["runs"][0]["run_id"] > cut.replace("-", "").replace(":", "") > before["runs"][0]["run_id"]
    assert after["period"]["from"] == cut and after["completeness"]["complete"], after["completeness"]
    rec = rovn_ops("evidence", "reconcile", "--from", cut, "--json")
    assert rec.returncode in (0, 1), rec.stdout + rec.stderr
    assert json.loads(rec.stdout)["period"]["from"].startswith(cut[:19]), rec.stdout
    for command in ("export", "reconcile"):
        for bad in (["--from", "2026-12-07T25:00:00Z", "--to", TODAY], ["--from", TODAY, "--to", "yesterday"]):
            res = rovn_ops("evidence", command, *bad)
            assert res.returncode == 2 and "expected a date YYYY-MM-DD or an ISO 8601 time" in res.stderr, res.stderr
            assert bad[1 if bad[1] != TODAY else 3][:10] in res.stderr and res.stderr.count("\n") == 1, res.stderr
        late = rovn_ops("evidence", command, "--from", cut, "--to", cut)
        assert late.returncode == 2 and "is not before --to" in late.stderr, late.stderr


def _drata_received(sandbox: dict) -> dict:
    import urllib3

    base = sandbox["drata_url"].rsplit("/public/v2", 1)[0]
    return json.loads(urllib3.request("GET", f"{base}/_sandbox/received", timeout=10).data)


def test_the_population_is_filed_in_drata_and_its_key_goes_nowhere_else(fresh, aws, evidence_dir):
    """Issue 27, build 6: the export is sent to Drata as custom evidence through Drata's public
    API v2 (tag Evidence: POST /workspaces/{id}/evidence-files, then POST /workspaces/{id}/evidence
    naming the fileKey; GET /workspaces/{id}/evidence?name= to find it again), here the sandbox's
    stub of it (rovn_sandbox/drata_stub.py). The item carries the completeness statement, a re-run
    files nothing twice, and the API key (secret:rovn/prod/drata-api-token) is in nothing a run leaves."""
    import psycopg

    assert rovn_ops("run", "service_status", "--quiet").returncode == 0
    assert rovn_ops("run", "deploy", "--quiet").returncode == 0  # a preview
    res = _export("--bucket", "--drata", "--format", "json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Drata: custom evidence 1 filed" in res.stderr, res.stderr
    data = json.loads(res.stdout)
    got = _drata_received(fresh)
    [item] = got["evidence"]
    c = data["completeness"]
    assert item["name"].startswith(f"Rovn change population sandbox {TODAY}..{TODAY}")
    assert c["checkpoint_hash"][:16] in item["name"]
    assert "complete: true" in item["description"] and f"checkpoint hash: {c['checkpoint_hash']}" in item["description"]
    assert f"ledger sequence: {c['ledger_seq_from']}..{c['ledger_seq_to']}" in item["description"]
    [artifact] = item["artifacts"]
    assert artifact["type"] == "S3_FILE" and artifact["filedAt"] == TODAY
    filed = json.loads(got["files"][artifact["fileKey"]])
    assert filed["completeness"] == c and [r["run_id"] for r in filed["runs"]] == [r["run_id"] for r in data["runs"]]
    # a re-run (after a crash, or twice by hand) finds the item by its name and sends nothing
    again = _export("--bucket", "--drata", "--format", "json")
    assert again.returncode == 0 and "already holds this population" in again.stderr, again.stderr
    assert len(_drata_received(fresh)["evidence"]) == 1
    # the key: in no output, no evidence file, no audit_log row, nothing Drata was sent
    key = aws("secretsmanager").get_secret_value(SecretId="rovn/prod/drata-api-token")["SecretString"]
    for text in (res.stdout, res.stderr, again.stdout, again.stderr, json.dumps(_drata_received(fresh))):
        assert key not in text
    assert not [f for f in evidence_dir.rglob("*") if f.is_file() and key.encode() in f.read_bytes()]
    with psycopg.connect(fresh["database_url"]) as conn:
        assert not conn.execute("SELECT id FROM audit_log WHERE details::text LIKE %s", [f"%{key}%"]).fetchall()


def test_the_statement_says_what_evidence_verify_says(fresh, evidence_dir):
    """Session 6's attack review, LOW 3: an export of this directory said `complete: True`,
    no problems, while `evidence verify` of the same directory said NOT OK (an approval record
    no registered key signed, written with the database credential). The statement now carries
    verify's problems of the period's runs and of audit_log."""
    from tests.scenarios.test_approval_records import _forge

    assert rovn_ops("run", "service_status", "--quiet").returncode == 0
    assert _export("--format", "json").returncode == 0
    _forge(fresh["database_url"], {"plan_hash": "ab" * 32, "approver": "mallory", "ticket": "CHG-9", "env": "sandbox",
                                   "identity": {"arn": "arn:aws:iam::123456789012:user/mallory"}})
    verify = rovn_ops("evidence", "verify")
    assert verify.returncode == 1 and "mallory" in verify.stdout, verify.stdout
    for where in ((), ("--bucket",)):
        res = _export("--format", "json", *where)
        assert res.returncode == 1, res.stdout + res.stderr
        c = json.loads(res.stdout)["completeness"]
        assert not c["complete"] and any("evidence verify:" in p and "mallory" in p for p in c["problems"]), c
