import pytest

from rovn_ops.core import aws
from rovn_ops.core.errors import EnvironmentGuard


def test_sandbox_needs_a_loopback_endpoint(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with pytest.raises(EnvironmentGuard, match="AWS_ENDPOINT_URL is not set"):
        aws.guard("sandbox")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://ecs.us-east-2.amazonaws.com")
    with pytest.raises(EnvironmentGuard, match="not a sandbox"):
        aws.guard("sandbox")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", "https://ecs.amazonaws.com")
    with pytest.raises(EnvironmentGuard, match="AWS_ENDPOINT_URL_ECS"):
        aws.guard("sandbox")


def test_prod_refuses_sandbox_endpoints(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:5000")
    with pytest.raises(EnvironmentGuard, match="--env prod refused"):
        aws.guard("prod")
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    for var in aws.DATABASE_VARS:
        monkeypatch.delenv(var, raising=False)
    aws.guard("prod")  # no endpoint override: the real AWS endpoints


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.9.9.9", True), ("localhost", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("127.attacker.invalid", False), ("localhost.attacker.invalid", False), ("a.localhost", False),
    ("10.0.0.1", False), ("passport.rovn.to", False), ("", False),
    # as the resolver reads them (session 6: `--env prod` took these sandbox endpoints)
    ("LOCALHOST", True), ("localhost.", True), ("127.1", True), ("2130706433", True), ("0x7f000001", True),
    ("0", True), ("10.1", False), ("0x0a000001", False), ("1e100.net", False)])
def test_loopback_is_a_parsed_ip_or_exactly_localhost(host, loopback):
    assert aws.is_loopback(host) is loopback


def test_a_name_that_starts_with_127_is_not_a_sandbox(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.attacker.invalid:8080")
    with pytest.raises(EnvironmentGuard, match="AWS_ENDPOINT_URL .host 127.attacker.invalid. is not a sandbox"):
        aws.guard("sandbox")


@pytest.mark.parametrize("var", aws.DATABASE_VARS)
@pytest.mark.parametrize("url, local", [
    ("postgresql://app:s3cret-pw@127.0.0.1:5432/rovn", True), ("postgresql://app@localhost/rovn", True),
    ("host=/tmp/pgsock dbname=rovn", True), ("postgresql:///rovn", True),
    ("postgresql://app:s3cret-pw@rovn-prod-db.abc.us-east-2.rds.amazonaws.com:5432/rovn", False),
    ("postgresql://app:s3cret-pw@127.attacker.invalid/rovn", False),
    ("host=127.0.0.1 hostaddr=10.1.2.3 dbname=rovn", False)])
def test_databases_are_guarded_like_endpoints(monkeypatch, var, url, local):
    """Sandbox runs refuse a database that is not on this machine; prod runs refuse
    one that is. The refusal names the variable and host, never the password."""
    for v in aws.DATABASE_VARS:
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv(var, url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    refused_env = "prod" if local else "sandbox"
    if local:
        aws.guard("sandbox")
        monkeypatch.delenv("AWS_ENDPOINT_URL")
    with pytest.raises(EnvironmentGuard) as e:
        aws.guard(refused_env)
    assert var in str(e.value) and "s3cret" not in str(e.value) and "\n" not in str(e.value)
    if not local:
        monkeypatch.delenv("AWS_ENDPOINT_URL")
        aws.guard("prod")


def test_client_uses_region_standard_retries_and_endpoint(sandbox):
    ecs = aws.client("ecs", env="sandbox", region="us-east-2")
    assert ecs.meta.region_name == "us-east-2"
    assert ecs.meta.config.retries["mode"] == "standard"
    assert ecs.meta.endpoint_url == sandbox["endpoint"]
    assert aws.caller_arn("sandbox", "us-east-2").endswith(":user/claude-deploy")


@pytest.mark.parametrize("url, says", [
    ("postgresql://app:s3cret-pw@127.0.0.1:/rovn", "host 127.0.0.1 has a ':' but no port"),
    ("postgresql://app:s3cret-pw@[::1]:/rovn", "host ::1 has a ':' but no port"),
    ("postgresql://app:s3cret-pw@127.0.0.1:5432,localhost:/rovn", "host localhost has a ':' but no port"),
    ("postgresql://app:s3cret-pw@127.0.0.1:x/rovn", "port 'x' is not a number from 1 to 65535"),
    ("postgresql://app:s3cret-pw@127.0.0.1:99999/rovn", "port '99999' is not a number from 1 to 65535"),
    ("host=127.0.0.1 port=abc dbname=rovn password=s3cret-pw", "port 'abc' is not a number from 1 to 65535")])
@pytest.mark.parametrize("var", aws.DATABASE_VARS)
def test_a_database_url_without_a_usable_port_is_bad_input(monkeypatch, var, url, says):
    """libpq reads `host:` with no port as port 5432 and `:x` fails only when it connects
    (a psycopg OperationalError, mid-run): both are the operator's typo, refused up front."""
    for v in aws.DATABASE_VARS:
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv(var, url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    with pytest.raises(EnvironmentGuard) as e:
        aws.guard("sandbox")
    assert str(e.value).startswith(f"{var}: {says}") and "s3cret" not in str(e.value)
    assert "\n" not in str(e.value)


def test_a_draft_with_a_database_url_missing_its_port_is_one_line_and_exit_2(tmp_path):
    """`rovn-ops run draft.ipynb` with DATABASE_URL=…@127.0.0.1:/rovn: one line, exit 2,
    no run started (no spool, no evidence). Before: the run failed mid-way (exit 1)
    with psycopg's OperationalError, and its evidence stayed spooled."""
    import json
    import os
    import subprocess
    import sys

    import nbformat

    draft = tmp_path / "draft.ipynb"
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("from rovn_ops.clients import db\ndb.connect().execute('select 1')")]
    nbformat.write(nb, draft)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ROVN_", "PG"))}
    env |= {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "DATABASE_URL": "postgresql://app:s3cret-pw@127.0.0.1:/rovn",
            "ROVN_EVIDENCE_DIR": str(tmp_path / "evidence"), "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "rovn_ops.cli", "run", str(draft)], capture_output=True,
                         text=True, env=env, timeout=120)
    lines = (out.stdout + out.stderr).strip().splitlines()
    assert out.returncode == 2, json.dumps(lines)
    assert len(lines) == 1 and "DATABASE_URL: host 127.0.0.1 has a ':' but no port" in lines[0], lines
    assert "Traceback" not in out.stderr and "s3cret" not in lines[0]
    assert not (tmp_path / "evidence").exists() or not any((tmp_path / "evidence").rglob("*.ipynb"))
