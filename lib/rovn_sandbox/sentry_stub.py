"""A small Sentry REST API on loopback: the one read triage makes.

GET /api/0/projects/{org}/{project}/issues/?query=…  with `Authorization: Bearer
<token>`, where the token must equal the current value of the Secrets Manager secret
the sandbox's parameters name (so a triage that sends anything else is refused, as
Sentry would: 401). The issues are what the active incident scenario wrote
(incidents.SENTRY_ISSUES). The query understands `is:unresolved` and
`lastSeen:>ISO` / `firstSeen:>ISO`; pagination is one page (Link says no more).
"""
from __future__ import annotations

import hmac
import re
from datetime import datetime, timezone
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from rovn_sandbox import incidents
from rovn_sandbox.httpd import JsonHandler

_ROUTE = re.compile(r"^/api/0/projects/(?P<org>[\w.-]+)/(?P<project>[\w.-]+)/issues/$", re.ASCII)
_SEEN = re.compile(r"\b(lastSeen|firstSeen):>(\S+)", re.ASCII)


def matches(issue: dict, query: str) -> bool:
    if "is:unresolved" in query and issue["status"] != "unresolved":
        return False
    for key, value in _SEEN.findall(query):
        if _when(issue[key]) <= _when(value):
            return False
    return True


def _when(text: str) -> datetime:
    """Sentry reads a time without a zone as UTC."""
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


class Handler(JsonHandler):
    token: Callable[[], str]  # the current secret value

    def do_GET(self):
        url = urlsplit(self.path)
        route = _ROUTE.match(url.path)
        if not route:
            return self._reply(404, {"detail": "The requested resource does not exist"})
        sent = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        if not sent or not hmac.compare_digest(sent, self.token()):
            return self._reply(401, {"detail": "Invalid token"})
        query = parse_qs(url.query).get("query", ["is:unresolved"])[0]
        try:
            issues = [i for i in incidents.SENTRY_ISSUES
                      if i["project"]["slug"] == route["project"] and matches(i, query)]
        except ValueError:
            return self._reply(400, {"detail": f"Invalid query: {query}"})
        issues.sort(key=lambda i: i["lastSeen"], reverse=True)
        link = (f'<{self.path}>; rel="previous"; results="false"; cursor="0:0:1", '
                f'<{self.path}>; rel="next"; results="false"; cursor="0:100:0"')
        self._reply(200, issues, {"Link": link})
