"""Secret values as a masked type, read and written with explicit versions.

`Masked` hides its value from repr, str, rich reprs and JSON; code that needs the
value asks for it with `reveal()`, inside the library. Every value read or made
here is registered for redaction (its fingerprint goes to the runner, which scrubs
the archive of it) before anything else sees it, and every JSON leaf that hides
something (a password, a JWK's private part), not those that name (a kid, a user).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from .. import record, scrub

MASK = "********"


class Masked:
    __slots__ = ("_value",)

    def __init__(self, value: str):
        parts = [value, *_leaves(value)]
        record.record(redact=[scrub.fingerprint(p) for p in parts if len(p) >= scrub.MIN_SECRET_LEN])
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        return self._value

    def json(self) -> dict:
        return json.loads(self._value)

    def __setattr__(self, *_):
        raise AttributeError("a masked value is immutable")

    def __repr__(self) -> str:
        return f"Masked({MASK})"

    __str__ = __repr__

    def _repr_markdown_(self) -> str:
        return MASK

    def _repr_html_(self) -> str:
        return MASK

    def __eq__(self, other) -> bool:
        import hmac

        return isinstance(other, Masked) and hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Masked", len(self._value)))

    def __reduce__(self):
        raise TypeError("a masked value cannot be pickled")


# Members of a credentials document or a JWKS that name or describe, and never hide:
# redacting them would blind the evidence (a kid, a user name, a host).
PUBLIC = {"engine", "host", "port", "dbname", "username", "masterarn", "kid", "kty", "alg", "use", "crv",
          "x", "y", "n", "e", "signing_kid", "retired"}


def _leaves(text: str) -> list[str]:
    """Every string inside a JSON value, however deep (a password, a JWK's private
    part), but the public members above."""
    try:
        node = json.loads(text)
    except ValueError:
        return []
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if isinstance(n, str):
            out.append(n)
        elif isinstance(n, dict):
            stack += [v for k, v in n.items() if k not in PUBLIC]
        elif isinstance(n, list):
            stack += n
    return [s for s in out if s != text]


@dataclass(frozen=True)
class Version:
    version_id: str
    stages: tuple[str, ...]
    value: Masked


def read(sm, name: str, *, stage: str | None = None, version_id: str | None = None) -> Version:
    """One version, named by stage and/or id (never the API's default: moto and a
    half-rotated secret disagree on it)."""
    if not stage and not version_id:
        raise ValueError("read a secret with an explicit VersionStage or VersionId")
    args = {"SecretId": name, **({"VersionStage": stage} if stage else {}),
            **({"VersionId": version_id} if version_id else {})}
    r = sm.get_secret_value(**args)
    return Version(r["VersionId"], tuple(r.get("VersionStages", ())), Masked(r["SecretString"]))


def dumps(data: dict) -> Masked:
    return Masked(json.dumps(data, sort_keys=True))
