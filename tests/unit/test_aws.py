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
    aws.guard("prod")  # no endpoint override: the real AWS endpoints


def test_client_uses_region_standard_retries_and_endpoint(sandbox):
    ecs = aws.client("ecs", env="sandbox", region="us-east-2")
    assert ecs.meta.region_name == "us-east-2"
    assert ecs.meta.config.retries["mode"] == "standard"
    assert ecs.meta.endpoint_url == sandbox["endpoint"]
    assert aws.caller_arn("sandbox", "us-east-2").endswith(":user/claude-deploy")
