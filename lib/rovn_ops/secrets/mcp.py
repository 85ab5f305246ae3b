"""MCP server tokens, outbound (we call an MCP server) and inbound (clients call ours).
A new token is generated here, registered with the MCP server while the current one
still works (setSecret), proven (testSecret), and the old one is revoked only after
the deploy that rolls the service's tasks has completed: until then tasks started
before the rotation still hold it.

Token API (the MCP server's, and the sandbox stub's): POST {url}/tokens registers
{"token"}, POST {url}/tokens/revoke revokes {"token"}, both authorised by a token
the server accepts; GET {url}/ping answers 200 to an accepted token."""
from __future__ import annotations

import secrets as pysecrets

from rovn_ops.secrets import http
from rovn_ops.secrets.steps import Strategy
from rovn_ops.secrets.values import Secret, wrap


def _bearer(token: Secret) -> dict:
    return {"Authorization": f"Bearer {token.reveal()}"}


def accepted(url: str, token: Secret) -> int:
    return http.call("GET", f"{url}/ping", headers=_bearer(token))


class Mcp(Strategy):
    klass = "mcp-token"

    def __init__(self, *, direction: str, url: str):
        self.direction, self.url = direction, url.rstrip("/")

    def plan(self, base: Secret, token: str) -> dict:
        return {"strategy": "generated token (secrets.token_urlsafe)", "direction": self.direction,
                "server": http.where(self.url), "old token": "accepted until the rollout completes, then revoked"}

    def preflight(self, current: Secret) -> list[str]:
        if not self.url:
            return [f"no MCP {self.direction} server URL (mcp_{self.direction}_url)"]
        status = accepted(self.url, current)
        return [] if status == 200 else [f"the MCP server does not accept AWSCURRENT (HTTP {status or 'no answer'})"]

    def make(self, current: Secret, token: str) -> Secret:
        return wrap(pysecrets.token_urlsafe(32), "new MCP token")

    def set(self, pending: Secret, current: Secret) -> str:
        status = http.call("POST", f"{self.url}/tokens", headers=_bearer(current), body={"token": pending.reveal()})
        if status not in (200, 201, 204):
            raise ValueError(f"the MCP server refused the new token (HTTP {status or 'no answer'})")
        return f"new {self.direction} token registered with {http.where(self.url)}; the old one still accepted"

    def test(self, pending: Secret, current: Secret) -> str:
        status = accepted(self.url, pending)
        if status != 200:
            raise ValueError(f"the MCP server does not accept the new token (HTTP {status or 'no answer'})")
        return "the MCP server accepts the new token (HTTP 200)"

    def retire(self, previous: Secret, current: Secret) -> str:
        status = http.call("POST", f"{self.url}/tokens/revoke", headers=_bearer(current),
                           body={"token": previous.reveal()})
        if status not in (200, 204, 404):
            raise ValueError(f"the MCP server did not revoke the old token (HTTP {status or 'no answer'})")
        return "old token revoked at the MCP server"

    def verify(self, current: Secret, previous: Secret | None) -> list[str]:
        problems = []
        if (s := accepted(self.url, current)) != 200:
            problems.append(f"AWSCURRENT is not accepted (HTTP {s or 'no answer'})")
        if previous is not None and accepted(self.url, previous) == 200:
            problems.append("the revoked token is still accepted")
        return problems
