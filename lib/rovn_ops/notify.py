"""Slack and PagerDuty notifications over their webhooks.

A notification never blocks or undoes the work it reports: the audit row is
written first, delivery retries with backoff (urllib3's Retry), and a delivery
that still fails is returned as such, never raised.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from .scrub import redact


@dataclass(frozen=True)
class Delivery:
    channel: str
    ok: bool
    attempts: int
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.channel}: {'delivered' if self.ok else 'NOT delivered'}" + (
            f" ({self.detail})" if self.detail else "")


def post(channel: str, url: str, payload: dict, *, retries: int = 3, backoff: float = 0.2,
         timeout: float = 3.0) -> Delivery:
    if not url:
        return Delivery(channel, False, 0, "no webhook configured")
    import urllib3
    from urllib3.util import Retry

    retry = Retry(total=retries, backoff_factor=backoff, allowed_methods={"POST"},
                  status_forcelist=(429, 500, 502, 503, 504), raise_on_status=False)
    try:
        resp = urllib3.PoolManager(retries=retry, timeout=timeout).request(
            "POST", url, body=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    except urllib3.exceptions.HTTPError as e:
        return Delivery(channel, False, retries + 1, redact(type(e).__name__ + ": " + str(e))[:200])
    attempts = len(resp.retries.history) + 1 if resp.retries else 1
    if resp.status >= 300:
        return Delivery(channel, False, attempts, f"HTTP {resp.status}")
    return Delivery(channel, True, attempts)


def slack(url: str, text: str, **kw) -> Delivery:
    return post("slack", url, {"text": text}, **kw)


def pagerduty(url: str, summary: str, *, source: str, severity: str = "critical",
              dedup_key: str | None = None, **kw) -> Delivery:
    return post("pagerduty", url, {
        "event_action": "trigger", "dedup_key": dedup_key,
        "payload": {"summary": summary, "source": source, "severity": severity}}, **kw)
