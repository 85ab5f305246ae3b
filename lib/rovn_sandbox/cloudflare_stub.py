"""Cloudflare's DNS API for the sandbox, and the public name it serves (§4, issue 25).

`api.rovn.to` and `passport.rovn.to` are gray-cloud (DNS-only) CNAMEs to the primary's
ALB; a failover PATCHes them to the standby's. The stub answers as Cloudflare's API v4
documents, and only what the DR runbooks use:

- GET  /zones?name=rovn.to                        (list zones)
  https://developers.cloudflare.com/api/resources/zones/methods/list/
- GET  /zones/{zone_id}/dns_records?name=NAME     (list DNS records)
  https://developers.cloudflare.com/api/resources/dns/subresources/records/methods/list/
- PATCH /zones/{zone_id}/dns_records/{id}         (update a record: only the fields sent)
  https://developers.cloudflare.com/api/resources/dns/subresources/records/methods/edit/

Every answer is the v4 envelope {success, errors, messages, result} (lists add
result_info); a missing or wrong `Authorization: Bearer` token is 400 with error 9106
/ 403 with 10000 "Authentication error", an unknown record 404 with 81044, as
Cloudflare answers them (https://developers.cloudflare.com/fundamentals/api/).

`Public` is the public name itself: GET /health with `Host: passport.rovn.to` goes where
the record's CNAME points now (the primary's app, the standby's, or nowhere).
"""
from __future__ import annotations

import json
import threading
import urllib.parse
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler

ZONE_NAME = "rovn.to"
ZONE_ID = "9f1c5a0e2b7d4c3f8a6e1d0b5c4a3f21"  # 32 hex digits, as Cloudflare's ids
_lock = threading.Lock()
_records: dict[str, dict] = {}
_seed: dict[str, dict] = {}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def seed(names: list[str], target: str) -> None:
    """The zone's records as the world has them: each name a DNS-only CNAME to `target`."""
    with _lock:
        _records.clear()
        for name in names:
            rid = uuid.uuid5(uuid.NAMESPACE_DNS, name).hex
            _records[rid] = {"id": rid, "zone_id": ZONE_ID, "zone_name": ZONE_NAME, "name": name,
                             "type": "CNAME", "content": target, "proxied": False, "proxiable": True,
                             "ttl": 60, "settings": {}, "meta": {}, "comment": None, "tags": [],
                             "created_on": _now(), "modified_on": _now()}
        _seed.clear()
        _seed.update(json.loads(json.dumps(_records)))


def reset() -> None:
    with _lock:
        _records.clear()
        _records.update(json.loads(json.dumps(_seed)))


def content_of(name: str) -> str | None:
    with _lock:
        return next((r["content"] for r in _records.values() if r["name"] == name), None)


def _envelope(result, errors=(), info: dict | None = None) -> dict:
    body = {"success": not errors, "errors": list(errors), "messages": [], "result": result}
    if info is not None:
        body["result_info"] = info
    return body


class Handler(BaseHTTPRequestHandler):
    token: staticmethod  # () -> the API token's current value (Secrets Manager)

    def log_message(self, *args):
        pass

    def _reply(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            self._reply(400, _envelope(None, [{"code": 9106, "message": "Missing X-Auth-Key, X-Auth-Email or "
                                                                        "Authorization headers"}]))
            return False
        if auth.removeprefix("Bearer ") != self.token():
            self._reply(403, _envelope(None, [{"code": 10000, "message": "Authentication error"}]))
            return False
        return True

    def _route(self) -> tuple[list[str], dict]:
        url = urllib.parse.urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        if parts[:2] == ["client", "v4"]:
            parts = parts[2:]
        return parts, dict(urllib.parse.parse_qsl(url.query))

    def do_GET(self):
        if not self._authorized():
            return
        parts, query = self._route()
        if parts == ["zones"]:
            zones = [{"id": ZONE_ID, "name": ZONE_NAME, "status": "active"}]
            zones = [z for z in zones if query.get("name", ZONE_NAME) == z["name"]]
            return self._reply(200, _envelope(zones, info=_info(len(zones))))
        if len(parts) == 3 and parts[0] == "zones" and parts[2] == "dns_records":
            if parts[1] != ZONE_ID:
                return self._reply(404, _envelope(None, [{"code": 7003, "message": "Could not route to "
                                                          f"/zones/{parts[1]}/dns_records, perhaps your object "
                                                          "identifier is invalid?"}]))
            name = query.get("name") or query.get("name.exact")
            with _lock:
                found = [dict(r) for r in _records.values() if not name or r["name"] == name]
            return self._reply(200, _envelope(found, info=_info(len(found))))
        self._reply(404, _envelope(None, [{"code": 7000, "message": "No route for that URI"}]))

    def do_PATCH(self):
        if not self._authorized():
            return
        parts, _ = self._route()
        if not (len(parts) == 4 and parts[0] == "zones" and parts[2] == "dns_records"):
            return self._reply(404, _envelope(None, [{"code": 7000, "message": "No route for that URI"}]))
        try:
            change = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        except ValueError:
            return self._reply(400, _envelope(None, [{"code": 9207, "message": "Request body is invalid."}]))
        with _lock:
            record = _records.get(parts[3]) if parts[1] == ZONE_ID else None
            if record is None:
                return self._reply(404, _envelope(None, [{"code": 81044, "message": "Record does not exist."}]))
            for key in ("content", "proxied", "ttl", "comment", "name", "type"):
                if key in change:
                    record[key] = change[key]
            record["modified_on"] = _now()
            result = dict(record)
        self._reply(200, _envelope(result))


def _info(count: int) -> dict:
    return {"page": 1, "per_page": 100, "count": count, "total_count": count, "total_pages": 1}


class Public(BaseHTTPRequestHandler):
    """The public name: resolved through the zone's record, then asked (gray cloud: no edge)."""

    backends: staticmethod  # () -> {load balancer DNS name: that region's /health URL}

    def log_message(self, *args):
        pass

    def do_GET(self):
        import urllib3

        host = (self.headers.get("Host") or "").split(":")[0]
        target = content_of(host)
        url = self.backends().get(target or "")
        if url is None:
            return self._send(502, {"status": "unavailable", "error": f"{host} resolves to {target!r}: nothing answers"})
        try:
            resp = urllib3.request("GET", url.rsplit("/health", 1)[0] + self.path, timeout=5, retries=False)
        except urllib3.exceptions.HTTPError:
            return self._send(504, {"status": "unavailable", "error": f"{target} does not answer"})
        self._send(resp.status, json.loads(resp.data or b"{}"), via=target)

    def _send(self, code: int, body: dict, via: str | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if via:
            self.send_header("X-Rovn-Sandbox-Origin", via)
        self.end_headers()
        self.wfile.write(data)
