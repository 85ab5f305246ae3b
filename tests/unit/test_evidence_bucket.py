"""The Object Lock bucket against in-process moto: every object is written once, whoever
else writes it (machines racing for keys/<key id>.pem, a retried or recovered upload), and
verify tells a second version with the same bytes from one with other bytes."""
from __future__ import annotations

import json
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws

from rovn_ops.evidence import bucket

BUCKET = "rovn-evidence-archive"
KEY_ID = "91c968768de0d8765bcd4e1d914fffda8772c1332bffd9877405a119081a8369"
PEM = b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"


pytestmark = pytest.mark.usefixtures("in_process")  # moto in this process


@pytest.fixture
def machines():
    """Two machines' S3 clients and one Object Lock bucket."""
    with mock_aws():
        a, b = (boto3.client("s3", region_name="us-east-2") for _ in range(2))
        a.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True,
                        CreateBucketConfiguration={"LocationConstraint": "us-east-2"})
        yield a, b


def _run(tmp_path, run_id: str, seq: int) -> tuple[dict, dict, dict]:
    """A run's archive plan, files and ledger entry, as Archiver.finish hands them over."""
    d = tmp_path / run_id
    d.mkdir()
    (d / "manifest.json").write_text(json.dumps({"run_id": run_id}))
    (d / "signature.json").write_text(json.dumps({"seq": seq}))
    line = {"chain": "c" * 64, "seq": seq, "run_id": run_id, "key_id": KEY_ID}
    return bucket.plan(BUCKET, run_id, 1), {p.name: p for p in d.iterdir()}, line


def _versions(s3) -> dict[str, int]:
    listing = bucket.Listing.of(s3, BUCKET)
    return {k: len(v) for k, v in listing.versions.items()}


def _when_writing(s3, prefix: str, action) -> None:
    """Run `action` once, just before this client's first PutObject of a key under `prefix`
    leaves: the other machine gets in between this one's decision to write and its write."""
    fired = []

    def hook(params, **_):
        if params["Key"].startswith(prefix) and not fired:
            fired.append(True)
            action()

    s3.meta.events.register("provide-client-params.s3.PutObject", hook)


def test_two_machines_racing_for_the_key_write_it_once(machines, tmp_path):
    a, b = machines
    run_a, run_b = _run(tmp_path, "run-a", 1), _run(tmp_path, "run-b", 2)
    _when_writing(a, bucket.KEYS_PREFIX, lambda: bucket.upload(b, *run_b, PEM, KEY_ID))
    bucket.upload(a, *run_a, PEM, KEY_ID)  # no Conflict: the key there is this very key
    versions = _versions(a)
    assert versions[f"keys/{KEY_ID}.pem"] == 1, versions
    assert set(versions.values()) == {1} and len(versions) == 7  # 2 runs x 3 objects, and the key
    assert bucket.Listing.of(a, BUCKET).problems(a, BUCKET) == ([], [])


def test_an_upload_retried_after_a_kill_writes_nothing_again(machines, tmp_path):
    a, _ = machines
    run = _run(tmp_path, "run-a", 1)
    bucket.upload(a, *run, PEM, KEY_ID)
    bucket.upload(a, *run, PEM, KEY_ID)  # a recovery re-uploads everything
    assert set(_versions(a).values()) == {1}
    assert bucket.put(a, run[0], f"keys/{KEY_ID}.pem", PEM) is False


def test_other_bytes_under_a_written_name_are_a_conflict_and_left_alone(machines, tmp_path):
    a, b = machines
    plan, files, line = _run(tmp_path, "run-a", 1)
    bucket.put(b, plan, f"keys/{KEY_ID}.pem", b"not this key")  # planted first
    with pytest.raises(bucket.Conflict, match=f"keys/{KEY_ID}.pem already holds other bytes"):
        bucket.upload(a, plan, files, line, PEM, KEY_ID)
    versions = _versions(a)
    assert set(versions.values()) == {1} and len(versions) == 4  # the run's objects went up all the same
    assert a.get_object(Bucket=BUCKET, Key=f"keys/{KEY_ID}.pem")["Body"].read() == b"not this key"


def test_a_conflicting_write_in_flight_409_is_retried(machines, tmp_path):
    """S3 answers 409 ConditionalRequestConflict while another conditional write of the key
    is in flight; moto never does (it serialises requests), so the answer is injected here."""
    a, _ = machines
    plan = _run(tmp_path, "run-a", 1)[0]
    answers = [409, 409]

    def in_flight(**_):
        if answers:
            return SimpleNamespace(status_code=answers.pop()), {
                "Error": {"Code": "ConditionalRequestConflict", "Message": "A conflicting operation occurred"},
                "ResponseMetadata": {"HTTPStatusCode": 409}}
        return None

    a.meta.events.register("before-call.s3.PutObject", in_flight)
    assert bucket.put(a, plan, f"keys/{KEY_ID}.pem", PEM) is True and not answers
    assert _versions(a) == {f"keys/{KEY_ID}.pem": 1}


def test_verify_tells_the_same_bytes_again_from_other_bytes(machines):
    """What the race left in archives written before conditional writes: a second version
    with the same bytes. A reader sees the same object whichever version it reads."""
    a, _ = machines
    key = f"keys/{KEY_ID}.pem"
    for _ in range(2):  # unconditional, as the racing machines wrote it
        a.put_object(Bucket=BUCKET, Key=key, Body=PEM)
    assert bucket.Listing.of(a, BUCKET).problems(a, BUCKET) == ([], [key])
    a.put_object(Bucket=BUCKET, Key=key, Body=PEM.replace(b"MCow", b"XCow"))  # same size, other bytes
    problems, same = bucket.Listing.of(a, BUCKET).problems(a, BUCKET)
    assert problems == [(key, "has 3 versions (a locked object was written again with other bytes)")]
    assert same == []
