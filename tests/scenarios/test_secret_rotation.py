"""§8 through `rovn-ops run secrets_audit` and `rovn-ops run secret_rotation` in the
sandbox: the inventory's exit code, every class rotated end to end with the world
checked (not the API's answer), crash and resume, drift, and a leak scan."""
from __future__ import annotations

import json
from datetime import datetime, timezone
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
import urllib3

from rovn_ops.clients.db import connect_with
from rovn_ops.secrets import jwks
from tests.conftest import ROOT, kill_tree, rovn_ops
from tests.scenarios.test_deploy import _manifest, preview_then_execute

DB, JWT, STRIPE, MCP_OUT = ("rovn/prod/db-master", "rovn/prod/jwt-signing-key", "rovn/prod/stripe-api-key",
                            "rovn/prod/mcp-outbound-token")


def rotate(secret: str, *extra: str):
    run = preview_then_execute("-p", f"secret={secret}", *extra, runbook="secret_rotation")
    assert run.returncode == 0, run.stdout + run.stderr
    return run


def value(sm, name: str, stage: str = "AWSCURRENT", version: str | None = None) -> str:
    args = {"VersionId": version} if version else {"VersionStage": stage}
    return sm.get_secret_value(SecretId=name, **args)["SecretString"]


def stages(sm, name: str) -> dict[str, list[str]]:
    return {v: s for v, s in sm.describe_secret(SecretId=name)["VersionIdsToStages"].items()}


def holder(sm, name: str, stage: str) -> str | None:
    return next((v for v, s in stages(sm, name).items() if stage in s), None)


def stage_provider_key(sandbox, sm, provider: str, secret: str) -> str:
    """What the operator does for a headless run: a key from the provider's console,
    put in Secrets Manager as AWSPENDING."""
    key = json.loads(urllib3.request("POST", f"{sandbox['fakes_url']}/providers/{provider}/keys").data)["key"]
    sm.put_secret_value(SecretId=secret, SecretString=key, VersionStages=["AWSPENDING"])
    return key


def audit_rows(url: str, action: str) -> list[dict]:
    with psycopg.connect(url) as conn:
        cur = conn.execute("SELECT id, target, outcome, run_id, details FROM audit_log WHERE action = %s ORDER BY id",
                           [action])
        return [dict(zip(("id", "target", "outcome", "run_id", "details"), r)) for r in cur]


def test_database_rotation_never_breaks_the_running_service(fresh, aws, evidence_dir):
    sm = aws("secretsmanager")
    old = json.loads(value(sm, DB))
    polls, stop = [], threading.Event()

    def poll():
        while not stop.is_set():
            r = urllib3.request("GET", fresh["health_url"], retries=False, timeout=5)
            polls.append((r.status, json.loads(r.data).get("db")))
            time.sleep(0.02)

    watcher = threading.Thread(target=poll)
    watcher.start()
    try:
        rotate(DB)
    finally:
        stop.set()
        watcher.join()
    assert len(polls) > 20 and set(polls) == {(200, "ok")}, sorted(set(polls))
    new = json.loads(value(sm, DB))
    assert new["username"] == old["username"] + "_clone" and new["password"] != old["password"]
    with connect_with(new) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == new["username"]
    with pytest.raises(psycopg.OperationalError):
        connect_with(old).close()  # the retired password no longer logs in
    steps = [(r["details"]["step"], r["outcome"]) for r in audit_rows(fresh["database_url"], "secret_rotation_step")]
    assert steps == [("createSecret", "done"), ("setSecret", "done"), ("testSecret", "done"),
                     ("finishSecret", "done"), ("rollout", "started"), ("rollout", "done"), ("retire", "done"),
                     ("verify", "done")]
    [row] = audit_rows(fresh["database_url"], "secret_rotation")
    assert row["outcome"] == "success" and row["details"]["to_version"] == holder(sm, DB, "AWSCURRENT")
    posts = urllib3.request("GET", fresh["control_url"] + "/posts").json()
    assert any(p["channel"] == "security-slack" and f"secret {DB} rotated" in p["payload"]["text"] for p in posts)
    rotate(DB)  # and back to the first user, which works again
    with connect_with(json.loads(value(sm, DB))) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == old["username"]
    prod_paths_after_rotation(sm, fresh)


