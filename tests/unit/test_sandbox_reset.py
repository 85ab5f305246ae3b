"""A reset restores the world the seed kept (world_snapshot): after a test's writes
across ECS, Secrets Manager, the object-locked evidence bucket, the database, the
source checkout and its remote, the scenarios and the sink, the world is again the
one a full seed built, byte for byte where tests look."""
import hashlib
import shutil
import json
from pathlib import Path

import psycopg
import urllib3

from rovn_ops.audit import log as audit
from rovn_ops.evidence import anchor
from rovn_sandbox import control, github, world_snapshot

CLUSTER, SERVICE, FAMILY = "rovn-prod", "rovn-passport-api", "rovn-passport-api"
BUCKET = "rovn-evidence-archive"
REDRAWN = {"database", "jwt", "api-key", "mcp-token"}  # classes whose values each reset draws anew


def _ecs(aws) -> dict:
    ecs = aws("ecs")
    arns = [a for p in ecs.get_paginator("list_task_definitions").paginate(familyPrefix=FAMILY)
            for a in p["taskDefinitionArns"]]
    svc = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    return {"task_definitions": arns, "service": svc["taskDefinition"],
            "deployments": [(d["id"], d["taskDefinition"], d["status"]) for d in svc["deployments"]]}


def _secrets(aws) -> dict:
    sm = aws("secretsmanager")
    out = {}
    for s in (s for p in sm.get_paginator("list_secrets").paginate() for s in p["SecretList"]):
        versions = sm.list_secret_version_ids(SecretId=s["ARN"], IncludeDeprecated=True)["Versions"]
        entry = {"arn": s["ARN"], "versions": sorted((v["VersionId"], tuple(sorted(v.get("VersionStages", []))))
                                                     for v in versions)}
        tags = {t["Key"]: t["Value"] for t in s.get("Tags", [])}
        if tags.get("class") not in REDRAWN and not s["Name"].startswith("rds!"):
            value = sm.get_secret_value(SecretId=s["ARN"])["SecretString"]
            entry["value_sha256"] = hashlib.sha256(value.encode()).hexdigest()
        out[s["Name"]] = entry
    return out


def _bucket(aws) -> dict:
    s3 = aws("s3")
    listing = s3.list_object_versions(Bucket=BUCKET)
    return {"buckets": sorted(b["Name"] for b in s3.list_buckets()["Buckets"]),
            "objects": sorted((v["Key"], v["VersionId"]) for v in listing.get("Versions", [])),
            "lock": s3.get_object_lock_configuration(Bucket=BUCKET)["ObjectLockConfiguration"]}


def _database(sandbox: dict) -> dict:
    with psycopg.connect(sandbox["admin_database_url"], autocommit=True) as conn:
        rows = lambda sql: [tuple(map(str, r)) for r in conn.execute(sql).fetchall()]  # noqa: E731
        # Times and hashes are new on every reset (a new chain, as a new seed starts one).
        return {"audit_log": rows("SELECT id, actor, action, target, outcome, run_id, details "
                                  "FROM audit_log ORDER BY id"),
                "columns": rows("SELECT table_name, column_name, data_type FROM information_schema.columns "
                                "WHERE table_schema = 'public' ORDER BY 1, 2"),
                "workers": rows("SELECT * FROM workers ORDER BY 1")}


def _chain(sandbox: dict) -> tuple[str, bool]:
    """The audit chain's name (its first row's hash) and whether it verifies."""
    with psycopg.connect(sandbox["admin_database_url"], autocommit=True) as conn:
        return anchor.chain_id(conn), audit.verify(conn).ok


def _git(sandbox: dict) -> dict:
    src = Path(sandbox["source_dir"])
    origin = github.git(src, "remote", "get-url", "origin")
    return {"head": github.git(src, "rev-parse", "HEAD"), "log": github.git(src, "log", "--format=%H %s"),
            "tags": github.git(src, "tag", "-l"), "status": github.git(src, "status", "--porcelain"),
            "origin_refs": github.git(Path(origin), "for-each-ref", "--format=%(refname) %(objectname)")}


def _world(sandbox: dict, aws) -> dict:
    return {"ecs": _ecs(aws), "secrets": _secrets(aws), "bucket": _bucket(aws), "database": _database(sandbox),
            "git": _git(sandbox), "scenarios": control.scenarios(sandbox)["active"],
            "sink": control.posts(sandbox)}


