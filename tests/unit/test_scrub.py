"""Redaction of registered values in every derived form, and secret shapes."""
import base64
import html
import json
import urllib.parse

import pytest

from rovn_ops.safety import scrub
from rovn_ops.evidence import scrubbing

CANARY = 'Canary-ü&<"\'/+secret-0123456789'


def derived(v: str) -> dict[str, str]:
    b = v.encode()
    return {
        "plain": v, "repr": repr(v), "json": json.dumps(v), "json-utf8": json.dumps(v, ensure_ascii=False),
        "html": html.escape(v), "html-noquote": html.escape(v, quote=False), "html-of-json": html.escape(json.dumps(v)),
        "url": urllib.parse.quote(v, safe=""), "url-plus": urllib.parse.quote_plus(v),
        "base64": base64.b64encode(b).decode(), "base64url": base64.urlsafe_b64encode(b).decode(),
        "base64-inside": base64.b64encode(b"password=" + b + b"&x").decode(),
        "base64-shift1": base64.b64encode(b"x" + b).decode(), "base64-shift2": base64.b64encode(b"xy" + b).decode(),
        "hex": b.hex(), "HEX": b.hex().upper(), "upper": v.upper(), "lower": v.lower(), "swapcase": v.swapcase(),
        "repr-in-dict": repr({"k": v}), "json-nested": json.dumps({"a": {"b": v}}),
    }


@pytest.mark.parametrize("form", list(derived(CANARY)))
def test_each_derived_form_is_redacted(form):
    r = scrub.Redactor([CANARY])
    text = f"before {derived(CANARY)[form]} after"
    out = r.text(text)
    assert out != text and out.startswith("before ") and "after" in out
    for leak in derived(CANARY).values():
        assert leak not in out


def test_in_a_serialized_notebook_each_form_is_redacted_and_the_json_stays_valid():
    r = scrub.Redactor([CANARY])
    nb = {"cells": [{"cell_type": "code", "source": "x", "outputs": [
        {"output_type": "stream", "name": "stdout", "text": [f"{k}: {v}\n" for k, v in derived(CANARY).items()]}]}]}
    doc = r.document(json.dumps(scrubbing.joined(nb), indent=1, ensure_ascii=False))
    text = json.loads(doc)["cells"][0]["outputs"][0]["text"]
    lines = dict(line.split(": ", 1) for line in text.splitlines())
    for k, v in derived(CANARY).items():
        assert v not in text and "[REDACTED]" in lines[k], k


def test_a_value_printed_in_two_flushed_parts_is_redacted_once_joined():
    half = len(CANARY) // 2
    nb = {"cells": [{"cell_type": "code", "source": ["a\n", "b"], "outputs": [
        {"output_type": "stream", "name": "stdout", "text": "x " + CANARY[:half]},
        {"output_type": "stream", "name": "stdout", "text": [CANARY[half:], " y\n"]},
        {"output_type": "stream", "name": "stderr", "text": "other\n"}]}]}
    joined = scrubbing.joined(nb)["cells"][0]
    assert joined["source"] == "a\nb" and len(joined["outputs"]) == 2
    out = scrub.Redactor([CANARY]).document(json.dumps(joined, ensure_ascii=False))
    assert json.loads(out)["outputs"][0]["text"] == "x [REDACTED] y\n"


def test_short_values_are_not_matched_and_are_reported():
    assert scrub.register("short") == ["short"]
    assert "short" not in scrub.registered()
    assert scrub.Redactor(["short"]).text("a short text") == "a short text"


@pytest.mark.parametrize("shape", [
    "AKIAIOSFODNN7EXAMPLE",
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIG9vb29vb29vb29vb29vb29v",  # no footer
    "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY-----",
    "ghp_" + "a1B2c3D4e5" * 4, "github_pat_11ABCDEFG0" + "x" * 40,
    "xoxb-1234567890-abcdefghij", "xoxp-1234567890-abcdefghij",
    "https://hooks.slack.com/services/T0001/B0002/abcdefghijklmnopqrstuvwx",
    "https://events.pagerduty.com/integration/0123456789abcdef0123456789abcdef/enqueue",
    "Bearer abcdefghijklmnopqrstuvwxyz", "postgresql://app:hunter2hunter2@db:5432/rovn",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
])
def test_secret_shapes_are_found_and_redacted(shape):
    assert scrub.looks_secret_value(shape)
    assert scrub.redact(f"x {shape} y") != f"x {shape} y"


