"""Evidence no insider can rewrite alone: each edit below passed `evidence verify` before
the archive was anchored in audit_log and the bucket, with a pinned key. Each is now
caught, naming the run: offline where the files alone can show it, online always."""
import json
import shutil
from pathlib import Path

import psycopg
import pytest

from rovn_ops.evidence import ledger, signing
from tests.conftest import reverse_migration, rovn_ops
from tests.scenarios.test_evidence import archive, copy, verify  # noqa: F401 - fixtures: three runs, a copy

BUCKET = "rovn-evidence-archive"
PINNED = "91c968768de0d8765bcd4e1d914fffda8772c1332bffd9877405a119081a8369"


def entries(d: Path) -> list[dict]:
    return ledger.read(d)


def _cut_tail(d: Path, n: int) -> list[dict]:
    """Delete the last n runs and their ledger lines, as T8 does."""
    es = entries(d)
    for e in es[-n:]:
        shutil.rmtree(d / e["path"])
    (d / ledger.LEDGER_FILE).write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in es[:-n]))
    return es[-n:]


def test_intact_archive_verifies_everywhere(copy, tmp_path):
    res = verify(copy)
    assert res.returncode == 0 and "evidence OK: 3 runs" in res.stdout, res.stdout + res.stderr
    auditor = tmp_path / "auditor"  # an auditor with no operator's disk
    res = verify(auditor, "--bucket")
    assert res.returncode == 0 and "evidence OK: 3 runs" in res.stdout, res.stdout + res.stderr
    assert not auditor.exists()


@pytest.mark.parametrize("n", [1, 2], ids=["T8-last-run", "T8b-last-two-with-the-change"])
def test_the_tail_cut_with_its_ledger_lines(copy, n):
    removed = _cut_tail(copy, n)
    res = verify(copy)
    assert res.returncode == 1
    for e in removed:  # both the removed change and the run before it are named
        assert e["run_id"] in res.stdout, res.stdout
    assert f"first bad run {removed[0]['run_id']}" in res.stdout
    assert "audit_log holds ledger entry" in res.stdout and "bucket's ledger goes on" in res.stdout


def test_T12_a_middle_run_deleted_and_everything_re_signed_with_a_new_key(copy):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    es = entries(copy)
    shutil.rmtree(copy / es[1]["path"])
    kept, tip, lines = [es[0], es[2]], None, []
    for e in kept:
        new = ledger.make_entry(seq=len(lines) + 1, run_id=e["run_id"], path=e["path"],
                                manifest_sha256=e["manifest_sha256"], prev=tip["hash"] if tip else ledger.GENESIS,
                                chain=e["chain"], key=key)
        cp = ledger.make_checkpoint(entry=new, audit_head={"id": e["checkpoint"]["audit_log_id"],
                                                           "row_hash": e["checkpoint"]["audit_log_hash"]},
                                    at=e["checkpoint"]["at"], previous=tip["checkpoint"] if tip else None, key=key)
        tip = new | {"checkpoint": cp}
        (copy / e["path"] / "signature.json").write_text(json.dumps(tip))
        lines.append(json.dumps(tip, sort_keys=True))
    (copy / ledger.LEDGER_FILE).write_text("\n".join(lines) + "\n")
    signing.export_public(key, copy)
    res = verify(copy, "--offline")
    assert res.returncode == 1 and f"first bad run {es[0]['run_id']}" in res.stdout
    assert f"pins {PINNED}" in res.stdout
    res = verify(copy)
    assert res.returncode == 1 and es[1]["run_id"] in res.stdout  # audit_log and the bucket name the deleted run


def test_unlisted_files_in_a_run_directory(copy):
    es = entries(copy)
    (copy / es[2]["path"] / "approval.txt").write_text("approved by giles\n")
    (copy / es[2]["path"] / "artifacts").mkdir(exist_ok=True)
    (copy / es[2]["path"] / "artifacts" / "0013_evil.sql").write_text("DROP TABLE workers;\n")
    res = verify(copy, "--offline")
    assert res.returncode == 1 and f"first bad run {es[2]['run_id']}" in res.stdout
    assert "approval.txt is not in the manifest" in res.stdout
    assert "artifacts/0013_evil.sql is not in the manifest" in res.stdout


