"""Sentry's new and regressed issues since the last deploy (§5: deploy regressions),
through its REST API. The token is named `secret:NAME` and read from Secrets Manager
inside this module; it travels only in the Authorization header."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

from rovn_ops.core.errors import RovnError
from rovn_ops.safety import personal_data
from rovn_ops.triage.window import parse_time

REGRESSION_SUBSTATUSES = {"regressed", "escalating"}


@dataclass(frozen=True)
class Issue:
    short_id: str
    title: str
    kind: str  # new | regressed
    first_seen: datetime
    last_seen: datetime
    count: int
    link: str


def fetch(base_url: str, org: str, project: str, token, since: datetime, timeout: float = 10.0) -> list[dict]:
    """`token` is a secret_values.Secret: revealed here, into the header only."""
    import urllib3

    query = f"is:unresolved lastSeen:>{since.strftime('%Y-%m-%dT%H:%M:%S')}"
    url = (f"{base_url.rstrip('/')}/api/0/projects/{quote(org, safe='')}/{quote(project, safe='')}/issues/?"
           + urlencode({"query": query, "statsPeriod": ""}))
    try:
        resp = urllib3.request("GET", url, headers={"Authorization": f"Bearer {token.reveal()}"}, timeout=timeout,
                               retries=urllib3.Retry(2, backoff_factor=0.2, status_forcelist=(502, 503, 504)))
    except urllib3.exceptions.HTTPError as e:
        raise RovnError(f"Sentry unreachable at {base_url}: {type(e).__name__}") from None
    if resp.status == 401:
        raise RovnError("Sentry refused the token (HTTP 401): check the secret sentry_token_secret names")
    if resp.status >= 300:
        raise RovnError(f"Sentry answered HTTP {resp.status}")
    return json.loads(resp.data)


def classify(raw: list[dict], since: datetime) -> list[Issue]:
    """New: first seen since the deploy. Regressed: Sentry marked it regressed or
    escalating, and it was seen since. Titles are scrubbed (they quote user input)."""
    out = []
    for i in raw:
        first, last = parse_time(i["firstSeen"]), parse_time(i["lastSeen"])
        if first >= since:
            kind = "new"
        elif i.get("substatus") in REGRESSION_SUBSTATUSES and last >= since:
            kind = "regressed"
        else:
            continue
        out.append(Issue(i.get("shortId", i["id"]), personal_data.redact(i.get("title", "")), kind, first, last,
                         int(i.get("count") or 0), i.get("permalink", "")))
    return sorted(out, key=lambda x: x.first_seen)


def table(issues: list[Issue]):
    import pandas as pd

    return pd.DataFrame([{"issue": i.short_id, "kind": i.kind, "title": i.title, "events": i.count,
                          "first seen": i.first_seen.strftime("%Y-%m-%d %H:%M"),
                          "last seen": i.last_seen.strftime("%H:%M")} for i in issues],
                        columns=["issue", "kind", "title", "events", "first seen", "last seen"])