def prod_paths_after_rotation(sm, sandbox) -> None:
    """§8 item 6: prod's audit_log and migrations connect through the DB secret, read at
    connect time; right after a rotation both still work."""
    from rovn_ops.audit import log as audit
    from rovn_ops.clients import db
    from rovn_ops.migrations import engine

    with db.connect(db.conninfo(sm, DB)) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == json.loads(value(sm, DB))["username"]
        entry = audit.append(conn, actor="test", action="probe", target=DB, outcome="success")
        assert entry.id > 0
    with db.connect(db.conninfo(sm, DB, master=True)) as conn:
        assert engine.verify(conn, Path(sandbox["migrations_dir"])).ok


def test_jwt_overlap_unknown_kid_and_prune(fresh, aws, evidence_dir):
    sm = aws("secretsmanager")
    before = json.loads(value(sm, JWT))
    in_flight = jwks.sign(before, {"sub": "nurse-42"})
    began = datetime.now(timezone.utc)
    rotate(JWT, "-p", "max_token_lifetime_s=2")
    rotated = time.monotonic()
    _its_redeploy_is_explained(began)
    after = json.loads(value(sm, JWT))
    published = jwks.published(after)
    assert all("d" not in k for k in published["keys"])  # public halves only
    assert jwks.verify(in_flight, published)["sub"] == "nurse-42"
    assert jwks.verify(jwks.sign(after, {"sub": "new"}), published)["sub"] == "new"
    assert after["signing_kid"] != before["signing_kid"]
    stranger = jwks.new_document("rovn-unknown")
    with pytest.raises(Exception, match="kid"):
        jwks.verify(jwks.sign(stranger, {"sub": "forged"}), published)
    too_early = rovn_ops("run", "secret_rotation", "--quiet", "-p", f"secret={JWT}", "-p", "action=prune",
                         "-p", "max_token_lifetime_s=3600")
    assert too_early.returncode == 3 and "nothing to prune" in too_early.stdout  # refused, nothing changed
    time.sleep(max(0.0, 2.1 - (time.monotonic() - rotated)))  # the old key's tokens have all expired
    rotate(JWT, "-p", "action=prune", "-p", "max_token_lifetime_s=2")
    pruned = json.loads(value(sm, JWT))
    assert [k["kid"] for k in pruned["keys"]] == [after["signing_kid"]]
    with pytest.raises(Exception):
        jwks.verify(in_flight, jwks.published(pruned))


