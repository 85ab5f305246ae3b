"""Key rotation is explicit, logged and goes through the protocol like every production write
(issue 29, build 4): a preview changes nothing; execute needs a signed approval record by
someone other than the operator; the steps are journalled in audit_log, the security channel
hears of it (§8), and a re-run after a kill at any step finishes with the key the first run
staged (PutSecretValue with an existing ClientRequestToken creates no version,
https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html;
labels move with UpdateSecretVersionStage,
https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_UpdateSecretVersionStage.html).
The new key id is signed by the old key (and the old by the new); runs sign nothing until the
new id is pinned through review; verify, trusting the new pin, still trusts what the old key
signed, and nothing else."""
import urllib3

from rovn_ops.evidence import ledger, signing
from tests.conftest import checkout, kill_when, rovn_ops
from tests.scenarios.test_approval_records import as_person
from tests.scenarios.test_deploy import _manifest
from tests.scenarios.test_evidence_anchors import PINNED

SECRET = "rovn/sandbox/evidence-signing-key"


def _rows(app_db, action: str) -> list[tuple]:
    return app_db.execute("SELECT outcome, details FROM audit_log WHERE action = %s ORDER BY id", [action]).fetchall()


def _versions(sm) -> dict:
    return {v["VersionId"]: v["VersionStages"] for v in sm.list_secret_version_ids(SecretId=SECRET)["Versions"]}


