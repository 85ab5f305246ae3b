"""Drata's public API v2: the Evidence calls that file custom evidence.

From Drata's OpenAPI v2 (developers.drata.com/openapi/reference/v2/overview, tag Evidence;
servers https://public-api.drata.com/public/v2 and its .eu/.apac twins), Bearer API key:
- POST /workspaces/{workspaceId}/evidence-files (uploadArtifactFile): multipart `file` →
  {fileKey, originalFilename, mimeType, fileSize};
- POST /workspaces/{workspaceId}/evidence (createEvidence): {name, description, artifacts:
  [{type: S3_FILE, fileKey, artifactName, filedAt}]} → 201 with the item's id;
- GET /workspaces/{workspaceId}/evidence?name= (listEvidence): a prefix match, paged by
  `pagination.cursor` (null on the last page).
The key is a secret_values.Secret, revealed into the Authorization header only."""
from __future__ import annotations

import json

from rovn_ops.core.errors import RovnError

TIMEOUT_S = 30.0


class Client:
    def __init__(self, base_url: str, workspace_id: int, token):
        self.base, self.workspace, self.token = base_url.rstrip("/"), int(workspace_id), token

    def _call(self, method: str, path: str, **kw) -> dict:
        import urllib3

        url = f"{self.base}/workspaces/{self.workspace}/{path}"
        headers = {"Authorization": f"Bearer {self.token.reveal()}", "Accept": "application/json"}
        if "body" in kw:
            headers["Content-Type"] = "application/json"
        try:
            # a read is retried; a POST is not (a second createEvidence would file the item twice)
            retries = urllib3.Retry(2, backoff_factor=0.5, status_forcelist=(429, 502, 503, 504)) \
                if method == "GET" else urllib3.Retry(0, redirect=False)
            resp = urllib3.request(method, url, headers=headers, timeout=TIMEOUT_S, retries=retries, **kw)
        except urllib3.exceptions.HTTPError as e:
            raise RovnError(f"Drata unreachable at {self.base}: {type(e).__name__}") from None
        if resp.status == 401:
            raise RovnError("Drata refused the API key (HTTP 401): check the secret drata.token_secret names")
        if resp.status >= 300:
            raise RovnError(f"Drata answered HTTP {resp.status} to {method} /workspaces/{self.workspace}/{path.split('?')[0]}")
        return json.loads(resp.data or b"{}")

    def find(self, name: str) -> dict | None:
        """The evidence item of exactly this name, or None (every page of the prefix match)."""
        cursor = None
        while True:
            fields = {"name": name, "size": "500"} | ({"cursor": cursor} if cursor else {})
            page = self._call("GET", "evidence", fields=fields)
            for item in page.get("data") or []:
                if item.get("name") == name:
                    return item
            cursor = (page.get("pagination") or {}).get("cursor")
            if not cursor:
                return None

    def upload(self, filename: str, data: bytes, mime: str) -> str:
        """The fileKey of a pre-uploaded artifact file."""
        return self._call("POST", "evidence-files", fields={"file": (filename, data, mime)})["fileKey"]

    def create(self, name: str, description: str, file_key: str, artifact_name: str, filed_at: str) -> dict:
        body = {"name": name, "description": description,
                "artifacts": [{"type": "S3_FILE", "fileKey": file_key, "artifactName": artifact_name,
                               "filedAt": filed_at}]}
        return self._call("POST", "evidence", body=json.dumps(body).encode())
