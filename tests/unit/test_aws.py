import pytest

from rovn_ops import aws
from rovn_ops.errors import EnvironmentGuard


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
    ("10.0.0.1", False), ("passport.rovn.to", False), ("", False)])
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
