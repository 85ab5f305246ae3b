"""Third-party API keys (Anthropic, Persona, Checkr, WorkOS, Stripe): a provider issues
the key, so the new key comes from the operator. Interactive: typed at a `getpass`
prompt (never echoed, never a parameter). Headless: a pending version the operator
put in Secrets Manager beforehand, e.g.

    aws secretsmanager put-secret-value --secret-id NAME --version-stages AWSPENDING --secret-string file:///dev/stdin

testSecret asks the provider's check endpoint whether it accepts the key. The old
key is revoked by the operator in the provider's console once the rollout is done."""
from __future__ import annotations

import base64
import getpass
from dataclasses import dataclass

from rovn_ops.core.errors import Refused
from rovn_ops.secrets import http
from rovn_ops.secrets.steps import Strategy
from rovn_ops.secrets.values import Secret, wrap


@dataclass(frozen=True)
class Adapter:
    name: str
    base_url: str
    check_path: str     # a cheap authenticated read
    auth: str           # bearer | x-api-key | basic
    console: str        # where the operator issues and revokes keys

    def headers(self, key: Secret) -> dict:
        k = key.reveal()
        if self.auth == "x-api-key":
            return {"x-api-key": k}
        if self.auth == "basic":
            return {"Authorization": "Basic " + base64.b64encode(f"{k}:".encode()).decode()}
        return {"Authorization": f"Bearer {k}"}

    def check_url(self, endpoint: str = "") -> str:
        """`endpoint` replaces the provider's own host (the sandbox's fake provider)."""
        return f"{endpoint.rstrip('/')}/{self.name}{self.check_path}" if endpoint else self.base_url + self.check_path

    def accepts(self, key: Secret, endpoint: str = "") -> tuple[bool, int]:
        status = http.call("GET", self.check_url(endpoint), headers=self.headers(key))
        return 200 <= status < 300, status


ADAPTERS = {a.name: a for a in [
    Adapter("anthropic", "https://api.anthropic.com", "/v1/models", "x-api-key", "console.anthropic.com"),
    Adapter("stripe", "https://api.stripe.com", "/v1/balance", "bearer", "dashboard.stripe.com/apikeys"),
    Adapter("persona", "https://withpersona.com/api", "/v1/api-keys/permissions", "bearer", "app.withpersona.com"),
    Adapter("checkr", "https://api.checkr.com", "/v1/account", "basic", "dashboard.checkr.com"),
    Adapter("workos", "https://api.workos.com", "/organizations", "bearer", "dashboard.workos.com"),
]}


def adapter_for(name: str, tags: dict) -> Adapter | None:
    wanted = tags.get("provider") or next((p for p in ADAPTERS if p in name.lower()), None)
    return ADAPTERS.get(wanted)


class Provider(Strategy):
    klass = "api-key"

    def __init__(self, adapter: Adapter, *, secret: str, endpoint: str = "", headless: bool, ask=getpass.getpass):
        self.adapter, self.secret, self.endpoint, self.headless, self.ask = adapter, secret, endpoint, headless, ask

    def plan(self, base: Secret, token: str) -> dict:
        return {"strategy": "operator-issued key", "provider": self.adapter.name,
                "check": http.where(self.adapter.check_url(self.endpoint)),
                "new key from": "the AWSPENDING version the operator staged" if self.headless
                else "the operator, at a getpass prompt",
                "after the rollout": f"revoke the old key in {self.adapter.console}"}

    def ready(self, pending_staged: bool) -> list[str]:
        if self.headless and not pending_staged:
            return [f"no new key staged: issue one in {self.adapter.console}, then `aws secretsmanager "
                    f"put-secret-value --secret-id {self.secret} --version-stages AWSPENDING --secret-string "
                    "file:///dev/stdin`, and preview again"]
        return []

    def make(self, current: Secret, token: str) -> Secret:
        if self.headless:
            raise Refused(self.ready(False)[0])
        typed = self.ask(f"New {self.adapter.name} key for {self.secret} (not echoed): ").strip()
        if not typed:
            raise Refused("no key typed: nothing was changed")
        return wrap(typed, f"{self.secret} (typed)")

    def set(self, pending: Secret, current: Secret) -> str:
        return (f"nothing downstream: {self.adapter.name} issued the key; the service's tasks take it when they "
                "restart (the rollout)")

    def test(self, pending: Secret, current: Secret) -> str:
        ok, status = self.adapter.accepts(pending, self.endpoint)
        if not ok:
            raise ValueError(f"{self.adapter.name} rejected the new key (HTTP {status or 'no answer'}) at "
                             f"{http.where(self.adapter.check_url(self.endpoint))}")
        return f"{self.adapter.name} accepts the new key (HTTP {status})"

    def retire(self, previous: Secret, current: Secret) -> str:
        return f"the operator revokes the old key in {self.adapter.console} (the service no longer uses it)"

    def verify(self, current: Secret, previous: Secret | None) -> list[str]:
        ok, status = self.adapter.accepts(current, self.endpoint)
        return [] if ok else [f"{self.adapter.name} rejects AWSCURRENT (HTTP {status or 'no answer'})"]
