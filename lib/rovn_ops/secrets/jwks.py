"""JWT signing keys, rolling (§8): the secret holds a JWKS. A rotation adds a key pair
with a new `kid` that signs from then on; the previous key stays in the set for
verification only, so tokens it signed keep verifying, until the maximum token
lifetime has passed since it stopped signing. A later run (`action=prune`) removes
keys retired longer ago than that. The crypto is joserfc's.

Secret: {"keys": [private JWKs], "signing_kid": kid, "retired": {kid: ISO time}}.
The published JWKS is the public half of every key in it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rovn_ops.core.jwk_document import ALG, new_key, new_document, published, sign, verify  # noqa: F401 - this runbook's API
from rovn_ops.secrets.steps import Strategy
from rovn_ops.secrets.values import Secret, dumps
from rovn_ops.secrets.values import doc as load


def kid_for(token: str) -> str:
    return "rovn-" + token.replace("-", "")[:12]


def expired(doc: dict, lifetime: timedelta, now: datetime) -> list[str]:
    """Verify-only keys whose last token has outlived the maximum token lifetime."""
    return [kid for kid, at in doc.get("retired", {}).items()
            if kid != doc["signing_kid"] and datetime.fromisoformat(at) + lifetime <= now]


def _without(doc: dict, kids: list[str]) -> dict:
    return {"keys": [k for k in doc["keys"] if k["kid"] not in kids], "signing_kid": doc["signing_kid"],
            "retired": {k: v for k, v in doc.get("retired", {}).items() if k not in kids}}


class Jwks(Strategy):
    klass = "jwt"

    def __init__(self, *, lifetime_s: float, action: str = "rotate", now=lambda: datetime.now(timezone.utc)):
        self.lifetime, self.action, self.now = timedelta(seconds=lifetime_s), action, now

    def plan(self, base: Secret, token: str) -> dict:
        doc = load(base)
        facts = {"strategy": "rolling JWKS", "action": self.action, "signing_kid": doc.get("signing_kid"),
                 "max_token_lifetime_s": self.lifetime.total_seconds()}
        if self.action == "rotate":
            return facts | {"new_signing_kid": kid_for(token),
                            "verify_only_after": sorted(k["kid"] for k in doc["keys"])}
        return facts | {"prune": sorted(expired(doc, self.lifetime, self.now()))}

    def preflight(self, current: Secret) -> list[str]:
        try:
            doc = load(current)
            sign(doc, {"sub": "rotation-preflight"})
        except (ValueError, KeyError, StopIteration, TypeError) as e:
            return [f"the secret is not a JWKS with a signing key ({type(e).__name__})"]
        if self.action == "prune" and not expired(doc, self.lifetime, self.now()):
            return [f"nothing to prune: no verify-only key retired more than {self.lifetime} ago"]
        return []

    def make(self, current: Secret, token: str) -> Secret:
        doc = load(current)
        if self.action == "prune":
            return dumps(_without(doc, expired(doc, self.lifetime, self.now())))
        kid = kid_for(token)
        retired = {**doc.get("retired", {}), doc["signing_kid"]: self.now().isoformat()}
        return dumps({"keys": doc["keys"] + [new_key(kid)], "signing_kid": kid, "retired": retired})

    def set(self, pending: Secret, current: Secret) -> str:
        return ("nothing downstream: the service reads the JWKS from the secret when its tasks start, "
                "and the rollout publishes it")

    def test(self, pending: Secret, current: Secret) -> str:
        new, old = load(pending), load(current)
        jwks = published(new)
        verify(sign(new, {"sub": "rotation-test"}), jwks)
        verify(sign(old, {"sub": "rotation-test"}), jwks)  # tokens in flight keep verifying
        return (f"a token from {new['signing_kid']} verifies, and one from {old['signing_kid']} still does, "
                f"against the new JWKS ({len(jwks['keys'])} keys)")

    def retire(self, previous: Secret, current: Secret) -> str:
        if self.action == "prune":
            return "pruned keys are gone from the published JWKS"
        return (f"{load(previous)['signing_kid']} stays for verification only; prune it after "
                f"{self.lifetime} (action=prune)")

    def verify(self, current: Secret, previous: Secret | None) -> list[str]:
        doc = load(current)
        jwks = published(doc)
        problems = []
        try:
            verify(sign(doc, {"sub": "rotation-verify"}), jwks)
        except Exception as e:  # noqa: BLE001
            problems.append(f"the signing key's token does not verify: {type(e).__name__}")
        if previous is not None and self.action == "rotate":
            try:
                verify(sign(load(previous), {"sub": "rotation-verify"}), jwks)
            except Exception as e:  # noqa: BLE001
                problems.append(f"tokens from the previous key no longer verify: {type(e).__name__}")
        return problems
