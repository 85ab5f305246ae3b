import socket

from rovn_ops import notify
from rovn_ops.sandbox import control


def test_posts_reach_the_sink(fresh):
    d = notify.pagerduty(fresh["sink_url"] + "/pagerduty", "deploy failed", source="rovn-ops")
    assert d.ok and d.attempts == 1
    post = control.posts(fresh)[-1]
    assert post["channel"] == "pagerduty" and post["payload"]["payload"]["summary"] == "deploy failed"


def test_retries_then_reports_a_sink_that_is_down(fresh):
    control.scenario(fresh, "sink_down")
    d = notify.slack(fresh["sink_url"] + "/slack", "hello", retries=2, backoff=0.01)
    assert not d.ok and d.attempts == 3 and d.detail == "HTTP 503"


def test_unreachable_webhook_never_raises():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = notify.slack(f"http://127.0.0.1:{port}/x", "hello", retries=1, backoff=0.01, timeout=0.5)
    assert not d.ok and "NOT delivered" in str(d)
    assert not notify.slack("", "hello").ok
