"""HTTP calls that carry a secret (a provider's check, the MCP token API): errors name
the URL's host and the failure's kind, never a header or a body."""
from __future__ import annotations

import json
from urllib.parse import urlsplit


def call(method: str, url: str, *, headers: dict, body: dict | None = None, timeout: float = 10.0) -> int:
    """The HTTP status, or 0 when nothing answered. No retries: a check is one question."""
    import urllib3

    try:
        resp = urllib3.request(method, url, headers={"Content-Type": "application/json", **headers},
                               body=json.dumps(body).encode() if body is not None else None,
                               timeout=timeout, retries=False)
    except urllib3.exceptions.HTTPError:
        return 0
    return resp.status


def where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{(':' + str(parts.port)) if parts.port else ''}{parts.path}"
