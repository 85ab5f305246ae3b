"""Shape conformance: every response the sandbox gave (sandbox/wire.py records them
when ROVN_SANDBOX_RECORD is set, as the tests' sandboxes run) is parsed by botocore's
own parser for its protocol and validated against the operation's output shape with
botocore's own validator (ParamValidator, as botocore's Stubber validates a stubbed
response), then walked for what that validator does not check: enum values, and
members the model does not have (a misspelt or invented field)."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

import botocore.parsers
import botocore.session
import botocore.validate

_session = botocore.session.get_session()
_models: dict[str, object] = {}
SKIP_PATHS = ("/moto-api",)  # moto's own control API (reset), no AWS operation


@dataclass
class Violation:
    service: str
    operation: str
    problem: str

    def __str__(self) -> str:
        return f"{self.service}.{self.operation}: {self.problem}"


def model(service: str):
    if service not in _models:
        _models[service] = _session.get_service_model(service)
    return _models[service]


def read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def rest_operation(service_model, method: str, path: str, query: str, request_headers: dict) -> str | None:
    """The REST operation a request was, from botocore's http bindings: the method,
    the path's shape ("/", "/{Bucket}", "/{Bucket}/{Key+}"), the query's literal
    keys; the most specific wins (GetObjectRetention over GetObject)."""
    keys = {k for k, _ in parse_qsl(query, keep_blank_values=True)}
    segments = [s for s in path.split("/") if s]
    best, best_score = None, -1
    for name in service_model.operation_names:
        http = service_model.operation_model(name).http
        if http.get("method") != method:
            continue
        uri, _, literal = http["requestUri"].partition("?")
        parts = [s for s in uri.split("/") if s]
        if any(p.endswith("+}") for p in parts):
            fits = len(segments) >= len(parts)
        else:
            fits = len(segments) == len(parts)
        wanted = {piece.split("=")[0] for piece in literal.split("&") if piece and not piece.startswith("x-id")}
        if not fits or not wanted <= keys:
            continue
        score = len(wanted) * 10 + len(parts)
        if name in ("CopyObject", "UploadPartCopy") and "x-amz-copy-source" not in request_headers:
            continue
        if name in ("CopyObject", "UploadPartCopy"):
            score += 5
        if score > best_score:
            best, best_score = name, score
    return best


def _walk(value, shape, path: str, out: list[str], strict_members: bool) -> None:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for key, member_value in value.items():
            if key == "ResponseMetadata" and not path:
                continue
            member = shape.members.get(key)
            if member is None:
                if strict_members:
                    out.append(f"{path or 'output'}: member {key!r} is not in botocore's model")
                continue
            _walk(member_value, member, f"{path + '.' if path else ''}{key}", out, strict_members)
    elif kind == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, shape.member, f"{path}[{i}]", out, strict_members)
    elif kind == "map" and isinstance(value, dict):
        for k, v in value.items():
            _walk(v, shape.value, f"{path}.{k}", out, strict_members)
    elif kind == "string" and shape.enum and isinstance(value, str) and value not in shape.enum:
        out.append(f"{path}: {value!r} is not one of the enum's values {list(shape.enum)[:12]}")


def check(entry: dict) -> list[Violation]:
    """What is wrong with one recorded response (nothing: [])."""
    if entry["path"].startswith(SKIP_PATHS):
        return []
    if entry["status"] >= 500:  # AWS's 5xx is its own fault, which botocore retries: never a sandbox's answer
        return [Violation(entry.get("service") or "?", entry.get("operation") or "?",
                          f"answered HTTP {entry['status']}: {entry['body'][:200]}")]
    if not 200 <= entry["status"] < 300:
        return []
    service = entry.get("service")
    if not service:
        return [Violation("?", "?", f"{entry['method']} {entry['path']}: no AWS service signed this request")]
    service_model = model(service)
    op = entry.get("operation") or rest_operation(service_model, entry["method"], entry["path"], entry["query"],
                                                  entry.get("request_headers", {}))
    if not op:
        return [Violation(service, "?", f"{entry['method']} {entry['path']}?{entry['query']}: no operation of "
                                        "the model answers to this request")]
    try:
        op_model = service_model.operation_model(op)
    except Exception:  # noqa: BLE001
        return [Violation(service, op, "botocore's model has no such operation")]
    shape = op_model.output_shape
    if shape is None or entry.get("body_omitted"):
        return []
    protocol = service_model.metadata["protocol"]
    raw_body = base64.b64decode(entry["body_b64"]) if "body_b64" in entry else entry["body"].encode()
    response = {"status_code": entry["status"], "headers": entry["headers"], "body": raw_body}
    try:
        parsed = botocore.parsers.create_parser(protocol).parse(response, shape)
    except Exception as e:  # noqa: BLE001 - a body botocore cannot read is the finding
        return [Violation(service, op, f"botocore cannot parse the response: {type(e).__name__}: {e}")]
    parsed.pop("ResponseMetadata", None)
    problems: list[str] = []
    report = botocore.validate.ParamValidator().validate(parsed, shape)
    if report.has_errors():
        problems += [line.strip() for line in report.generate_report().splitlines() if line.strip()]
    strict = protocol in ("json", "rest-json")
    raw = None
    if strict and entry["body"]:
        try:
            raw = json.loads(entry["body"])
        except ValueError:
            problems.append("the body is not JSON")
    _walk(raw if raw is not None else parsed, shape, "", problems, strict and raw is not None)
    return [Violation(service, op, p) for p in problems]


def check_all(entries: list[dict]) -> tuple[list[Violation], set[tuple[str, str]]]:
    """Every violation (deduplicated), and the (service, operation) pairs seen."""
    seen, found, unique = set(), [], set()
    for entry in entries:
        for v in check(entry):
            if str(v) not in unique:
                unique.add(str(v))
                found.append(v)
        if entry.get("service") and 200 <= entry["status"] < 300 and not entry["path"].startswith(SKIP_PATHS):
            op = entry.get("operation") or rest_operation(model(entry["service"]), entry["method"], entry["path"],
                                                          entry["query"], entry.get("request_headers", {}))
            seen.add((entry["service"], op or "?"))
    return found, seen
