import socket

from rovn_ops.audit import notify
from rovn_sandbox import control


def test_posts_reach_the_sink(fresh):
    d = notify.pagerduty(fresh["sink_url"] + "/pagerduty", "deploy failed", source="rovn-ops")
    assert d.ok and d.attempts == 1
    post = control.posts(fresh)[-1]
    assert post["channel"] == "pagerduty" and post["payload"]["payload"]["summary"] == "deploy failed"


def test_retries_then_reports_a_sink_that_is_down(fresh):
    control.scenario(fresh, "sink_down")
    d = notify.slack(fresh["sink_url"] + "/slack", "hello", retries=2, backoff=0.01)
    assert not d.ok and d.attempts == 3 and d.detail.startswith("HTTP 503")


def test_unreachable_webhook_never_raises():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = notify.slack(f"http://127.0.0.1:{port}/x", "hello", retries=1, backoff=0.01, timeout=0.5)
    assert not d.ok and "NOT delivered" in str(d)
    assert not notify.slack("", "hello").ok


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_failed_secret_webhook_is_named_never_shown(capfd, caplog):
    """A webhook URL is a credential: the failure names the secret, and urllib3's
    retry log lines and warnings (which carry the URL) are silenced."""
    import logging

    from rovn_ops.safety.secret_values import Secret

    url = f"http://127.0.0.1:{_free_port()}/services/T0/B0/canary-token-0123456789"
    caplog.set_level(logging.DEBUG)
    d = notify.slack(Secret(url, "rovn/prod/slack-webhook-url"), "hello", retries=2, backoff=0.01, timeout=0.5)
    assert not d.ok and "secret:rovn/prod/slack-webhook-url" in str(d)
    out, err = capfd.readouterr()
    for text in (str(d), repr(d), out, err, caplog.text):
        assert "canary-token" not in text


def test_a_failed_plain_url_names_its_host_only(fresh):
    control.scenario(fresh, "sink_down")
    d = notify.pagerduty(fresh["sink_url"] + "/pagerduty/integration-key-0123456789", "x", source="t",
                         retries=1, backoff=0.01)
    assert not d.ok and "integration-key" not in str(d) and "127.0.0.1" in d.detail
