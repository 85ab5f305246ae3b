"""X-Ray traces in the sandbox world, written as the X-Ray SDK sends them: PutTraceSegments
with segment documents (https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html):
a trace id `1-<hex epoch>-<24 hex>`, a 16-hex segment id, start/end in epoch seconds, an
`http` block (request url/method, response status) and the fault (5xx) / error (4xx)
flags. Steady traffic is seeded with the world; scenario xray_admin_faults adds 5xx on
/admin/*, which triage must list first."""
from __future__ import annotations

import json
import secrets
import time

from rovn_sandbox import scenarios

ACCOUNT = "123456789012"
HOST = "https://app.rovn.example"
STEADY = [("/api/notes", 200)] * 12 + [("/api/patients/42", 404)] * 2 + [("/api/notes", 500)]
ADMIN_FAULTS = [("/admin/users", 500)] * 3 + [("/audit/export", 502)] + [("/api/notes", 500)] * 4 + [("/api/search", 200)] * 2
SLOW = {"/api/search": 4.5}  # seconds: a path answering slowly, which triage lists as slow
_state: dict = {}


def documents(requests: list[tuple[str, int]], now: float | None = None) -> list[str]:
    now = now or time.time()
    out = []
    for i, (path, status) in enumerate(requests):
        start = now - 90 + i
        out.append(json.dumps({
            "name": "rovn-app", "id": secrets.token_hex(8),
            "trace_id": f"1-{int(start):08x}-{secrets.token_hex(12)}",
            "start_time": start, "end_time": start + SLOW.get(path, 0.2),
            "http": {"request": {"method": "GET", "url": HOST + path}, "response": {"status": status}},
            **({"fault": True} if status >= 500 else {}), **({"error": True} if 400 <= status < 500 else {})}))
    return out


def seed(xray) -> None:
    xray.put_trace_segments(TraceSegmentDocuments=documents(STEADY))


def install(region: str) -> None:
    _state["region"] = region
    scenarios.KNOWN.setdefault("xray_admin_faults", "X-Ray traces with 5xx faults on /admin/* and /audit/*")
    scenarios.on_activate("xray_admin_faults", _admin_faults)


def _admin_faults() -> None:
    # the same code moto's PutTraceSegments handler runs, one document at a time
    from moto.xray.models import xray_backends

    backend = xray_backends[ACCOUNT][_state["region"]]
    for doc in documents(ADMIN_FAULTS):
        backend.process_segment(doc)
