"""The §8 inventory of 1,000 secrets (classes, ages of the current versions, statuses)
against a plain paginated ListSecrets plus one DescribeSecret per secret, both over
HTTP to a moto server in this process. Target: ratio <= 1.5."""
from __future__ import annotations

import socket
import statistics
import time
from datetime import datetime, timedelta, timezone

import boto3

from rovn_ops.secrets import inventory, policy

SECRETS, RUNS = 1000, 5
CLASSES = ["jwt-signing-key", "stripe-api-key", "db-master", "mcp-inbound-token", "unclassified"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(sm) -> None:
    from moto.secretsmanager.models import secretsmanager_backends

    for i in range(SECRETS):
        sm.create_secret(Name=f"bench/{i:04d}/{CLASSES[i % len(CLASSES)]}", SecretString="v" * 32,
                         Tags=[{"Key": "team", "Value": "bench"}])
    backend = secretsmanager_backends["123456789012"]["us-east-2"]
    now = datetime.now(timezone.utc)
    for i, secret in enumerate(backend.secrets.values()):
        when = int((now - timedelta(days=i % 250)).timestamp())
        secret.created_date = when
        secret.versions[secret.default_version_id]["createdate"] = when


def baseline(sm) -> int:
    """What anyone would write first: every page of ListSecrets, then DescribeSecret each."""
    n = 0
    for page in sm.get_paginator("list_secrets").paginate():
        for s in page["SecretList"]:
            sm.describe_secret(SecretId=s["ARN"])
            n += 1
    return n


def timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def main() -> dict:
    import logging

    from moto.server import ThreadedMotoServer

    from rovn_sandbox import secretsmanager_fixes

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request is noise

    secretsmanager_fixes.install()
    port = _port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        sm = boto3.client("secretsmanager", region_name="us-east-2", endpoint_url=f"http://127.0.0.1:{port}",
                          aws_access_key_id="bench", aws_secret_access_key="bench")
        seed(sm)
        pol = policy.load()
        inv = inventory.take(sm, pol)
        assert len(inv.entries) == SECRETS and inv.overdue and baseline(sm) == SECRETS  # warm, and sound
        ours, base = [], []
        for _ in range(RUNS):
            base.append(timed(baseline, sm))
            ours.append(timed(inventory.take, sm, pol))
    finally:
        server.stop()
    ratio = statistics.median(ours) / statistics.median(base)
    print(f"secrets inventory of {SECRETS}: median {statistics.median(ours):.3f}s; list+describe baseline "
          f"{statistics.median(base):.3f}s; ratio {ratio:.2f} (target <= 1.5)", flush=True)
    return {"name": f"secrets inventory ({SECRETS} secrets)", "median_s": round(statistics.median(ours), 3),
            "baseline_median_s": round(statistics.median(base), 3), "ratio": round(ratio, 3), "target": "<= 1.5"}


if __name__ == "__main__":
    main()
