"""The sandbox's AWS endpoint as the wire sees it: moto's WSGI app behind one layer of
our own, which

- names each request's service and operation as botocore does (the signing name in
  SigV4's credential scope, then X-Amz-Target for JSON protocols, `Action` for query
  protocols; REST operations are named later, by tests/conformance/shapes.py, from
  the method and path);
- refuses malformed JSON-protocol input with a 400 as AWS's JSON services do
  (SerializationException for a body that is not a JSON object or a value of the wrong
  type, ValidationException "Member must not be null" for a missing required member),
  where moto raised and answered 500, which botocore retries as a server fault;
- records every request and response, one JSON line each, when the sandbox runs with
  `ROVN_SANDBOX_RECORD` naming a directory (the tests set it): tests/conformance/shapes.py
  validates them against botocore's output shapes;
- keeps the management events CloudTrail's LookupEvents answers with (cloudtrail_api.py).
"""
from __future__ import annotations

import base64
import io
import json
import os
import re
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

_CREDENTIAL = re.compile(r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/aws4_request")
READ_ONLY = re.compile(r"^(Describe|List|Get|BatchGet|Lookup|Head|Filter|Search|Simulate|Test|Validate|Select)")
_RECORDED_TYPES = ("json", "xml", "text/plain", "x-amz-json")
_RPC_V2 = re.compile(r"^/service/[^/]+/operation/([A-Za-z0-9]+)$")


class Recorder:
    """Requests and responses, one JSON line each, appended to `path`."""

    def __init__(self, path: Path):
        self.path, self.lock = path, threading.Lock()

    def write(self, entry: dict) -> None:
        line = json.dumps(entry, default=str) + "\n"
        with self.lock, open(self.path, "a") as f:
            f.write(line)


def recorder_from_env() -> Recorder | None:
    """`ROVN_SANDBOX_RECORD` names a directory: this sandbox writes <its pid>.jsonl there."""
    where = os.environ.get("ROVN_SANDBOX_RECORD")
    if not where:
        return None
    Path(where).mkdir(parents=True, exist_ok=True)
    return Recorder(Path(where) / f"{os.getpid()}.jsonl")


# The services the sandbox answers for (loading every botocore model would cost seconds).
SERVICES = ("ecs", "ecr", "cloudwatch", "logs", "rds", "secretsmanager", "iam", "sts", "s3", "cloudtrail",
            "codebuild", "elbv2", "kms", "events", "synthetics", "ec2", "lambda", "sns", "ssm", "xray", "scheduler")


def _models():
    """botocore's service models by what names them on the wire."""
    import botocore.session

    session = botocore.session.get_session()
    by_target, by_signing = {}, {}
    for name in SERVICES:
        meta = session.get_service_data(name)["metadata"]
        if meta.get("targetPrefix"):
            by_target[meta["targetPrefix"]] = name
        signing = meta.get("signingName") or meta.get("endpointPrefix")
        by_signing.setdefault((signing, meta.get("apiVersion")), name)
        by_signing.setdefault((signing, None), name)
    return session, by_target, by_signing


class Wire:
    def __init__(self, app, recorder: Recorder | None, events=None):
        self.app, self.recorder, self.events = app, recorder, events
        self.session, self.by_target, self.by_signing = _models()
        self._ops: dict[tuple[str, str], object] = {}

    def name(self, environ: dict, body: bytes) -> tuple[str | None, str | None, str | None]:
        """(botocore service name, operation name or None, access key id)."""
        found = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        key, signing = (found.group(1), found.group(3)) if found else (None, None)
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target and "." in target:
            prefix, op = target.rsplit(".", 1)
            return self.by_target.get(prefix), op, key
        params = _form(environ, body)
        service = self.by_signing.get((signing, params.get("Version"))) or self.by_signing.get((signing, None))
        rpc = _RPC_V2.match(environ.get("PATH_INFO", ""))  # smithy-rpc-v2-cbor (CloudWatch): the path names it
        return service, (rpc.group(1) if rpc else params.get("Action")), key

    def operation(self, service: str, op: str):
        if (service, op) not in self._ops:
            try:
                self._ops[(service, op)] = self.session.get_service_model(service).operation_model(op)
            except Exception:  # noqa: BLE001 - not an operation botocore knows
                self._ops[(service, op)] = None
        return self._ops[(service, op)]

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        service, op, key = self.name(environ, body)
        outage = self._unreachable(environ, service)
        refusal = self._refuse(environ, service, op, body) or outage
        captured: dict = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = int(status.split()[0]), headers
            return start_response(status, headers, exc_info)

        if refusal:
            chunks = [self._error(capture, *refusal)]
        else:
            chunks = list(self.app(environ, capture))
        out = b"".join(chunks)
        # An injected region outage is the scenario's fault, not a claim about AWS's answers:
        # it is not recorded for the shape conformance check (which refuses any 5xx).
        if (self.recorder or self.events is not None) and not outage:
            self._note(environ, service, op, key, body, captured, out)
        return [out]

    def _refuse(self, environ, service, op, body) -> tuple[int, str, str] | None:
        """A 400 for input AWS refuses before it reaches the service, as AWS words it."""
        if not environ.get("HTTP_X_AMZ_TARGET") or not service or not op:
            return None
        model = self.operation(service, op)
        if model is None:
            return 400, "UnknownOperationException", f"Operation {op} is not supported."
        if "json" not in environ.get("CONTENT_TYPE", ""):  # CBOR (smithy-rpc-v2): moto reads it, we don't
            return None
        if "gzip" in environ.get("HTTP_CONTENT_ENCODING", ""):  # botocore compresses PutMetricData
            import gzip

            try:
                body = gzip.decompress(body)
            except OSError:
                return 400, "SerializationException", "The request body is not valid gzip."
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return 400, "SerializationException", "Start of structure or map found where not expected."
        if not isinstance(params, dict):
            return 400, "SerializationException", "Start of list found where not expected."
        problem = _input_problem(params, model.input_shape)
        if problem:  # AWS's JSON services: a value of another type cannot be read; a missing one is invalid
            return 400, "ValidationException" if "must not be null" in problem else "SerializationException", problem
        return None

    @staticmethod
    def _unreachable(environ, service) -> tuple[int, str, str] | None:
        """Scenario region_outage: the primary region's ECS and RDS answer 503 (standby.py)."""
        from rovn_sandbox import standby

        found = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        if found and standby.unreachable(service, found.group(2)):
            return 503, "ServiceUnavailable", f"{service} in {found.group(2)} is unreachable (sandbox: region_outage)"
        return None

    def _error(self, start_response, status: int, code: str, message: str) -> bytes:
        data = json.dumps({"__type": code, "message": message}).encode()
        start_response(f"{status} {'Service Unavailable' if status == 503 else 'Bad Request'}", [("Content-Type", "application/x-amz-json-1.1"),
                                                 ("Content-Length", str(len(data))),
                                                 ("x-amzn-RequestId", str(uuid.uuid4())),
                                                 ("x-amzn-ErrorType", code)])
        return data

    def _note(self, environ, service, op, key, body, captured, out) -> None:
        headers = {k.lower(): v for k, v in captured.get("headers", [])}
        status = captured.get("status", 0)
        if self.recorder:
            kind = headers.get("content-type", "")
            text = out.decode("utf-8", "replace") if any(t in kind for t in _RECORDED_TYPES) or not out else None
            binary = "cbor" in kind and len(out) < 4 << 20  # smithy-rpc-v2-cbor answers: kept, base64
            self.recorder.write({
                "at": time.time(), "service": service, "operation": op, "method": environ["REQUEST_METHOD"],
                "path": environ.get("PATH_INFO", ""), "query": environ.get("QUERY_STRING", ""),
                "host": environ.get("HTTP_HOST", ""), "status": status, "headers": headers,
                # what tells REST operations apart that share a method and path (CopyObject, UploadPartCopy)
                "request_headers": {h: environ[k] for h, k in (("x-amz-copy-source", "HTTP_X_AMZ_COPY_SOURCE"),)
                                    if k in environ},
                "body": text if text is not None else "", "body_omitted": text is None and bool(out) and not binary,
                **({"body_b64": base64.b64encode(out).decode()} if binary else {}),
                "worker": os.environ.get("PYTEST_XDIST_WORKER", "")})
        if self.events is not None and service and op and 200 <= status < 300 and not READ_ONLY.match(op):
            self.events.add(service, op, key, body, environ)


def _form(environ: dict, body: bytes) -> dict:
    from urllib.parse import parse_qsl

    params = dict(parse_qsl(environ.get("QUERY_STRING", "")))
    if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        params |= dict(parse_qsl(body.decode("utf-8", "replace")))
    return params


_TYPES = {"string": (str,), "integer": (int,), "long": (int,), "boolean": (bool,), "float": (int, float),
          "double": (int, float), "timestamp": (int, float, str), "blob": (str,)}


def _input_problem(value, shape, path: str = "") -> str | None:
    """The first way `value` is not `shape` (JSON input), worded as AWS's validation errors are."""
    kind = shape.type_name
    where = path or "input"
    if kind == "structure":
        if not isinstance(value, dict):
            return f"Value at '{where}' failed to satisfy constraint: Member must be a structure"
        for name in shape.required_members:
            if value.get(name) is None:
                return f"Value null at '{path + '.' if path else ''}{name}' failed to satisfy constraint: Member must not be null"
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                problem = _input_problem(value[name], member, f"{path + '.' if path else ''}{name}")
                if problem:
                    return problem
        return None
    if kind == "list":
        if not isinstance(value, list):
            return f"Value at '{where}' failed to satisfy constraint: Member must be a list"
        return next((p for i, v in enumerate(value) if (p := _input_problem(v, shape.member, f"{where}.{i + 1}"))), None)
    if kind == "map":
        if not isinstance(value, dict):
            return f"Value at '{where}' failed to satisfy constraint: Member must be a map"
        return next((p for k, v in value.items() if (p := _input_problem(v, shape.value, f"{where}.{k}"))), None)
    expected = _TYPES.get(kind)
    if expected and (not isinstance(value, expected) or (kind in ("integer", "long") and isinstance(value, bool))):
        return f"Value '{value}' at '{where}' failed to satisfy constraint: Member must be of type {kind}"
    return None


class Events:
    """Management events of write calls, as CloudTrail records them (90 days of
    history in AWS; here since the last reset)."""

    def __init__(self, account: str = "123456789012"):
        self.account, self.items, self.lock = account, [], threading.Lock()

    def add(self, service: str, op: str, key: str | None, body: bytes, environ: dict) -> None:
        from rovn_sandbox import sts_source_identity
        from rovn_sandbox.ecs_api import caller_arn

        session = sts_source_identity.user_identity(key, self.account)  # an assumed role's key: its session
        arn = session["arn"] if session else caller_arn(key) or f"arn:aws:iam::{self.account}:root"
        now = datetime.now(timezone.utc)
        source = f"{_event_source(service)}.amazonaws.com"
        try:
            request = json.loads(body) if body and environ.get("HTTP_X_AMZ_TARGET") else {}
        except ValueError:
            request = {}
        event_id = str(uuid.uuid4())
        record = {"eventVersion": "1.09", "eventTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventSource": source,
                  "eventName": op, "awsRegion": os.environ.get("AWS_DEFAULT_REGION", "us-east-2"),
                  "userIdentity": session or {"type": "IAMUser", "arn": arn, "accountId": self.account,
                                              "userName": arn.rsplit("/", 1)[-1], "accessKeyId": key or ""},
                  "requestParameters": request if isinstance(request, dict) else {}, "eventID": event_id,
                  "readOnly": False, "eventType": "AwsApiCall", "managementEvent": True,
                  "recipientAccountId": self.account}
        with self.lock:
            self.items.insert(0, {"EventId": event_id, "EventName": op, "ReadOnly": "false", "AccessKeyId": key or "",
                                  "EventTime": now, "EventSource": source, "Username": arn.rsplit("/", 1)[-1],
                                  "Resources": _resources(request if isinstance(request, dict) else {}),
                                  "CloudTrailEvent": json.dumps(record)})
            del self.items[10000:]

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


def _event_source(service: str) -> str:
    return {"cloudwatch": "monitoring", "elbv2": "elasticloadbalancing"}.get(service, service)


_RESOURCE_TYPES = {"service": "AWS::ECS::Service", "taskDefinition": "AWS::ECS::TaskDefinition",
                   "cluster": "AWS::ECS::Cluster", "SecretId": "AWS::SecretsManager::Secret",
                   "repositoryName": "AWS::ECR::Repository", "projectName": "AWS::CodeBuild::Project"}


def _resources(request: dict) -> list[dict]:
    return [{"ResourceType": kind, "ResourceName": request[key]} for key, kind in _RESOURCE_TYPES.items()
            if isinstance(request.get(key), str)]



class Server:
    """moto's server app (as ThreadedMotoServer runs it) behind Wire, on loopback."""

    def __init__(self, port: int, recorder: Recorder | None, events: Events | None):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        app = Wire(DomainDispatcherApplication(create_backend_app), recorder, events)
        self.server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join()