def test_the_region_parameter_never_mints_a_key(fresh, aws, evidence_dir):
    import boto3

    from rovn_ops.core.errors import RovnError

    res = rovn_ops("run", "service_status", "--quiet", "-p", "region=eu-west-1")
    assert res.returncode == 2 and "parameter 'region'" in res.stderr  # outside the environment's regions
    eu = boto3.client("secretsmanager", region_name="eu-west-1", endpoint_url=fresh["endpoint"],
                      aws_access_key_id=fresh["access_key_id"], aws_secret_access_key=fresh["secret_access_key"])
    with pytest.raises(RovnError, match="not found"):  # a region without the key: refused, never minted
        signing.private_key(eu, "rovn/sandbox/evidence-signing-key", "sandbox")
    assert eu.list_secrets()["SecretList"] == [] and signing.key_region("sandbox") == "us-east-2"
    assert rovn_ops("run", "service_status", "--quiet").returncode == 0  # the key of the environment's region
    pem = (evidence_dir / signing.PUBLIC_KEY_FILE).read_bytes()
    assert signing.key_id(signing.public_from_pem(pem, "exported")) == PINNED
    assert verify(evidence_dir).returncode == 0


def test_an_unpinned_signing_key_signs_nothing(fresh, aws, evidence_dir):
    """An insider who swaps the key in Secrets Manager gets no run signed with it."""
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption())
    aws("secretsmanager").put_secret_value(SecretId="rovn/sandbox/evidence-signing-key", SecretString=pem.decode())
    res = rovn_ops("run", "service_status", "--quiet")
    assert res.returncode == 1 and f"parameters/sandbox.yaml pins {PINNED}" in res.stderr
    assert "Traceback" not in res.stderr


# Tampering with the bucket or audit_log: each on a world of its own ---------------

@pytest.fixture
def one_run(fresh, evidence_dir):
    assert rovn_ops("run", "service_status", "--quiet").returncode == 0
    assert verify(evidence_dir).returncode == 0
    return evidence_dir


@pytest.fixture
def one_change(fresh, evidence_dir):
    reverse_migration({"ROVN_EVIDENCE_DIR": str(evidence_dir)})
    assert verify(evidence_dir).returncode == 0
    return evidence_dir


def test_a_forged_approval_as_a_second_version_of_a_locked_key(one_change, aws):
    one_run = one_change
    change = entries(one_run)[-1]
    s3 = aws("s3")
    key = f"runs/{change['run_id']}/manifest.json"
    m = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    m["approvals"][0]["approvers"] = ["christian"]
    head = s3.head_object(Bucket=BUCKET, Key=key)
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(m).encode(), ObjectLockMode="COMPLIANCE",
                  ObjectLockRetainUntilDate=head["ObjectLockRetainUntilDate"])
    for where in (one_run, one_run.parent / "auditor"):
        res = verify(where, *(["--bucket"] if where.name == "auditor" else []))
        assert res.returncode == 1 and f"first bad run {change['run_id']}" in res.stdout
        assert f"s3://{BUCKET}/{key} has 2 versions" in res.stdout


