"""Secret values as the library's masked type (secret_values.Secret), read and written
with explicit versions.

A rotation handles whole credential documents (a database secret's JSON, a JWKS).
What is registered for redaction is what hides something: a plain value, or each
leaf of a JSON document but its public members (a kid, a user name, a host), so the
evidence still names the keys and users a rotation moved. A document's private
parts are redacted wherever they appear, alone or inside it."""
from __future__ import annotations

import json
from dataclasses import dataclass

from rovn_ops.safety import secret_values
from rovn_ops.safety.secret_values import Secret

PUBLIC = {"engine", "host", "port", "dbname", "username", "masterarn", "kid", "kty", "alg", "use", "crv",
          "x", "y", "n", "e", "signing_kid", "retired"}


def _hidden(value: str) -> list[str]:
    """The parts of a value that are secret: itself, or a JSON document's private leaves."""
    try:
        node = json.loads(value)
    except ValueError:
        return [value]
    if not isinstance(node, (dict, list)):
        return [value]
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if isinstance(n, str):
            out.append(n)
        elif isinstance(n, dict):
            stack += [v for k, v in n.items() if k not in PUBLIC]
        elif isinstance(n, list):
            stack += n
    return out


def wrap(value: str, name: str) -> Secret:
    for part in _hidden(value):
        secret_values.wrap(part, name)  # registers it (and warns when too short to scrub)
    return Secret(value, name)


def doc(secret: Secret) -> dict:
    return json.loads(secret.reveal())


def dumps(data: dict, name: str = "new value") -> Secret:
    return wrap(json.dumps(data, sort_keys=True), name)


@dataclass(frozen=True)
class Version:
    version_id: str
    stages: tuple[str, ...]
    value: Secret


def read(sm, name: str, *, stage: str | None = None, version_id: str | None = None) -> Version:
    """One version, named by stage and/or id (never the API's default: moto and a
    half-rotated secret disagree on it)."""
    if not stage and not version_id:
        raise ValueError("read a secret with an explicit VersionStage or VersionId")
    args = {"SecretId": name, **({"VersionStage": stage} if stage else {}),
            **({"VersionId": version_id} if version_id else {})}
    r = sm.get_secret_value(**args)
    return Version(r["VersionId"], tuple(r.get("VersionStages", ())),
                   wrap(r["SecretString"], f"{name}@{stage or version_id}"))
