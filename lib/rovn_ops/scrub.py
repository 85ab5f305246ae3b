"""Secret detection and redaction: parameters must name secrets, never carry them,
and nothing that looks like one is archived."""
from __future__ import annotations

import re

REDACTED = "[REDACTED]"

PATTERNS = [
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),                          # AWS access key id
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWT
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{16,}"),
    re.compile(r"(?i)(?<=://)[^:/@\s]+:[^@/\s]+(?=@)"),                    # user:password@ in URLs
    re.compile(r"(?i)\b(?:xox[abpr]-[A-Za-z0-9-]{10,}|sk_live_[A-Za-z0-9]{16,}|sk-ant-[A-Za-z0-9_-]{16,})"),
]
_SECRET_NAMES = re.compile(r"(?i)(password|passwd|secret_value|private_key|api_key|access_key|token$)")


def looks_secret_value(value) -> bool:
    if isinstance(value, (list, tuple)):
        return any(looks_secret_value(v) for v in value)
    return isinstance(value, str) and any(p.search(value) for p in PATTERNS)


def looks_secret_name(name: str) -> bool:
    return bool(_SECRET_NAMES.search(name))


def redact(text: str, known: set[str] = frozenset()) -> str:
    """Replace known secret values (longest first) and secret-shaped strings."""
    for value in sorted((k for k in known if k and len(k) >= 6), key=len, reverse=True):
        text = text.replace(value, REDACTED)
    for pattern in PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text
