"""Key rotation is explicit and logged: the new key id is signed by the old key (and the
old by the new); runs sign nothing until the new id is pinned through review; verify,
trusting the new pin, still trusts what the old key signed, and nothing else."""
from rovn_ops.evidence import ledger, signing
from tests.conftest import ROOT, rovn_ops
from tests.scenarios.test_evidence_anchors import PINNED


def _home_pinning(tmp_path, key_id: str):
    """A checkout whose parameters/sandbox.yaml pins key_id: the reviewed change after a rotation."""
    home = tmp_path / "checkout"
    home.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in ("parameters", ".git"):
            (home / entry.name).symlink_to(entry)
    (home / "parameters").mkdir()
    for f in (ROOT / "parameters").iterdir():
        (home / "parameters" / f.name).write_text(f.read_text().replace(PINNED, key_id))
    return home


def test_rotation_hands_over_and_verify_follows_it_back(fresh, app_db, evidence_dir, tmp_path):
    assert rovn_ops("run", "service_status", "--quiet").returncode == 0
    res = rovn_ops("evidence", "rotate-key")
    assert res.returncode == 0 and f"{PINNED} -> " in res.stdout, res.stderr
    new_id = res.stdout.split(" -> ")[1].split()[0]
    [row] = app_db.execute("SELECT details FROM audit_log WHERE action = 'evidence-key-rotation'").fetchall()
    assert row[0]["old_key_id"] == PINNED and row[0]["new_key_id"] == new_id

    refused = rovn_ops("run", "service_status", "--quiet")  # the new key is not pinned yet
    assert refused.returncode == 1 and f"pins {PINNED}" in refused.stderr and len(ledger.read(evidence_dir)) == 1

    home = {"ROVN_HOME": str(_home_pinning(tmp_path, new_id))}
    res = rovn_ops("evidence", "verify", "--all-signatures", env=home)  # first, the waiting run is archived
    assert "recovered run" in res.stderr and res.returncode == 0, res.stdout + res.stderr
    keys = [e["key_id"] for e in ledger.read(evidence_dir)]
    assert keys == [PINNED, new_id] and "evidence OK: 2 runs" in res.stdout
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
    from tests.scenarios.test_deploy import previewed

    args = previewed()
    assert rovn_ops("evidence", "rotate-key").returncode == 0  # the secret now holds an unpinned key
    builds = len(aws("codebuild").list_builds()["ids"])
    deploys = "SELECT count(*) FROM audit_log WHERE action = 'deploy'"
    before = app_db.execute(deploys).fetchone()[0]  # the seeded history's
    run = rovn_ops("run", "deploy", "--quiet", *args)
    assert run.returncode == 1 and f"pins {PINNED}" in run.stderr, run.stdout + run.stderr
    service = aws("ecs").describe_services(cluster="rovn-prod", services=["rovn-passport-api"])["services"][0]
    assert service["taskDefinition"].endswith(":288") and len(aws("codebuild").list_builds()["ids"]) == builds
    assert app_db.execute(deploys).fetchone()[0] == before
    assert not list((evidence_dir / ".spool").glob("*"))  # nothing started, nothing to recover
