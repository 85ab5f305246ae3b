"""A secret goes only to its declared endpoint, end to end: for every URL parameter a
secret travels to (parameters/sandbox.yaml's `endpoints:`), a local listener given as
that URL, with each secret the sandbox holds named as the one to send, receives
nothing: the run is refused (exit 2) before any value is read."""
from __future__ import annotations

import http.server
import threading

import pytest

from rovn_ops.core import endpoints
from rovn_ops.safety import params
from tests.conftest import rovn_ops


@pytest.fixture
def listener():
    """An HTTP server on loopback that records every request it gets."""
    got: list[str] = []

    class Record(http.server.BaseHTTPRequestHandler):
        def _any(self):
            got.append(f"{self.command} {self.path} {dict(self.headers)}")
            self.send_response(200)
            self.end_headers()
        do_GET = do_POST = do_PUT = _any

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Record)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", got
    finally:
        server.shutdown()


def _pairs():
    declared = endpoints.declared(params.environment_file("sandbox"))
    for url, secrets in declared.items():
        for secret in secrets:
            runbook = next(r for r, m in params.MODELS.items() if url in m.model_fields and secret in m.model_fields)
            yield runbook, url, secret


def test_a_listener_given_each_secret_receives_nothing(fresh, aws, listener, evidence_dir):
    base, got = listener
    names = [s["Name"] for page in aws("secretsmanager").get_paginator("list_secrets").paginate()
             for s in page["SecretList"]]
    assert len(names) >= 10 and "rovn/prod/db-master" in names
    pairs = list(_pairs())
    assert {p[1] for p in pairs} >= {"sentry_url", "github_api_url", "pagerduty_webhook_url"}
    for runbook, url, secret in pairs:
        for name in names:
            run = rovn_ops("run", runbook, "--quiet", "-p", f"{url}={base}/{name}", "-p", f"{secret}=secret:{name}")
            assert run.returncode == 2, (runbook, url, name, run.stdout + run.stderr)
            assert f"parameter '{url}'" in run.stderr or f"parameter '{secret}'" in run.stderr
            assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
    assert got == []
    assert not evidence_dir.exists() or not list(evidence_dir.rglob("manifest.json"))  # nothing ran
    # the listener does hear what is sent to it (so the silence above means something)
    import urllib3
    urllib3.request("GET", base + "/probe")
    assert len(got) == 1
