"""Reading Secrets Manager values: always with an explicit VersionStage (moto and a
half-rotated secret can disagree on the default), and always registered for
redaction, so the run's evidence never carries the value (only its fingerprint
reaches the runner, which scrubs every archived string of it)."""
from __future__ import annotations

import json

from . import record, scrub


def value(client, name: str, stage: str = "AWSCURRENT") -> str:
    secret = client.get_secret_value(SecretId=name, VersionStage=stage)["SecretString"]
    register(secret)
    return secret


def register(secret: str) -> None:
    """Fingerprint the value, and each string inside it when it is JSON (a password field)."""
    parts = [secret]
    try:
        parsed = json.loads(secret)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        parts += [v for v in parsed.values() if isinstance(v, str)]
    record.record(redact=[scrub.fingerprint(p) for p in parts if len(p) >= scrub.MIN_SECRET_LEN])
