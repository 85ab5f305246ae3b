"""AWS clients: one region, botocore's standard retry mode, the endpoint from the
environment, and a guard so the sandbox and production are never confused."""
from __future__ import annotations

import os
from functools import lru_cache
from urllib.parse import urlsplit

from .errors import EnvironmentGuard

LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


def endpoints() -> dict[str, str]:
    """AWS_ENDPOINT_URL and its per-service forms (AWS_ENDPOINT_URL_ECS …)."""
    return {k: v for k, v in os.environ.items() if k.startswith("AWS_ENDPOINT_URL") and v}


def is_sandbox_endpoint(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in LOOPBACK or host.startswith("127.") or host.endswith(".localhost")


def guard(env: str) -> None:
    """Sandbox runs need a loopback endpoint; prod runs refuse any loopback endpoint."""
    found = endpoints()
    if env == "prod":
        bad = {k: v for k, v in found.items() if is_sandbox_endpoint(v)}
        if bad:
            name, url = next(iter(bad.items()))
            raise EnvironmentGuard(f"--env prod refused: {name}={url} points at the sandbox; "
                                   "open a shell without the sandbox's exports")
        return
    if "AWS_ENDPOINT_URL" not in found:
        raise EnvironmentGuard("--env sandbox: AWS_ENDPOINT_URL is not set; start the sandbox "
                               "(rovn-ops sandbox up) and eval \"$(rovn-ops sandbox env)\"")
    bad = {k: v for k, v in found.items() if not is_sandbox_endpoint(v)}
    if bad:
        name, url = next(iter(bad.items()))
        raise EnvironmentGuard(f"--env sandbox refused: {name}={url} is not a sandbox (loopback) endpoint")


@lru_cache(maxsize=64)
def _cached(service: str, region: str, endpoint: str | None):
    import boto3
    from botocore.config import Config

    config = Config(region_name=region, retries={"mode": "standard", "max_attempts": 5},
                    connect_timeout=5, read_timeout=30)
    return boto3.session.Session().client(service, config=config, endpoint_url=endpoint)


def client(service: str, *, env: str, region: str):
    """A boto3 client, after the guard. Clients are cached per service and region."""
    guard(env)
    return _cached(service, region, os.environ.get("AWS_ENDPOINT_URL"))


def caller_arn(env: str, region: str) -> str:
    return client("sts", env=env, region=region).get_caller_identity()["Arn"]