def previewed(evidence_dir) -> list[str]:
    """Preview the rotation and have giles approve it: the confirmed command's arguments."""
    res = rovn_ops("evidence", "rotate-key", "--quiet")
    assert res.returncode == 0, res.stdout + res.stderr
    plan = _manifest(evidence_dir, "evidence_key_rotation")["plan_hash"]
    ok = rovn_ops("approve", plan, "--ticket", "CHG-7", env=as_person("giles"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    return ["evidence", "rotate-key", "--quiet", "-p", "confirm=true", "-p", f"plan_hash={plan}"]


def rotated(app_db, evidence_dir) -> str:
    """Rotate through the protocol; the new key id."""
    res = rovn_ops(*previewed(evidence_dir))
    assert res.returncode == 0, res.stdout + res.stderr
    [(outcome, details)] = _rows(app_db, "evidence-key-rotation")
    assert outcome == "success" and details["old_key_id"] == PINNED
    return details["new_key_id"]


def _home_pinning(tmp_path, key_id: str):
    """A checkout whose parameters/sandbox.yaml pins key_id: the reviewed change after a rotation."""
    return checkout(tmp_path, lambda name, text: text.replace(PINNED, key_id))


def test_rotation_hands_over_and_verify_follows_it_back(fresh, app_db, aws, evidence_dir, tmp_path):
    assert rovn_ops("run", "service_status", "--quiet").returncode == 0
    sm = aws("secretsmanager")
    versions = _versions(sm)
    previewed(evidence_dir)  # the preview made nothing: no version, no row
    assert _versions(sm) == versions
    assert not _rows(app_db, "evidence-key-rotation") and not _rows(app_db, "evidence-key-rotation-step")
    new_id = rotated(app_db, evidence_dir)
    assert new_id != PINNED
    [(_, details)] = _rows(app_db, "evidence-key-rotation")
    assert details["approvers"] == ["giles"] and details["approval_records"]
    assert details["statement"]["old_key_id"] == PINNED and details["statement"]["new_key_id"] == new_id
    assert [(d["step"], o) for o, d in _rows(app_db, "evidence-key-rotation-step")] == [
        ("stage", "done"), ("statement", "done"), ("publish", "done"), ("promote", "done")]
    posts = urllib3.request("GET", fresh["control_url"] + "/posts").json()
    assert any(p["channel"] == "security-slack" and f"rotated: {PINNED} → {new_id}" in p["payload"]["text"]
               for p in posts), posts
    assert all("PRIVATE KEY" not in str(d) for _, d in _rows(app_db, "evidence-key-rotation-step"))
    # the rotation's own run is signed by the key it handed over
    assert {e["key_id"] for e in ledger.read(evidence_dir)} == {PINNED}

    signed = len(ledger.read(evidence_dir))  # service_status, the preview, the rotation
    refused = rovn_ops("run", "service_status", "--quiet")  # the new key is not pinned yet
    assert refused.returncode == 1 and f"pins {PINNED}" in refused.stderr and len(ledger.read(evidence_dir)) == signed

    home = {"ROVN_HOME": str(_home_pinning(tmp_path, new_id))}
    res = rovn_ops("evidence", "verify", "--all-signatures", env=home)  # first, the waiting run is archived
    assert "recovered run" in res.stderr and res.returncode == 0, res.stdout + res.stderr
    keys = [e["key_id"] for e in ledger.read(evidence_dir)]
    assert keys == [PINNED] * signed + [new_id] and f"evidence OK: {signed + 1} runs" in res.stdout
    auditor = {**home, "ROVN_EVIDENCE_DIR": str(tmp_path / "auditor")}
    assert rovn_ops("evidence", "verify", "--bucket", "--all-signatures", env=auditor).returncode == 0

    (evidence_dir / signing.ROTATIONS_FILE).unlink()  # without the statement, the old key is nobody's
    res = rovn_ops("evidence", "verify", "--offline", "--all-signatures", env=home)
    first = ledger.read(evidence_dir)[0]["run_id"]
    assert res.returncode == 1 and f"first bad run {first}" in res.stdout and "not the trusted key" in res.stdout


def test_a_statement_signed_by_one_side_only_extends_no_trust(tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pinned, intruder = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    good = signing.rotation_statement(intruder, pinned, "2026-11-27T00:00:00+00:00")
    assert set(signing.with_predecessors(pinned.public_key(), [good])) == {
        signing.key_id(pinned.public_key()), signing.key_id(intruder.public_key())}
    forged = dict(good, sig_new=signing.rotation_statement(intruder, intruder, "x")["sig_new"])
    assert set(signing.with_predecessors(pinned.public_key(), [forged])) == {signing.key_id(pinned.public_key())}
    edited = dict(good, at="2027-01-01T00:00:00+00:00")  # signed by both, then changed
    assert set(signing.with_predecessors(pinned.public_key(), [edited])) == {signing.key_id(pinned.public_key())}


def test_a_confirmed_write_refuses_before_it_changes_anything_when_the_key_is_not_pinned(fresh, aws, app_db,
                                                                                         evidence_dir):
    """No change may run that could not be signed: the key is checked before the kernel
    starts, not when the run is archived after the deploy already happened."""
    from tests.scenarios import test_deploy

    args = test_deploy.previewed()
    rotated(app_db, evidence_dir)  # the secret now holds an unpinned key
    builds = len(aws("codebuild").list_builds()["ids"])
    deploys = "SELECT count(*) FROM audit_log WHERE action = 'deploy'"
    before = app_db.execute(deploys).fetchone()[0]  # the seeded history's
    run = rovn_ops("run", "deploy", "--quiet", *args)
    assert run.returncode == 1 and f"pins {PINNED}" in run.stderr, run.stdout + run.stderr
    service = aws("ecs").describe_services(cluster="rovn-prod", services=["rovn-passport-api"])["services"][0]
    assert service["taskDefinition"].endswith(":288") and len(aws("codebuild").list_builds()["ids"]) == builds
    assert app_db.execute(deploys).fetchone()[0] == before
    assert not list((evidence_dir / ".spool").glob("*"))  # nothing started, nothing to recover


def test_the_operator_cannot_approve_it_and_a_preview_changes_nothing(fresh, app_db, aws, evidence_dir):
    res = rovn_ops("evidence", "rotate-key", "--quiet")
    assert res.returncode == 0, res.stdout + res.stderr
    plan = _manifest(evidence_dir, "evidence_key_rotation")["plan_hash"]
    bare = rovn_ops("evidence", "rotate-key", "--quiet", "-p", "confirm=true", "-p", f"plan_hash={plan}")
    assert bare.returncode == 3 and "needs 1 approval record" in bare.stdout, bare.stdout + bare.stderr
    assert len(_versions(aws("secretsmanager"))) == 1
    assert not _rows(app_db, "evidence-key-rotation-step")


def _steps(app_db) -> list[tuple[str, str]]:
    return [(d["step"], o) for o, d in _rows(app_db, "evidence-key-rotation-step")]


def test_a_kill_at_every_step_then_a_rerun_finishes_with_one_new_key(fresh, app_db, aws, evidence_dir):
    """SIGKILL once each step's row exists (before the last: after it verify's success row
    races the kill), then the same command: one successor version, the first run's key."""
    args = previewed(evidence_dir)
    for n in range(1, 4):
        kill_when(args, lambda: len(_steps(app_db)) >= n)
    run = rovn_ops(*args)
    assert run.returncode == 0, run.stdout + run.stderr
    steps = _steps(app_db)
    assert steps[0] == ("stage", "done") and steps.count(("stage", "done")) == 1, steps
    assert steps.count(("statement", "done")) == 1 and steps[-1][0] == "promote", steps
    versions = _versions(aws("secretsmanager"))
    assert len(versions) == 2 and sum("AWSCURRENT" in s for s in versions.values()) == 1
    [(_, details)] = _rows(app_db, "evidence-key-rotation")
    [staged] = [d for o, d in _rows(app_db, "evidence-key-rotation-step") if d["step"] == "stage" and o == "done"]
    assert details["new_key_id"] == staged["new_key_id"]  # the key the first run made, not a second one


def test_a_successor_planted_under_the_rotation_token_is_refused_not_adopted(fresh, app_db, aws, evidence_dir):
    """The successor's ClientRequestToken is derived from the pinned key's id, so anyone who can
    PutSecretValue can stage a key of theirs under it before the rotation runs. A re-run resumes
    only a key a run of this rotation journalled staging; any other is a suspected incident, and
    nothing moves."""
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from rovn_ops.evidence import rotation

    args = previewed(evidence_dir)
    theirs = Ed25519PrivateKey.generate().private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8,
                                                        s.NoEncryption()).decode()
    sm = aws("secretsmanager")
    token = rotation.successor_token(PINNED)
    sm.put_secret_value(SecretId=SECRET, ClientRequestToken=token, SecretString=theirs, VersionStages=["AWSPENDING"])
    before = _versions(sm)
    run = rovn_ops(*args)
    assert run.returncode == 3 and "which no run of this rotation staged" in run.stdout, run.stdout + run.stderr
    assert _versions(sm) == before and "AWSCURRENT" not in before[token]
    assert not [r for r in _rows(app_db, "evidence-key-rotation") if r[0] == "success"]
