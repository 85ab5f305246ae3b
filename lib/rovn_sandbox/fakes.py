"""The sandbox's stand-ins for the services a rotated secret is checked against, on
loopback: a fake API provider (Anthropic, Persona, Checkr, WorkOS, Stripe) that
accepts only keys it issued, and an MCP token stub (inbound and outbound).

Provider:  POST /providers/NAME/keys       issue a key (the provider's console): {"key": ...}
           GET  /providers/NAME/<anything> 200 for an issued key (Bearer, x-api-key or
                                           Basic with the key as user), else 401
MCP:       GET  /mcp/DIR/ping              200 for an accepted token, else 401
           POST /mcp/DIR/tokens            {"token"}: accept it too (authorised by an accepted token)
           POST /mcp/DIR/tokens/revoke     {"token"}: stop accepting it (same)
Scenario `secret_checks_hang` holds the checks of keys and tokens newer than the seed
(a rotation's testSecret) while it is on; the seeded ones still answer (preflight)."""
from __future__ import annotations

import base64
import json
import secrets as pysecrets
import threading
import time
from rovn_sandbox import httpd, scenarios

PREFIX = {"stripe": "rk_live_", "anthropic": "sk-ant-api03-", "persona": "persona_production_",
          "checkr": "checkr_", "workos": "sk_live_workos_"}


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.issued: dict[str, set[str]] = {}
        self.mcp: dict[str, set[str]] = {"inbound": set(), "outbound": set()}
        self.seeded: set[str] = set()

    def clear(self) -> None:
        with self.lock:
            self.issued.clear()
            for tokens in self.mcp.values():
                tokens.clear()
            self.seeded.clear()

    def seal_seed(self) -> None:
        with self.lock:
            self.seeded = set().union(*self.issued.values(), *self.mcp.values())

    def issue(self, provider: str, key: str | None = None) -> str:
        key = key or PREFIX.get(provider, "key_") + pysecrets.token_urlsafe(24)
        with self.lock:
            self.issued.setdefault(provider, set()).add(key)
        return key

    def accept_mcp(self, direction: str, token: str) -> None:
        with self.lock:
            self.mcp[direction].add(token)


STATE = State()


def _presented(headers) -> str:
    auth = headers.get("Authorization") or ""
    if auth.startswith("Bearer "):
        return auth[7:]
    if auth.startswith("Basic "):
        try:
            return base64.b64decode(auth[6:]).decode().split(":", 1)[0]
        except ValueError:
            return ""
    return headers.get("x-api-key") or ""


def _hold(token: str) -> None:
    deadline = time.monotonic() + 120
    while scenarios.active("secret_checks_hang") and token not in STATE.seeded and time.monotonic() < deadline:
        time.sleep(0.05)


class Handler(httpd.Handler):
    def _parts(self) -> list[str]:
        return [p for p in self.path.split("?")[0].split("/") if p]

    def do_GET(self):
        parts, token = self._parts(), _presented(self.headers)
        if len(parts) >= 2 and parts[0] == "providers":
            _hold(token)
            ok = token in STATE.issued.get(parts[1], set())
            return self._reply(200 if ok else 401, {"ok": ok})
        if parts[:1] == ["mcp"] and len(parts) == 3 and parts[2] == "ping" and parts[1] in STATE.mcp:
            _hold(token)
            ok = token in STATE.mcp[parts[1]]
            return self._reply(200 if ok else 401, {"ok": ok})
        self._reply(404, {"error": "no route"})

    def do_POST(self):
        parts, token = self._parts(), _presented(self.headers)
        body = json.loads(self._body() or b"{}")
        if len(parts) == 3 and parts[0] == "providers" and parts[2] == "keys":
            return self._reply(201, {"key": STATE.issue(parts[1])})
        if parts[:1] == ["mcp"] and len(parts) >= 3 and parts[1] in STATE.mcp and parts[2] == "tokens":
            accepted = STATE.mcp[parts[1]]
            if token not in accepted:
                return self._reply(401, {"error": "not an accepted token"})
            with STATE.lock:
                (accepted.discard if parts[3:] == ["revoke"] else accepted.add)(body.get("token", ""))
            return self._reply(200, {"ok": True})
        self._reply(404, {"error": "no route"})


def serve():
    return httpd.serve(Handler)
