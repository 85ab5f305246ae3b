"""Personal data and credentials in free text (log lines, error titles, a post-mortem):
shown only after `redact`. The evidence scrubber (scrub.py) removes secret values
and secret-shaped strings from everything archived; this goes further for text that
quotes users: emails, phone numbers, SSN-like numbers, key=value credentials and
long random tokens, each replaced by a marker naming what was there.

Order matters: a key=value credential is caught whole before its value could look
like anything else, and an SSN before a phone number."""
from __future__ import annotations

import re

from .scrub import redact as redact_secrets

PATTERNS = [
    ("credential", re.compile(r"(?i)\b((?:access|api|auth|refresh|session|secret)?[_-]?(?:token|key|secret|password"
                              r"|passwd|authorization))(\"?\s*[:=]\s*\"?)(?:bearer\s+)?[^\s\"',;}&]+")),
    ("email", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    ("ssn", re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])")),
    ("phone", re.compile(r"(?<![\w+])(?:\+?1[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]?\d{4}(?!\w)")),
    # a long random-looking run: one part (between - and _) of 20+ letters and digits mixed
    ("token", re.compile(r"(?<![\w-])[A-Za-z0-9_-]*(?=[A-Za-z0-9]{0,200}?\d)(?=[A-Za-z0-9]{0,200}?[A-Za-z])"
                         r"[A-Za-z0-9]{20,}[A-Za-z0-9_-]*(?![\w-])")),
]


def redact(text: str) -> str:
    text = redact_secrets(text)
    for kind, pattern in PATTERNS:
        if kind == "credential":
            text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}[REDACTED:{kind}]", text)
        else:
            text = pattern.sub(f"[REDACTED:{kind}]", text)
    return text
