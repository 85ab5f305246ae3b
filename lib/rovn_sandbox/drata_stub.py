"""Drata's public API v2 on loopback: the Evidence calls `evidence export --drata` makes.

As Drata's OpenAPI v2 documents them (tag Evidence; servers https://public-api.drata.com/public/v2,
developers.drata.com/openapi/reference/v2/overview), with `Authorization: Bearer <API key>`,
the key being the current value of the Secrets Manager secret the sandbox names (else 401):

- POST /workspaces/{workspaceId}/evidence-files, multipart/form-data with `file`
  (uploadArtifactFile) → 201 {fileKey, originalFilename, mimeType, fileSize};
- POST /workspaces/{workspaceId}/evidence, JSON {name, description, artifacts: [{type,
  fileKey, artifactName, filedAt}]} (createEvidence; `name` and `artifacts` required, each
  artifact `type` and `filedAt`, an S3_FILE's `fileKey` one this account uploaded) → 201;
- GET /workspaces/{workspaceId}/evidence?name=&cursor=&size= (listEvidence: name is a
  prefix match; `pagination.cursor` null on the last page).

GET /_sandbox/received (no API of Drata's) lets a test read what arrived.
"""
from __future__ import annotations

import hmac
import json
import re
import threading
from datetime import datetime, timezone
from email import policy
from email.parser import BytesParser
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from rovn_sandbox.httpd import JsonHandler

_ROUTE = re.compile(r"^/public/v2/workspaces/(?P<ws>[0-9]+)/(?P<what>evidence-files|evidence)$", re.ASCII)
_TYPES = {"URL", "S3_FILE", "TICKET_PROVIDER", "NONE", "GOOGLE_DRIVE", "ONE_DRIVE", "BOX", "DROPBOX",
          "SHARE_POINT", "TEST_RESULT"}


class Store:
    """What Drata holds: uploaded files by key, evidence items in creation order."""

    def __init__(self):
        self.lock, self.files, self.evidence = threading.Lock(), {}, []

    def clear(self) -> None:
        with self.lock:
            self.files.clear()
            self.evidence.clear()

    def received(self) -> dict:
        with self.lock:
            return {"files": {k: v["data"].decode("utf-8", "replace") for k, v in self.files.items()},
                    "evidence": list(self.evidence)}


store = Store()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Handler(JsonHandler):
    token: Callable[[], str]  # the current secret value

    def _error(self, code: int, message: str) -> None:
        self._reply(code, {"name": {400: "BadRequestException", 401: "UnauthorizedException",
                                    404: "NotFoundException"}.get(code, "Exception"),
                           "statusCode": code, "message": message, "code": code})

    def _route(self):
        url = urlsplit(self.path)
        route = _ROUTE.match(url.path)
        if not route:
            self._error(404, "Not Found")
            return None, url
        sent = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        if not sent or not hmac.compare_digest(sent.encode(), self.token().encode()):
            self._error(401, "Invalid Authorization")
            return None, url
        return route, url

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        if self.path == "/_sandbox/received":
            return self._reply(200, store.received())
        route, url = self._route()
        if route is None:
            return
        if route["what"] != "evidence":
            return self._error(404, "Not Found")
        q = parse_qs(url.query)
        name, size = q.get("name", [""])[0], int(q.get("size", ["50"])[0])
        start = int(q.get("cursor", ["0"])[0] or 0)
        with store.lock:
            found = [e for e in store.evidence if e["workspaceId"] == int(route["ws"]) and e["name"].startswith(name)]
        page = found[start:start + size]
        cursor = str(start + size) if start + size < len(found) else None
        self._reply(200, {"data": [_public(e) for e in page], "pagination": {"cursor": cursor}})

    def do_POST(self):
        route, _ = self._route()
        if route is None:
            return
        body = self._body()
        if route["what"] == "evidence-files":
            return self._upload(int(route["ws"]), body)
        try:
            req = json.loads(body)
        except ValueError:
            return self._error(400, "Malformed data")
        why = _invalid(req, int(route["ws"]))
        if why:
            return self._error(400, why)
        with store.lock:
            item = {"id": len(store.evidence) + 1, "workspaceId": int(route["ws"]), "name": req["name"],
                    "description": req.get("description"), "artifacts": req["artifacts"],
                    "createdAt": _now(), "updatedAt": _now()}
            store.evidence.append(item)
        self._reply(201, _public(item) | {"artifactsRequested": len(req["artifacts"]),
                                          "artifactsCreated": len(req["artifacts"])})

    def _upload(self, ws: int, body: bytes) -> None:
        ctype = self.headers.get("Content-Type") or ""
        if not ctype.startswith("multipart/form-data"):
            return self._error(400, "Expected multipart/form-data with a file")
        msg = BytesParser(policy=policy.default).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + body)
        parts = [p for p in msg.iter_parts() if p.get_param("name", header="content-disposition") == "file"] \
            if msg.is_multipart() else []
        if len(parts) != 1:
            return self._error(400, "Provide exactly one of file or base64File")
        part = parts[0]
        filename = part.get_filename() or "upload"
        data = part.get_payload(decode=True) or b""
        key = f"{ws}/evidence-library/{len(store.files) + 1:08d}/{filename}"
        with store.lock:
            store.files[key] = {"data": data, "workspace": ws}
        self._reply(201, {"fileKey": key, "originalFilename": filename,
                          "mimeType": part.get_content_type(), "fileSize": len(data)})


def _invalid(req: dict, ws: int) -> str:
    if not isinstance(req, dict) or not isinstance(req.get("name"), str) or not req["name"].strip():
        return "name must be a string"
    if len(req["name"]) > 191 or len(req.get("description") or "") > 30000:
        return "name or description too long"
    arts = req.get("artifacts")
    if not isinstance(arts, list) or not arts:
        return "artifacts must be an array"
    for a in arts:
        if not isinstance(a, dict) or a.get("type") not in _TYPES or not a.get("filedAt"):
            return "each artifact needs a type and filedAt"
        if a["type"] == "S3_FILE" and store.files.get(a.get("fileKey") or "", {}).get("workspace") != ws:
            return "fileKey must belong to the authenticated account"
    return ""


def _public(item: dict) -> dict:
    return {k: v for k, v in item.items() if k not in ("workspaceId", "artifacts")} | {
        "implementationGuidance": None, "renewalDate": None, "renewalScheduleType": "NONE", "status": "READY"}
