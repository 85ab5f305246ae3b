"""The sandbox's secrets as the rotation runbook finds them in production: values of
the right shape, each accepted where it is used, and IAM principals that read them.

- the database secret names a login role with a password that PostgreSQL checks
  (pg_hba: scram-sha-256 for the two alternating users), and `masterarn` names the
  RDS-managed master secret (rds!db-…, here the embedded server's superuser) that
  ALTER ROLE runs as;
- the JWT secret is a JWKS with one signing key;
- each API key was issued by the fake provider, each MCP token is accepted by the stub;
- the ECS execution role reads the secrets, claude-deploy (§10: PowerUser + IAMFull +
  ArtifactSync) and break-glass-admin can too: the allow-list in parameters/sandbox.yaml
  names them;
- the RDS-managed master secret is rotated by RDS, as RDS sets it up (rotation on, every
  7 days): moto creates it with rotation off.

Values are set on moto's backend, keeping the versions and ages the world gave them."""
from __future__ import annotations

import json
import secrets as pysecrets

import psycopg

from rovn_ops.core import jwk_document
from rovn_sandbox import fakes

ACCOUNT = "123456789012"
APP_ROLE = "rovn_app"
USERS = ("rovn_svc", "rovn_svc_clone")
HBA_MARK = "# rovn sandbox: the alternating users log in with passwords"


def _backend(region: str):
    from moto.secretsmanager.models import secretsmanager_backends

    return secretsmanager_backends[ACCOUNT][region]


def set_current(region: str, name: str, value: str) -> None:
    secret = _backend(region).secrets[name]
    secret.versions[secret.default_version_id]["secret_string"] = value


def _conninfo(url: str) -> dict:
    from psycopg.conninfo import conninfo_to_dict

    return conninfo_to_dict(url)


def seed_database(admin_db_url: str, embedded: bool) -> dict:
    """The alternating users and the master's credentials; returns the app secret's JSON."""
    password = pysecrets.token_urlsafe(24)
    with psycopg.connect(admin_db_url, autocommit=True) as conn:
        for user in USERS:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [user]).fetchone():
                conn.execute(f"CREATE ROLE {user} LOGIN IN ROLE {APP_ROLE}")
        verifier = conn.pgconn.encrypt_password(password.encode(), USERS[0].encode(), b"scram-sha-256").decode()
        conn.execute(psycopg.sql.SQL("ALTER ROLE rovn_svc PASSWORD {}").format(psycopg.sql.Literal(verifier)))
        conn.execute("ALTER ROLE rovn_svc_clone PASSWORD NULL")
        if embedded:
            _require_passwords(conn)
    info = _conninfo(admin_db_url)
    where = {"engine": "postgres", "host": info.get("host") or "localhost", "port": int(info.get("port") or 5432),
             "dbname": info.get("dbname")}
    return {"app": {**where, "username": USERS[0], "password": password},
            "master": {**where, "username": info.get("user") or "postgres", "password": info.get("password") or ""}}


def _require_passwords(conn) -> None:
    """The embedded server trusts local logins; the alternating users must show a password."""
    from pathlib import Path

    hba = Path(conn.execute("SHOW hba_file").fetchone()[0])
    text = hba.read_text()
    if HBA_MARK not in text:
        users = ",".join(USERS)
        hba.write_text(f"{HBA_MARK}\nlocal all {users} scram-sha-256\nhost all {users} all scram-sha-256\n" + text)
        conn.execute("SELECT pg_reload_conf()")


def seed(world: dict, admin_db_url: str, embedded: bool) -> None:
    region = world["region"]
    by_class = {s["name"]: s for s in world["secrets"]}
    creds = seed_database(admin_db_url, embedded)
    backend = _backend(region)
    fakes.STATE.clear()
    for name, spec in by_class.items():
        klass = spec["class"]
        if klass == "database":
            value = {**creds["app"], "masterarn": _rds_master(region, creds["master"])}
        elif klass == "jwt":
            value = jwk_document.new_document("rovn-seed-" + pysecrets.token_hex(4))
        elif klass == "api-key":
            value = fakes.STATE.issue(spec["provider"])
        elif klass == "mcp-token":
            value = pysecrets.token_urlsafe(32)
            fakes.STATE.accept_mcp(spec["direction"], value)
        else:
            continue
        set_current(region, name, value if isinstance(value, str) else json.dumps(value, sort_keys=True))
    fakes.STATE.seal_seed()


def _rds_master(region: str, master: dict) -> str:
    """The RDS instance's managed master secret (ManageMasterUserPassword) holds the
    embedded server's superuser: ALTER ROLE runs as it."""
    from moto.rds.models import rds_backends

    instance = next(iter(rds_backends[ACCOUNT][region].databases.values()))
    secret = instance.master_user_secret.secret
    set_current(region, secret.name, json.dumps(master, sort_keys=True))
    # as RDS sets it up: managed rotation on, every 7 days, no Lambda
    # (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html)
    secret.rotation_requested = secret.rotation_enabled = True
    secret.auto_rotate_after_days = 7
    return secret.arn


def seed_iam(endpoint: str, region: str, spec: dict) -> None:
    """Principals that read secrets (§8's drift check compares them with the allow-list)."""
    from rovn_sandbox.world import _client

    iam = _client(endpoint, region, "iam")
    doc = lambda *stmts: json.dumps({"Version": "2012-10-17", "Statement": list(stmts)})  # noqa: E731
    iam.create_role(RoleName=spec["execution_role"], AssumeRolePolicyDocument=doc(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ecs-tasks.amazonaws.com"}}))
    iam.put_role_policy(RoleName=spec["execution_role"], PolicyName="read-service-secrets", PolicyDocument=doc(
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
         "Resource": f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:rovn/prod/*"}))
    for user, policies in spec["user_policies"].items():
        for policy in policies if isinstance(policies, list) else [policies]:
            if policy.get("inline"):  # the user's own policy: it stays off the attached (managed) list
                iam.put_user_policy(UserName=user, PolicyName=policy["name"], PolicyDocument=doc(*policy["statements"]))
                continue
            arn = iam.create_policy(PolicyName=policy["name"], PolicyDocument=doc(*policy["statements"]))["Policy"]["Arn"]
            iam.attach_user_policy(UserName=user, PolicyArn=arn)
