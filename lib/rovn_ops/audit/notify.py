"""Slack and PagerDuty notifications over their webhooks.

A notification never blocks or undoes the work it reports: the audit row is
written first, delivery retries with backoff (urllib3's Retry), and a delivery
that still fails is returned as such, never raised.
"""
from __future__ import annotations

import json
import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from rovn_ops.safety.secret_values import Secret


@dataclass(frozen=True)
class Delivery:
    channel: str
    ok: bool
    attempts: int
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.channel}: {'delivered' if self.ok else 'NOT delivered'}" + (
            f" ({self.detail})" if self.detail else "")


def where(url: str | Secret) -> str:
    """How a failure names the webhook: a secret by its name, a plain URL by its
    host (a webhook's path is its credential)."""
    if isinstance(url, Secret):
        return f"secret:{url.name}"
    return urlsplit(url).hostname or "the webhook"


@contextmanager
def _quiet_urllib3():
    """urllib3 logs each retry and warns with the full URL; a webhook URL is a
    credential, so neither may reach the notebook or stderr."""
    logger = logging.getLogger("urllib3")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def post(channel: str, url: str | Secret, payload: dict, *, retries: int = 3, backoff: float = 0.2,
         timeout: float = 3.0) -> Delivery:
    if not url:
        return Delivery(channel, False, 0, "no webhook configured")
    import urllib3
    from urllib3.util import Retry

    target = url.reveal() if isinstance(url, Secret) else url
    retry = Retry(total=retries, backoff_factor=backoff, allowed_methods={"POST"},
                  status_forcelist=(429, 500, 502, 503, 504), raise_on_status=False)
    try:
        with _quiet_urllib3():
            resp = urllib3.PoolManager(retries=retry, timeout=timeout).request(
                "POST", target, body=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    except (urllib3.exceptions.HTTPError, ValueError) as e:
        # never str(e): urllib3 puts the URL in it
        reason = getattr(e, "reason", None)
        why = type(reason).__name__ if isinstance(reason, Exception) else type(e).__name__
        return Delivery(channel, False, retries + 1, f"{why} posting to {where(url)}")
    attempts = len(resp.retries.history) + 1 if resp.retries else 1
    if resp.status >= 300:
        return Delivery(channel, False, attempts, f"HTTP {resp.status} from {where(url)}")
    return Delivery(channel, True, attempts)


def slack(url: str | Secret, text: str, **kw) -> Delivery:
    return post("slack", url, {"text": text}, **kw)


def pagerduty(url: str | Secret, summary: str, *, source: str, severity: str = "critical",
              dedup_key: str | None = None, routing_key: str | Secret = "", **kw) -> Delivery:
    body = {"event_action": "trigger", "dedup_key": dedup_key,
            "payload": {"summary": summary, "source": source, "severity": severity}}
    if routing_key:  # Events API v2: the integration key travels in the body
        body["routing_key"] = routing_key.reveal() if isinstance(routing_key, Secret) else routing_key
    return post("pagerduty", url, body, **kw)
