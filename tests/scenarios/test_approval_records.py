"""Issue 27, build 1: an approval is the approver's own act. `rovn-ops approve PLAN_HASH`
runs under the approver's own sandbox credentials (moto IAM access keys); STS
GetCallerIdentity names them, as AWS documents it:
https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
Execute counts only records of exactly the re-derived plan, never the operator's, once."""
from __future__ import annotations

import json

from rovn_sandbox.world import person_approval_key, person_credentials
from tests.conftest import rovn_ops
from tests.scenarios.test_deploy import _deploy_rows, _manifest, _service


def as_person(name: str) -> dict:
    """A person's own process: their IAM access key and, for an approver, their signing key."""
    key, secret = person_credentials(name)
    env = {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
    if person_approval_key(name).exists():
        env["ROVN_APPROVAL_KEY"] = str(person_approval_key(name))
    return env


def _preview(evidence_dir) -> str:
    preview = rovn_ops("run", "deploy", "--quiet")
    assert preview.returncode == 0, preview.stdout + preview.stderr
    return _manifest(evidence_dir)["plan_hash"]


def own_key(tmp_path, name: str = "mine") -> str:
    """A signing key of one's own making: registered nowhere."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = tmp_path / f"{name}.pem"
    path.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(path)


def test_the_operator_cannot_approve_and_an_approvers_record_executes_once(fresh, aws, evidence_dir, tmp_path):
    plan = _preview(evidence_dir)
    # no signing key: one line naming --key, exit 2
    bare_key = rovn_ops("approve", plan, "--ticket", "CHG-1")
    assert bare_key.returncode == 2 and "--key: expected" in bare_key.stderr, bare_key.stderr
    # the operator's own credentials (claude-deploy): not an approver, refused, recorded
    own = rovn_ops("approve", plan, "--ticket", "CHG-1", "--key", own_key(tmp_path))
    assert own.returncode == 3 and "not on the approvers list" in own.stderr, own.stdout + own.stderr
    # without any record, execute is refused (a parameter naming no one approves nothing)
    bare = rovn_ops("run", "deploy", "--quiet", "-p", "confirm=true", "-p", f"plan_hash={plan}")
    assert bare.returncode == 3 and "needs 1 approval record" in bare.stdout, bare.stdout + bare.stderr
    assert _service(aws)["taskDefinition"].endswith(":288")
    # giles approves under his own key: the record names his STS identity and the preview
    ok = rovn_ops("approve", plan, "--ticket", "CHG-1", env=as_person("giles"))
    assert ok.returncode == 0 and "as giles (arn:aws:iam::123456789012:user/giles)" in ok.stdout, ok.stderr
    done = rovn_ops("run", "deploy", "--quiet", "-p", "confirm=true", "-p", f"plan_hash={plan}")
    assert done.returncode == 0, done.stdout + done.stderr
    m = _manifest(evidence_dir)
    [approval] = m["approvals"]
    assert approval["approvers"] == ["giles"]
    [rec] = approval["records"]
    assert rec["identity"]["arn"].endswith(":user/giles") and rec["ticket"] == "CHG-1" and rec["preview"]["run_id"]
    [success] = [r for r in _deploy_rows(fresh["database_url"]) if r["outcome"] == "success"]
    assert success["details"]["approval_records"] == [rec["id"]]
    # the same approval never executes again
    again = rovn_ops("run", "deploy", "--quiet", "-p", "confirm=true", "-p", f"plan_hash={plan}")
    assert again.returncode == 2 and "already executed" in again.stdout, again.stdout + again.stderr  # spent: a6c51f1


def test_an_approval_covers_exactly_one_plan(fresh, aws, evidence_dir):
    plan = _preview(evidence_dir)
    assert rovn_ops("approve", plan, env=as_person("christian")).returncode == 0
    # another plan (another bake): christian's record is not for it
    other = rovn_ops("run", "deploy", "--quiet", "-p", "bake_s=2")
    assert other.returncode == 0
    plan2 = _manifest(evidence_dir)["plan_hash"]
    assert plan2 != plan
    run = rovn_ops("run", "deploy", "--quiet", "-p", "bake_s=2", "-p", "confirm=true", "-p", f"plan_hash={plan2}")
    assert run.returncode == 3 and "found none" in run.stdout, run.stdout
    assert _service(aws)["taskDefinition"].endswith(":288")


def test_approve_takes_the_full_hash_only(fresh):
    res = rovn_ops("approve", "abc123", env=as_person("giles"))
    assert res.returncode == 2 and "expected the full 64-hex plan hash" in res.stderr
    assert "Traceback" not in res.stderr
    assert json.dumps(res.stderr).count("\\n") == 1


def _forge(url: str, details: dict) -> int:
    """What the runbooks' database credential (rovn_app) can do: append any row, chain intact."""
    import psycopg

    from rovn_ops.audit import log as audit

    with psycopg.connect(url, autocommit=True) as conn:
        return audit.append(conn, actor="arn:aws:iam::123456789012:user/giles", action="approve",
                            target="rovn-passport-api", outcome="approved", details=details).id


def test_a_forged_or_replayed_approval_row_never_executes_and_verify_names_it(fresh, aws, evidence_dir):
    """Issue 20 break 1: an `approve` row written with the database credential is a row,
    not an act. Execute counts only records its approver's registered key signed, and
    `evidence verify` names every other one."""
    import base64
    import os

    from rovn_ops.protocol import approval_signature
    from rovn_sandbox.world import person_approval_key

    # a real record of giles's, for another plan: the material a replay starts from
    other = rovn_ops("run", "deploy", "--quiet", "-p", "bake_s=2")
    assert other.returncode == 0, other.stdout + other.stderr
    plan_other = _manifest(evidence_dir)["plan_hash"]
    assert rovn_ops("approve", plan_other, env=as_person("giles")).returncode == 0
    clean = rovn_ops("evidence", "verify")
    assert clean.returncode == 0, clean.stdout + clean.stderr  # a signed record is no finding

    plan = _preview(evidence_dir)
    key_id = approval_signature.key_id(approval_signature.load_private(str(person_approval_key("giles"))).public_key())
    forged = _forge(fresh["database_url"], {
        "plan_hash": plan, "approver": "giles", "ticket": "CHG-9", "env": "sandbox",
        "identity": {"arn": "arn:aws:iam::123456789012:user/giles", "proof": "sts:GetCallerIdentity"},
        "signature": {"alg": "ed25519", "key_id": key_id, "value": base64.b64encode(os.urandom(64)).decode()}})
    [real] = [r for r in _deploy_rows(fresh["database_url"], action="approve") if r["details"]["plan_hash"] == plan_other]
    replayed = _forge(fresh["database_url"], {**real["details"], "plan_hash": plan})
    unsigned = _forge(fresh["database_url"], {k: v for k, v in {**real["details"], "plan_hash": plan}.items()
                                              if k != "signature"})
    run = rovn_ops("run", "deploy", "--quiet", "-p", "confirm=true", "-p", f"plan_hash={plan}")
    assert run.returncode == 3 and "found none" in run.stdout, run.stdout + run.stderr
    assert "3 record(s) without a valid signature" in run.stdout, run.stdout
    assert _service(aws)["taskDefinition"].endswith(":288")
    audit = rovn_ops("audit", "verify")
    assert audit.returncode == 0, audit.stdout  # the chain alone cannot tell: the rows were appended
    report = rovn_ops("evidence", "verify")
    assert report.returncode == 1, report.stdout + report.stderr
    for row in (forged, replayed):
        assert f"audit_log row {row}" in report.stdout and "does not verify" in report.stdout, report.stdout
    assert f"audit_log row {unsigned}" in report.stdout and "no signature" in report.stdout, report.stdout


def test_an_iam_key_the_operator_mints_for_an_approver_does_not_approve(fresh, aws, evidence_dir, tmp_path):
    """Issue 20 break 2: claude-deploy (IAMFullAccess) creates giles an access key and runs
    `approve` as giles. STS names giles, but the key that approves is giles's signing key,
    which no IAM permission mints: refused, and execute finds nothing to count."""
    plan = _preview(evidence_dir)
    minted = aws("iam").create_access_key(UserName="giles")["AccessKey"]
    env = {"AWS_ACCESS_KEY_ID": minted["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": minted["SecretAccessKey"]}
    res = rovn_ops("approve", plan, "--key", own_key(tmp_path), env=env)
    assert res.returncode == 3 and "is not giles's registered approval key" in res.stderr, res.stdout + res.stderr
    run = rovn_ops("run", "deploy", "--quiet", "-p", "confirm=true", "-p", f"plan_hash={plan}")
    assert run.returncode == 3 and "found none" in run.stdout, run.stdout
    assert _service(aws)["taskDefinition"].endswith(":288")


def _approve_in_own_kernel(person: str, plan: str, ticket: str) -> str:
    """The approval cell of JupyterLab, run by the approver in their own kernel, under their
    own credentials and key (the kernel inherits their environment, as their Lab does)."""
    import os

    from jupyter_client.manager import start_new_kernel

    from tests.scenarios.test_interactive_confirm import _run

    km, kc = start_new_kernel(kernel_name="python3", env={**os.environ, **as_person(person)})
    try:
        _, out, error = _run(kc, "from rovn_ops.run import approval\n"
                                 f"print(approval.approve({plan!r}, ticket={ticket!r}))", "")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert error is None, error
    return out


def test_two_operators_two_approvers_each_with_their_own_credentials(fresh, aws, evidence_dir, tmp_path):
    """Issue 27's acceptance: operators claude-deploy and break-glass-admin, approvers giles
    (in his own JupyterLab kernel) and christian (`rovn-ops approve`), each under their own
    sandbox IAM key and signing key. An operator's own approval is refused; another person's
    executes; the index names both operators and both approvers."""
    from rovn_ops.evidence import index

    second = as_person("break-glass-admin")
    # operator 1 (claude-deploy) previews a deploy; its own approval is refused
    plan = _preview(evidence_dir)
    mine = rovn_ops("approve", plan, "--ticket", "CHG-11", "--key", own_key(tmp_path, "claude"))
    assert mine.returncode == 3 and "not on the approvers list" in mine.stderr, mine.stderr
    out = _approve_in_own_kernel("giles", plan, "CHG-11")
    assert "as giles (arn:aws:iam::123456789012:user/giles)" in out and "signed with key" in out, out
    done = rovn_ops("run", "deploy", "--quiet", "-p", "confirm=true", "-p", f"plan_hash={plan}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _service(aws)["taskDefinition"].endswith(":289")
    # operator 2 (break-glass-admin, its own key) previews the rollback; its own approval is refused
    pre = rovn_ops("run", "rollback", "--quiet", env=second)
    assert pre.returncode == 0, pre.stdout + pre.stderr
    plan2 = _manifest(evidence_dir, "rollback")["plan_hash"]
    theirs = rovn_ops("approve", plan2, "--key", own_key(tmp_path, "bg"), env=second)
    assert theirs.returncode == 3 and "user/break-glass-admin is not on the approvers list" in theirs.stderr
    ok = rovn_ops("approve", plan2, "--ticket", "CHG-12", env=as_person("christian"))
    assert ok.returncode == 0, ok.stderr
    back = rovn_ops("run", "rollback", "--quiet", "-p", "confirm=true", "-p", f"plan_hash={plan2}", env=second)
    assert back.returncode == 0, back.stdout + back.stderr
    assert _service(aws)["taskDefinition"].endswith(":288")
    changes = [r for r in index.rows(evidence_dir, "sandbox") if r["change"]]
    who = {(r["runbook"], r["operator"].split(" ")[0], tuple(r["approvers"])) for r in changes}
    assert who == {("deploy", "claude-deploy", ("giles",)), ("rollback", "break-glass-admin", ("christian",))}, who
    signed = [rec for r in changes for a in r["approvals"] for rec in a.get("records", [])]
    assert sorted(rec["approver"] for rec in signed) == ["christian", "giles"]
    assert all(rec["signature"]["alg"] == "ed25519" for rec in signed)


def test_an_operator_who_can_mint_an_approvers_credentials_cannot_execute(fresh, aws, evidence_dir):
    """Issue 20 break 2, least privilege: before counting approvals, IAM's own evaluation
    (SimulatePrincipalPolicy, https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html)
    must deny the operator every action that makes an approver's credentials. The sandbox's
    claude-deploy is IAMFullAccess with an explicit-Deny ApproverGuard; without the guard
    (as IAMFullAccess alone is), a validly approved plan is refused, naming the actions."""
    iam = aws("iam")
    [simulated] = iam.simulate_principal_policy(
        PolicySourceArn="arn:aws:iam::123456789012:user/claude-deploy", ActionNames=["iam:CreateAccessKey"],
        ResourceArns=["arn:aws:iam::123456789012:user/giles"])["EvaluationResults"]
    assert simulated["EvalDecision"] == "explicitDeny"
    plan = _preview(evidence_dir)
    assert rovn_ops("approve", plan, env=as_person("giles")).returncode == 0
    iam.delete_user_policy(UserName="claude-deploy", PolicyName="ApproverGuard")  # IAMFullAccess, unguarded
    run = rovn_ops("run", "deploy", "--quiet", "-p", "confirm=true", "-p", f"plan_hash={plan}")
    assert run.returncode == 3, run.stdout + run.stderr
    assert "can make an approver's credentials (iam:CreateAccessKey on arn:aws:iam::123456789012:user/giles" \
        in run.stdout, run.stdout
    assert _service(aws)["taskDefinition"].endswith(":288")


def test_an_approval_made_with_an_access_key_newer_than_the_preview_does_not_count(fresh, aws, evidence_dir):
    """Issue 20 break 2: an access key created for the approver after the plan was
    previewed (ListAccessKeys CreateDate,
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListAccessKeys.html) is someone
    making an identity for this approval: its record does not count, even signed."""
    import time

    from rovn_sandbox.world import person_approval_key

    plan = _preview(evidence_dir)
    time.sleep(1.1)  # CreateDate and the preview's run id have second resolution
    minted = aws("iam").create_access_key(UserName="giles")["AccessKey"]
    env = {"AWS_ACCESS_KEY_ID": minted["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": minted["SecretAccessKey"],
           "ROVN_APPROVAL_KEY": str(person_approval_key("giles"))}
    assert rovn_ops("approve", plan, env=env).returncode == 0
    run = rovn_ops("run", "deploy", "--quiet", "-p", "confirm=true", "-p", f"plan_hash={plan}")
    assert run.returncode == 3 and "giles's access key was created" in run.stdout and "after the preview" in run.stdout, \
        run.stdout
    assert _service(aws)["taskDefinition"].endswith(":288")


def test_an_approval_for_another_ticket_does_not_count(fresh, aws, evidence_dir):
    """Attack review: `approve --ticket` took any text and execute counted it for a plan of
    another ticket. An approval is for one change: its ticket must be the plan's. `approve`
    knows the plan's ticket from its preview, so another is bad input there (exit 2, no
    record: session 6's attack review, LOW 12, found it accepted and refused only at execute);
    with no --ticket it takes the preview's."""
    preview = rovn_ops("run", "snapshot_retention", "--quiet", "-p", "ticket=OPS-1", "-p", "reason=cleanup")
    assert preview.returncode == 0, preview.stdout + preview.stderr
    plan = _manifest(evidence_dir, "snapshot_retention")["plan_hash"]
    confirm = ("run", "snapshot_retention", "--quiet", "-p", "ticket=OPS-1", "-p", "reason=cleanup",
               "-p", "confirm=true", "-p", f"plan_hash={plan}")
    wrong = rovn_ops("approve", plan, "--ticket", "CHG-999", env=as_person("giles"))
    assert wrong.returncode == 2, wrong.stdout + wrong.stderr
    assert "--ticket 'CHG-999': expected the plan's ticket 'OPS-1'" in wrong.stderr, wrong.stderr
    assert "Traceback" not in wrong.stderr and len(wrong.stderr.strip().splitlines()) == 1
    other = rovn_ops(*confirm)  # nothing was recorded: no approval
    assert other.returncode == 3 and "found none" in other.stdout, other.stdout
    ok = rovn_ops("approve", plan, env=as_person("giles"))
    assert ok.returncode == 0 and "ticket OPS-1" in ok.stdout, ok.stdout + ok.stderr
    done = rovn_ops(*confirm)
    assert done.returncode == 0, done.stdout + done.stderr


def test_approving_a_hash_no_preview_printed_is_refused(fresh, aws, evidence_dir, tmp_path):
    """Issue 27 (open point 5): an approval is of a plan a preview produced. A well-formed
    hash no preview printed, or one only a manifest outside the ledger names, is refused
    (exit 3, one line, an audit_log `refused` row); an approver without the operator's
    evidence directory finds the real preview in the archive bucket."""
    import hashlib
    import shutil

    from tests.scenarios.test_deploy import _deploy_rows

    invented = hashlib.sha256(b"a plan nobody previewed").hexdigest()
    res = rovn_ops("approve", invented, "--ticket", "CHG-7", env=as_person("giles"))
    assert res.returncode == 3 and "no archived preview printed this plan hash" in res.stderr, res.stdout + res.stderr
    assert json.dumps(res.stderr).count("\\n") == 1 and "Traceback" not in res.stderr
    rows = _deploy_rows(fresh["database_url"], action="approve")
    assert [r["outcome"] for r in rows] == ["refused"] and rows[0]["details"]["plan_hash"] == invented
    # a manifest planted in the evidence directory, naming the hash, is no preview: the ledger has no row of it
    plan = _preview(evidence_dir)
    [real] = [p for p in evidence_dir.glob("*/*/manifest.json") if json.loads(p.read_text())["plan_hash"] == plan]
    planted = real.parent.parent / (real.parent.name + "-copy")
    shutil.copytree(real.parent, planted)
    forged = json.loads((planted / "manifest.json").read_text()) | {"plan_hash": invented}
    (planted / "manifest.json").write_text(json.dumps(forged))
    again = rovn_ops("approve", invented, env=as_person("giles"))
    assert again.returncode == 3 and "no archived preview printed" in again.stderr, again.stdout + again.stderr
    # the real preview's hash, approved from another machine (no local evidence): found in the bucket
    elsewhere = {**as_person("giles"), "ROVN_EVIDENCE_DIR": str(tmp_path / "approver-laptop")}
    ok = rovn_ops("approve", plan, "--ticket", "CHG-7", env=elsewhere)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"preview run {json.loads(real.read_text())['run_id']}" in ok.stdout, ok.stdout


def test_an_approve_row_a_superuser_deletes_is_named_by_verify(fresh, aws, evidence_dir):
    """Attack review MEDIUM 2 (session 6): rows `approve` writes lie between runs, so no run's
    anchor covers them; a database superuser deleted the newest (a refusal, or an approval) and
    reset the sequence, and every verify stayed as it was. Each approve row is now anchored in the
    Object Lock bucket (approvals/<id>.json, its id and hash), and verify checks each anchor."""
    import secrets as random

    import psycopg

    assert rovn_ops("run", "service_status", "--quiet").returncode == 0
    invented = rovn_ops("approve", random.token_hex(32), "--ticket", "CHG-9", env=as_person("giles"))
    assert invented.returncode == 3, invented.stdout + invented.stderr
    [row] = [r["id"] for r in _deploy_rows(fresh["database_url"], action="approve")]
    s3 = aws("s3")
    bucket = json.loads((next(evidence_dir.glob("*/*/manifest.json"))).read_text())["archive"]["bucket"]
    anchored = json.loads(s3.get_object(Bucket=bucket, Key=f"approvals/{row:010d}.json")["Body"].read())
    assert anchored["audit_log_id"] == row and len(anchored["row_hash"]) == 64
    assert rovn_ops("evidence", "verify").returncode == 0
    with psycopg.connect(fresh["admin_database_url"], autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        conn.execute("DELETE FROM audit_log WHERE id = %s", [row])
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
        conn.execute("SELECT setval('audit_log_id_seq', %s)", [row - 1])
    res = rovn_ops("evidence", "verify")
    assert res.returncode == 1 and f"audit_log row {row}, an approve row anchored in" in res.stdout, res.stdout
