"""Cloudflare's DNS API (v4): the calls a DR failover makes to move a gray-cloud record (§4).

- GET  /zones?name=ZONE                          → the zone id
  https://developers.cloudflare.com/api/resources/zones/methods/list/
- GET  /zones/{zone_id}/dns_records?name=NAME    → the record (id, type, content, proxied)
  https://developers.cloudflare.com/api/resources/dns/subresources/records/methods/list/
- PATCH /zones/{zone_id}/dns_records/{id}        → only the fields sent change
  https://developers.cloudflare.com/api/resources/dns/subresources/records/methods/edit/

Every answer is the envelope {success, errors, messages, result}; `success: false` (or
an HTTP error) raises CloudflareError with Cloudflare's own codes and messages. The
token is named `secret:NAME`, read only when a call is made, and sent only to the
committed environment file's API URL (no parameter names it)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote

from rovn_ops.core.errors import RovnError

TIMEOUT = 10.0


class CloudflareError(RovnError):
    pass


@dataclass
class Client:
    api_url: str
    zone: str
    token: Callable[[], object]   # returns the token (a masked Secret)
    token_name: str = ""

    def _call(self, method: str, path: str, body: dict | None = None):
        import urllib3

        if not self.api_url:
            raise CloudflareError("no Cloudflare API URL in the environment file (standby.dns.api_url)")
        token = self.token()
        value = token.reveal() if hasattr(token, "reveal") else str(token)
        try:
            resp = urllib3.request(method, self.api_url.rstrip("/") + path, timeout=TIMEOUT,
                                   body=json.dumps(body).encode() if body is not None else None,
                                   retries=urllib3.Retry(2, backoff_factor=0.3, status_forcelist=(502, 503, 504),
                                                         allowed_methods={"GET", "PATCH"}),
                                   headers={"Authorization": f"Bearer {value}", "Content-Type": "application/json",
                                            "User-Agent": "rovn-ops"})
        except urllib3.exceptions.HTTPError as e:
            raise CloudflareError(f"Cloudflare unreachable ({type(e).__name__})") from None
        try:
            envelope = json.loads(resp.data or b"{}")
        except ValueError:
            raise CloudflareError(f"Cloudflare answered HTTP {resp.status} without JSON") from None
        if resp.status >= 300 or not envelope.get("success"):
            errors = "; ".join(f"{e.get('code')} {e.get('message')}" for e in envelope.get("errors") or [])
            raise CloudflareError(f"{method} {path.split('?')[0]}: HTTP {resp.status}: {errors or 'success false'}"
                                  + (f" (token {self.token_name})" if resp.status in (400, 401, 403) else ""))
        return envelope["result"]

    def zone_id(self) -> str:
        zones = self._call("GET", f"/zones?name={quote(self.zone)}")
        if not zones:
            raise CloudflareError(f"no zone {self.zone} for this token")
        return zones[0]["id"]

    def record(self, name: str) -> dict | None:
        found = self._call("GET", f"/zones/{self.zone_id()}/dns_records?name={quote(name)}")
        return found[0] if found else None

    def point(self, record: dict, content: str) -> dict:
        """PATCH the record's content (type, ttl and proxied as they are: gray stays gray)."""
        return self._call("PATCH", f"/zones/{record['zone_id'] or self.zone_id()}/dns_records/{record['id']}",
                          {"content": content})