def test_aws_secret_access_key_alone_is_a_secret_value_but_a_git_sha_is_not():
    assert scrub.looks_secret_value("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    assert not scrub.looks_secret_value("0f3c9e5a1b2d4c6e8f0a1b2c3d4e5f6a7b8c9d0e")
    assert not scrub.looks_secret_value("rovn-passport-api")


@pytest.mark.parametrize("name,secret", [("DB_PASSWORD", True), ("AWS_SECRET_ACCESS_KEY", True),
                                         ("GITHUB_TOKEN", True), ("STRIPE_KEY", True), ("LOG_LEVEL", False),
                                         ("FEATURE_FLAGS", False), ("DB_PASSWD", True)])
def test_secret_env_names(name, secret):
    assert scrub.looks_secret_env_name(name) is secret


def test_sealed_values_open_only_with_the_runs_key(tmp_path, monkeypatch):
    key = scrub.new_key()
    monkeypatch.setenv(scrub.REDACT_KEY_ENV, key)
    monkeypatch.setenv("ROVN_RESULT_FILE", str(tmp_path / "r.json"))
    scrub.register("sealed-canary-" + "9" * 12)
    raw = (tmp_path / "r.json").read_text()
    assert "sealed-canary" not in raw
    tokens = json.loads(raw)["redact_sealed"]
    assert scrub.unseal(tokens, key) == ["sealed-canary-999999999999"]
    assert scrub.unseal(tokens, scrub.new_key()) == []


def test_short_json_leaves_are_reported_only_under_secret_keys():
    doc = json.dumps({"username": "app", "port": "5432", "password": "pw12", "nested": {"api_key": "k1"}})
    assert sorted(scrub.register(doc)) == ["k1", "pw12"]


def test_a_webhook_urls_path_and_query_and_numeric_json_leaves_are_secret_too():
    url = "https://hooks.slack.example/hooks/T0AAAA/B0BBBB/WebhookTokenCanaryXyZ123?token=QueryTokenCanary99"
    scrub.register(url)
    scrub.register(json.dumps({"pin": 80808080123, "user": "app"}))
    said = ("POST failed, url: /hooks/T0AAAA/B0BBBB/WebhookTokenCanaryXyZ123 | q token=QueryTokenCanary99 "
            "| pin 80808080123")
    out = scrub.Redactor(scrub.registered()).text(said)
    for part in ("WebhookTokenCanaryXyZ123", "QueryTokenCanary99", "80808080123"):
        assert part not in out, out
    assert "POST failed, url:" in out


def test_stderr_split_by_a_stdout_write_is_redacted_once_joined():
    half = len(CANARY) // 2
    nb = {"cells": [{"cell_type": "code", "source": "", "outputs": [
        {"output_type": "stream", "name": "stderr", "text": "e " + CANARY[:half]},
        {"output_type": "stream", "name": "stdout", "text": "between\n"},
        {"output_type": "stream", "name": "stderr", "text": CANARY[half:] + "\n"}]}]}
    out = json.loads(scrub.Redactor([CANARY]).document(json.dumps(scrubbing.joined(nb), ensure_ascii=False)))
    assert [o["text"] for o in out["cells"][0]["outputs"]] == ["e [REDACTED]\n", "between\n"]


def test_operator_credentials_are_every_credential_the_process_sees(tmp_path):
    """Issue 20 class 6: what the operator brings is registered at start."""
    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = from-the-file-1234\n"
                     "aws_session_token = session-from-file-5678\n")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text("# comment\ndb.example:5432:*:app:pass\\:with-colon\n")
    environ = {"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_SESSION_TOKEN": "IQoJsession-tok",
               "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "PGPASSWORD": "pg-password-1",
               "DATABASE_URL": "postgresql://app:url%40password@db.example:5432/rovn",
               "ROVN_MIGRATION_DATABASE_URL": "host=db.example password='conninfo pw' user=owner",
               "GITHUB_TOKEN": "gh-token-value", "SSH_AUTH_SOCK": "/tmp/ssh-agent.sock", "HOME": "/home/x",
               "PWD": "/work/checkout", "OLDPWD": "/work",  # the shell's directories, not passwords
               "AWS_SHARED_CREDENTIALS_FILE": str(creds), "PGPASSFILE": str(pgpass)}
    found = scrub.operator_credentials(environ)
    for v in ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "IQoJsession-tok", "pg-password-1", "url@password",
              "conninfo pw", "gh-token-value", "from-the-file-1234", "session-from-file-5678", "pass:with-colon"):
        assert v in found, v
    for v in ("AKIAIOSFODNN7EXAMPLE", "/tmp/ssh-agent.sock", "/home/x", "AKIDEXAMPLE", "/work/checkout", "/work"):
        assert v not in found, v