def test_sigkill_after_set_secret_resumes_with_one_pending_version(fresh, aws, evidence_dir):
    sm = aws("secretsmanager")
    args = ["-p", f"secret={MCP_OUT}"]
    preview = rovn_ops("run", "secret_rotation", "--quiet", *args)
    assert preview.returncode == 0, preview.stdout + preview.stderr
    plan = _manifest(evidence_dir, "secret_rotation")["plan_hash"]
    execute = [sys.executable, "-m", "rovn_ops.cli", "run", "secret_rotation", "--quiet", *args, "-p", "confirm=true",
               "-p", "approved_by=giles", "-p", f"plan_hash={plan}"]
    urllib3.request("POST", fresh["control_url"] + "/scenario", json={"name": "secret_checks_hang"})
    proc = subprocess.Popen(execute, cwd=ROOT, env=os.environ.copy(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not any(r["details"]["step"] == "setSecret" for r in
                      audit_rows(fresh["database_url"], "secret_rotation_step")):
            assert time.monotonic() < deadline and proc.poll() is None, "the run never reached setSecret"
            time.sleep(0.05)
        kill_tree(proc.pid)  # testSecret hangs on the MCP server: killed after setSecret
        proc.wait()
    finally:
        urllib3.request("POST", fresh["control_url"] + "/scenario", json={"name": "secret_checks_hang", "on": False})
    pending = holder(sm, MCP_OUT, "AWSPENDING")
    assert sum("AWSPENDING" in s for s in stages(sm, MCP_OUT).values()) == 1
    again = subprocess.run(execute, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert holder(sm, MCP_OUT, "AWSCURRENT") == pending and holder(sm, MCP_OUT, "AWSPENDING") is None
    steps = [(r["details"]["step"], r["outcome"]) for r in audit_rows(fresh["database_url"], "secret_rotation_step")]
    assert steps[:2] == [("createSecret", "done"), ("setSecret", "done")]
    assert ("createSecret", "resumed") in steps[2:] and steps[-1] == ("verify", "done")


def test_drift_pages_naming_the_user_and_the_policy(fresh, aws, evidence_dir):
    iam = aws("iam")
    iam.create_user(UserName="mallory")
    iam.put_user_policy(UserName="mallory", PolicyName="sm-everything", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}]}))
    run = rovn_ops("run", "secrets_audit", "--quiet")
    assert run.returncode == 4 and "user/mallory via sm-everything" in run.stdout
    posts = urllib3.request("GET", fresh["control_url"] + "/posts").json()
    [page] = [p for p in posts if p["channel"] == "pagerduty"]
    assert "user/mallory" in page["payload"]["payload"]["summary"] and "sm-everything" in page["payload"]["payload"]["summary"]
    drift = _manifest(evidence_dir, "secrets_audit")["facts"]["secrets_drift"]
    assert {"principal": "user/mallory", "policy": "sm-everything", "allowed": False}.items() <= \
        next(d for d in drift if d["principal"] == "user/mallory").items()
    assert [r["target"] for r in audit_rows(fresh["database_url"], "secrets_drift")] == ["user/mallory"]


def _every_value(sm) -> set[str]:
    """Every version of every secret the sandbox holds, and each string inside a JSON one."""
    found = set()
    for s in sm.list_secrets()["SecretList"]:
        for v in sm.list_secret_version_ids(SecretId=s["ARN"])["Versions"]:
            text = value(sm, s["ARN"], version=v["VersionId"])
            found.add(text)
            try:
                doc = json.loads(text)
            except ValueError:
                continue
            stack = [doc]
            while stack:
                n = stack.pop()
                if isinstance(n, dict):
                    stack += [v for k, v in n.items() if k in ("password", "d")]  # the private parts
                elif isinstance(n, list):
                    stack += n
                elif isinstance(n, str):
                    found.add(n)
    return {f for f in found if len(f) >= 8}


def _inventory(evidence_dir) -> dict[str, dict]:
    return {e["name"]: e for e in _manifest(evidence_dir, "secrets_audit")["facts"]["secrets_inventory"]}


def test_inventory_exits_1_then_0_once_rotated_and_no_secret_value_leaks_anywhere(fresh, aws, evidence_dir):
    """One world for both: the rotations that clear the overdue inventory are the ones
    whose evidence, audit rows and posts the leak scan reads (the audits' too)."""
    sm = aws("secretsmanager")
    before = _every_value(sm)
    run = rovn_ops("run", "secrets_audit", "--quiet")
    assert run.returncode == 4, run.stdout + run.stderr
    assert "2 overdue: rovn/prod/stripe-api-key (120 days" in run.stdout and "jwt-signing-key (200 days" in run.stdout
    facts = _inventory(evidence_dir)
    assert facts[JWT]["status"] == facts[STRIPE]["status"] == "overdue"
    assert facts["rovn/prod/checkr-api-key"]["age_days"] == 30 and facts["rovn/prod/checkr-api-key"]["status"] == "fine"
    stage_provider_key(fresh, sm, "stripe", STRIPE)
    for secret in (DB, JWT, STRIPE, MCP_OUT, "rovn/prod/mcp-inbound-token"):
        rotate(secret)
    run = rovn_ops("run", "secrets_audit", "--quiet")
    assert run.returncode == 0, run.stdout + run.stderr
    facts = _inventory(evidence_dir)
    assert facts[JWT]["age_days"] == 0 and facts[STRIPE]["status"] == "fine"

    values = before | _every_value(sm)
    assert len(values) > len(before)
    haystacks = {str(p): p.read_text(errors="replace") for p in evidence_dir.rglob("*") if p.is_file()}
    with psycopg.connect(fresh["database_url"]) as conn:
        haystacks["audit_log"] = "\n".join(r[0] for r in conn.execute("SELECT row_to_json(a)::text FROM audit_log a"))
    haystacks["webhook sink"] = json.dumps(urllib3.request("GET", fresh["control_url"] + "/posts").json())
    assert any(p.endswith(".html") for p in haystacks) and any(p.endswith("manifest.json") for p in haystacks)
    leaks = [(where, v[:4] + "…") for where, text in haystacks.items() for v in values if v in text]
    assert not leaks