def _mutate(sandbox: dict, aws) -> None:
    """What tests do: deploy a revision, rotate and add secrets, archive evidence under
    object lock, write audit rows and change the schema, commit, tag and push, switch a
    scenario on, post a webhook."""
    ecs = aws("ecs")
    td = ecs.describe_task_definition(taskDefinition=FAMILY)["taskDefinition"]
    keep = ("family", "containerDefinitions", "volumes", "networkMode", "requiresCompatibilities", "cpu", "memory",
            "executionRoleArn", "taskRoleArn")
    new = ecs.register_task_definition(**{k: td[k] for k in keep if k in td})["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=new)
    sm = aws("secretsmanager")
    sm.put_secret_value(SecretId="rovn/prod/sentry-api-token", SecretString="rotated-by-a-test")
    sm.create_secret(Name="rovn/prod/left-by-a-test", SecretString="x")
    aws("s3").put_object(Bucket=BUCKET, Key="runs/left-by-a-test/manifest.json", Body=b"{}")
    with psycopg.connect(sandbox["database_url"], autocommit=True) as conn:
        audit.append(conn, actor="test", action="deploy", target=SERVICE, outcome="success", run_id="left-by-a-test")
    with psycopg.connect(sandbox["admin_database_url"], autocommit=True) as conn:
        conn.execute("ALTER TABLE workers ADD COLUMN left_by_a_test int")
        conn.execute("DELETE FROM workers WHERE full_name = 'Cai Lin'")
    src = Path(sandbox["source_dir"])
    (src / "LEFT_BY_A_TEST.md").write_text("a change\n")
    github.git(src, "add", "-A")
    github.git(src, "commit", "-q", "-m", "a test's commit")
    github.git(src, "tag", "left-by-a-test")
    github.git(src, "push", "-q", "origin", "main", "--tags")
    (src / "UNCOMMITTED.md").write_text("dirty\n")
    control.scenario(sandbox, "health_down")
    urllib3.request("POST", sandbox["sink_url"] + "/test", body=json.dumps({"text": "left by a test"}).encode())


def test_reset_restores_every_part_of_a_mutated_world_to_the_seed(sandbox, aws):
    control.reset(sandbox, full=True)  # seeded anew, as a sandbox starts: the reference
    seeded, since, (chain, _) = _world(sandbox, aws), control.state()["world_since"], _chain(sandbox)
    _mutate(sandbox, aws)
    mutated = _world(sandbox, aws)
    # Each part shows the test's writes: were the reset to skip restoring one, this test fails.
    for part in seeded:
        assert mutated[part] != seeded[part], part

    control.reset(sandbox)
    restored = _world(sandbox, aws)
    for part in seeded:
        assert restored[part] == seeded[part], part
    assert control.state()["world_since"] > since
    # A new world, a new chain (evidence tells worlds apart by it), intact from genesis.
    new_chain, intact = _chain(sandbox)
    assert new_chain != chain and intact
    # The next reset restores the same world again (what the restore put back was a copy).
    _mutate(sandbox, aws)
    control.reset(sandbox)
    assert _world(sandbox, aws) == seeded


def test_health_and_database_logins_work_after_a_restore(sandbox):
    """Secret values are drawn anew by every reset: the running tasks' database
    credentials log in to the restored database, /health says so."""
    control.reset(sandbox)
    body = json.loads(urllib3.request("GET", sandbox["health_url"]).data)
    assert body == {"status": "ok", "version": "prod-202605270526-ai-competitive-fix", "db": "ok"}


def test_an_edited_sample_changes_the_inputs_stamp(tmp_path):
    """A sample migration edited while the sandbox runs is rebuilt at the next reset."""
    (tmp_path / "migrations").mkdir()
    sql = tmp_path / "migrations" / "0001.sql"
    sql.write_text("CREATE TABLE t (id int);\n")
    before = world_snapshot.inputs_stamp(tmp_path / "migrations")
    assert world_snapshot.inputs_stamp(tmp_path / "migrations") == before
    sql.write_text("CREATE TABLE t (id bigint);\n")
    assert world_snapshot.inputs_stamp(tmp_path / "migrations") != before
    (tmp_path / "migrations" / "0002.sql").write_text("")
    assert world_snapshot.inputs_stamp(tmp_path / "migrations") != before


def test_directories_restore_puts_back_content_modes_links_and_removes_additions(tmp_path):
    root = tmp_path / "checkout"
    (root / "app" / "sub").mkdir(parents=True)
    (root / "app" / "main.py").write_text("print('seeded')\n")
    (root / "app" / "sub" / "data.txt").write_text("data\n")
    (root / "pack").write_bytes(b"\x00\x01")
    (root / "pack").chmod(0o444)
    (root / "link").symlink_to("app/main.py")
    kept = world_snapshot.Directories(root)
    seeded = world_snapshot._tree(root)

    (root / "app" / "main.py").write_text("print('edited')\n")
    (root / "app" / "sub" / "data.txt").unlink()
    (root / "app" / "sub" / "data.txt").mkdir()  # a file became a directory
    (root / "new" / "deep").mkdir(parents=True)
    (root / "new" / "deep" / "x").write_text("x")
    (root / "pack").chmod(0o644)
    (root / "link").unlink()
    (root / "link").symlink_to("elsewhere")
    shutil.rmtree(root / "app" / "sub")
    (root / "app" / "sub").write_text("a directory became a file")
    assert world_snapshot._tree(root) != seeded  # were restore to do nothing, the test fails

    kept.restore()
    assert world_snapshot._tree(root) == seeded
    kept.restore()  # untouched: nothing to do, still the same
    assert world_snapshot._tree(root) == seeded