def test_the_same_bytes_written_again_verify_other_bytes_are_tampering(one_run, aws):
    """Machines racing for keys/<key id>.pem, or an upload retried after a kill, wrote
    locked objects twice before writes were conditional: the same bytes, which change
    nothing a reader sees. A forged key as a further version is still tampering."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    s3, tip = aws("s3"), entries(one_run)[-1]
    key = f"keys/{PINNED}.pem"
    again = [key, f"ledger/{tip['chain'][:16]}/{tip['seq']:010d}.json", f"runs/{tip['run_id']}/manifest.json"]
    for k in again:
        head = s3.head_object(Bucket=BUCKET, Key=k)
        s3.put_object(Bucket=BUCKET, Key=k, Body=s3.get_object(Bucket=BUCKET, Key=k)["Body"].read(),
                      ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=head["ObjectLockRetainUntilDate"])
    auditor = one_run.parent / "auditor"
    for where in (one_run, auditor):
        res = verify(where, *(["--bucket"] if where == auditor else []))
        assert res.returncode == 0 and "3 objects in the bucket were written again with the same bytes" in res.stdout, \
            res.stdout + res.stderr
    forged = signing.public_pem(Ed25519PrivateKey.generate())
    s3.put_object(Bucket=BUCKET, Key=key, Body=forged, ObjectLockMode="COMPLIANCE",
                  ObjectLockRetainUntilDate=s3.head_object(Bucket=BUCKET, Key=key)["ObjectLockRetainUntilDate"])
    for where in (one_run, auditor):
        res = verify(where, *(["--bucket"] if where == auditor else []))
        assert res.returncode == 1 and f"s3://{BUCKET}/{key} has 3 versions (a locked object was written again " \
                                       "with other bytes)" in res.stdout, res.stdout + res.stderr
    # A run that archives now finds its key there, written once for all: no new version.
    assert rovn_ops("run", "service_status", "--quiet").returncode == 0
    assert len([v for v in s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]]) == 3


def test_an_unlisted_file_added_in_the_bucket(one_run, aws):
    run = entries(one_run)[-1]["run_id"]
    aws("s3").put_object(Bucket=BUCKET, Key=f"runs/{run}/approval.txt", Body=b"approved")
    res = verify(one_run.parent / "auditor", "--bucket")
    assert res.returncode == 1 and f"first bad run {run}" in res.stdout and "approval.txt is not in the manifest" in res.stdout


def test_a_superuser_rewrites_audit_log_and_recomputes_the_chain(one_run, sandbox):
    """Every hash after the edited row recomputed, as a superuser can: the chain verifies,
    the checkpoint's head does not."""
    with psycopg.connect(sandbox["admin_database_url"], autocommit=True) as conn:
        target = conn.execute("SELECT id FROM audit_log ORDER BY id LIMIT 1 OFFSET 2").fetchone()[0]
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        conn.execute("UPDATE audit_log SET details = details || '{\"approvers\": [\"christian\"]}' WHERE id = %s",
                     [target])
        prev = conn.execute("SELECT row_hash FROM audit_log WHERE id < %s ORDER BY id DESC LIMIT 1",
                            [target]).fetchone()[0]
        for (row_id,) in conn.execute("SELECT id FROM audit_log WHERE id >= %s ORDER BY id", [target]).fetchall():
            prev = conn.execute("UPDATE audit_log a SET prev_hash = %s, row_hash = encode(sha256(convert_to("
                                "audit_log_payload(ROW(a.id, a.occurred_at, a.actor, a.action, a.target, a.outcome, "
                                "a.run_id, a.details, %s, '')::audit_log), 'UTF8')), 'hex') WHERE id = %s "
                                "RETURNING row_hash", [prev, prev, row_id]).fetchone()[0]
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
    assert rovn_ops("audit", "verify").returncode == 0  # the chain alone cannot tell
    res = verify(one_run)
    last = entries(one_run)[-1]["run_id"]
    assert res.returncode == 1 and "no longer hashes to what the latest checkpoint recorded" in res.stdout
    assert last in res.stdout


def test_audit_log_tail_deleted(one_run, sandbox):
    last = entries(one_run)[-1]
    with psycopg.connect(sandbox["admin_database_url"], autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        conn.execute("DELETE FROM audit_log WHERE id > %s", [last["checkpoint"]["audit_log_id"] - 2])
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
    assert rovn_ops("audit", "verify").returncode == 0  # a cut tail leaves an intact chain
    res = verify(one_run)
    assert res.returncode == 1 and last["run_id"] in res.stdout
    assert "has no evidence row in audit_log" in res.stdout and "is gone" in res.stdout


def test_a_forged_app_row_that_names_no_run(one_run, app_db):
    app_db.execute("INSERT INTO audit_log (actor, action, target, outcome, run_id, details) VALUES "
                   "('arn:aws:iam::123456789012:user/claude-deploy', 'deploy', 'rovn-passport-api', 'success', "
                   "'20261127T000000Z-deploy-forged1', '{\"approvers\": [\"giles\"]}')")
    res = verify(one_run)
    assert res.returncode == 1 and "20261127T000000Z-deploy-forged1" in res.stdout
    assert "which has no evidence" in res.stdout


def test_a_forged_row_attributed_to_an_archived_run(one_change, app_db):
    """A row naming a real run, which that run never wrote: a preview turned into a change."""
    preview = entries(one_change)[0]["run_id"]  # the reversal's preview: it wrote no audit row
    app_db.execute("INSERT INTO audit_log (actor, action, target, outcome, run_id, details) VALUES "
                   "('arn:aws:iam::123456789012:user/claude-deploy', 'deploy', 'rovn-passport-api', 'success', "
                   "%s, '{\"approvers\": [\"giles\"]}')", [preview])
    res = verify(one_change)
    assert res.returncode == 1 and preview in res.stdout and "does not list them" in res.stdout, res.stdout


def test_a_forged_evidence_row_is_not_a_ledger_entry(one_run, app_db):
    """The runtime role can INSERT an `evidence` row, but cannot sign one."""
    tip = entries(one_run)[-1]
    forged = {**tip, "seq": tip["seq"] + 1, "run_id": "forged", "prev": tip["hash"]}
    app_db.execute("INSERT INTO audit_log (actor, action, target, outcome, run_id, details) VALUES "
                   "('x', 'evidence', 'forged', 'success', 'forged', %s)", [json.dumps(forged)])
    res = verify(one_run)
    assert res.returncode == 1 and "forged" in res.stdout
