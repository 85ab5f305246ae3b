"""The JWT signing-key secret's document (§8): {"keys": [private JWKs], "signing_kid":
kid, "retired": {kid: ISO time}}, and signing and verifying with it (joserfc's
crypto). The rotation runbook and the sandbox's seeded world both make and read
this document, so the rule lives here, below both."""
from __future__ import annotations

ALG = "ES256"


def new_key(kid: str) -> dict:
    from joserfc.jwk import ECKey

    return ECKey.generate_key("P-256", {"kid": kid, "alg": ALG, "use": "sig"}, private=True).as_dict(private=True)


def new_document(kid: str) -> dict:
    return {"keys": [new_key(kid)], "signing_kid": kid, "retired": {}}


def published(doc: dict) -> dict:
    """The public JWKS: what verifiers fetch."""
    from joserfc.jwk import KeySet

    return KeySet.import_key_set({"keys": doc["keys"]}).as_dict(private=False)


def sign(doc: dict, claims: dict) -> str:
    from joserfc import jwt
    from joserfc.jwk import KeySet

    key = next(k for k in doc["keys"] if k["kid"] == doc["signing_kid"])
    return jwt.encode({"alg": key.get("alg", ALG), "kid": key["kid"]}, claims, KeySet.import_key_set({"keys": [key]}))


def verify(token: str, jwks: dict) -> dict:
    """The token's claims if a key of the published set verifies it; raises otherwise
    (an unknown kid included)."""
    from joserfc import jwt
    from joserfc.jwk import KeySet

    return jwt.decode(token, KeySet.import_key_set(jwks), algorithms=[ALG]).claims
