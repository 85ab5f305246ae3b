"""Secret detection and redaction: parameters must name secrets, never carry them,
and nothing that looks like one is archived."""
from __future__ import annotations

import hashlib
import re

REDACTED = "[REDACTED]"
MIN_SECRET_LEN = 8

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


def fingerprint(value: str) -> list:
    """[sha256 hex, length]: enough to find the value again, nothing to recover it from."""
    return [hashlib.sha256(value.encode()).hexdigest(), len(value)]


def redact_fingerprints(text: str, fingerprints: list) -> str:
    """Replace every substring whose sha256 is a registered fingerprint (a sliding
    window per distinct length; only strings that could hold one are scanned)."""
    by_len: dict[int, set[str]] = {}
    for digest, length in fingerprints:
        by_len.setdefault(int(length), set()).add(digest)
    for length, digests in sorted(by_len.items(), reverse=True):
        if len(text) < length:
            continue
        i, out, last = 0, [], 0
        while i + length <= len(text):
            if hashlib.sha256(text[i:i + length].encode()).hexdigest() in digests:
                out.append(text[last:i])
                out.append(REDACTED)
                i += length
                last = i
            else:
                i += 1
        if out:
            text = "".join(out) + text[last:]
    return text


def scrub_text(text: str, fingerprints: list = ()) -> str:
    return redact(redact_fingerprints(text, list(fingerprints)) if fingerprints else text)


def scrub_tree(node, fingerprints: list = ()):
    """Every string in a JSON-like tree (a notebook, a manifest), scrubbed."""
    if isinstance(node, str):
        return scrub_text(node, fingerprints)
    if isinstance(node, list):
        return [scrub_tree(v, fingerprints) for v in node]
    if isinstance(node, dict):
        return {k: scrub_tree(v, fingerprints) for k, v in node.items()}
    return node