def test_refusals_change_nothing(fresh, aws, evidence_dir):
    sm = aws("secretsmanager")
    before = stages(sm, STRIPE)
    # headless, no key staged: refused before anything (no page: nothing failed)
    run = rovn_ops("run", "secret_rotation", "--quiet", "-p", f"secret={STRIPE}")
    assert run.returncode == 0  # the preview says what is missing
    m = _manifest(evidence_dir, "secret_rotation")
    assert "no new key staged" in Path(m["notebook"]["path"]).read_text()
    run = rovn_ops("run", "secret_rotation", "--quiet", "-p", f"secret={STRIPE}", "-p", "confirm=true",
                   "-p", "approved_by=giles", "-p", f"plan_hash={m['plan_hash']}")
    assert run.returncode == 3 and "no new key staged" in run.stdout
    # a destination off the sandbox: refused before any value is sent
    run = rovn_ops("run", "secret_rotation", "--quiet", "-p", "secret=rovn/prod/mcp-inbound-token",
                   "-p", "mcp_inbound_url=http://mcp.attacker.example/mcp")
    assert run.returncode == 2 and "parameter 'mcp_inbound_url': expected a loopback URL" in run.stderr
    run = rovn_ops("run", "secret_rotation", "--quiet", "-p", "secret=no/such/secret")
    assert run.returncode in (1, 2) and "parameter 'secret'" in run.stdout + run.stderr
    assert stages(sm, STRIPE) == before
    posts = urllib3.request("GET", fresh["control_url"] + "/posts").json()
    assert not [p for p in posts if p["channel"] == "pagerduty"]


def test_a_failed_rollout_pages_keeps_both_passwords_and_the_rerun_finishes(fresh, aws, evidence_dir):
    sm = aws("secretsmanager")
    old = json.loads(value(sm, DB))
    urllib3.request("POST", fresh["control_url"] + "/scenario", json={"name": "ecs_new_tasks_fail"})
    try:
        run = preview_then_execute("-p", f"secret={DB}", runbook="secret_rotation")
    finally:
        urllib3.request("POST", fresh["control_url"] + "/scenario", json={"name": "ecs_new_tasks_fail", "on": False})
    assert run.returncode == 1 and "the old value was NOT retired" in run.stdout + run.stderr
    posts = urllib3.request("GET", fresh["control_url"] + "/posts").json()
    assert any(p["channel"] == "pagerduty" and DB in p["payload"]["payload"]["summary"] for p in posts)
    new = json.loads(value(sm, DB))
    for creds in (old, new):  # both log in: nothing running was cut off
        connect_with(creds).close()
    assert json.loads(urllib3.request("GET", fresh["health_url"]).data)["db"] == "ok"
    rotate(DB)  # the same rotation, resumed: the tasks roll, then the old password goes
    assert json.loads(value(sm, DB)) == new
    with pytest.raises(psycopg.OperationalError):
        connect_with(old).close()


def _its_redeploy_is_explained(began) -> None:
    """The rotation's forced new deployment (a redeploy: no new revision) is matched to the
    rotation in reconcile: its journal names the deployment and the revision it rolled (the
    auditor sample of session 6 found it UNEXPLAINED, a nightly page on every rotation)."""
    report = json.loads(rovn_ops("evidence", "reconcile", "--json").stdout)
    ours = [i for i in report["items"] if i["kind"] == "ECS deployment" and datetime.fromisoformat(i["at"]) >= began]
    assert ours and all(i["matched"] for i in ours), (ours, report)
