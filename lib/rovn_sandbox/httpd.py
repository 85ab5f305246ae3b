"""The sandbox's HTTP side: the app's /health stub, the webhook sink, and the
control API (scenarios, reset, recorded posts)."""
from __future__ import annotations

import json
import threading
import traceback
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from rovn_sandbox import clock, image_faults, scenarios


class Sink:
    """Every Slack or PagerDuty post, in arrival order (also appended to a file)."""

    def __init__(self, path):
        self.path, self.posts, self._lock = path, [], threading.Lock()

    def record(self, channel: str, body: bytes) -> None:
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            payload = body.decode(errors="replace")
        post = {"channel": channel, "payload": payload,
                "received_at": datetime.now(timezone.utc).isoformat()}
        with self._lock:
            self.posts.append(post)
            with open(self.path, "a") as f:
                f.write(json.dumps(post) + "\n")

    def clear(self) -> None:
        with self._lock:
            self.posts.clear()


class Handler(BaseHTTPRequestHandler):
    serving_version: Callable[[], str | None]   # the running tasks' image tag; None: none runs
    db_status: Callable[[], str]
    sink: Sink
    reset: Callable[..., dict]
    primary = True   # the primary region's app (scenario region_outage takes it down); the standby's: False

    def log_message(self, *args):  # keep the sandbox log for real events
        pass

    def version_string(self) -> str:
        # Scenario health_proxied: answer as Cloudflare's edge does (orange cloud, §4).
        return "cloudflare" if scenarios.active("health_proxied") else super().version_string()

    def _reply(self, code: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        if scenarios.active("health_proxied"):
            self.send_header("CF-RAY", "8e1f2c3d4a5b6c7d-DFW")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        if self.path == "/health":
            # Answered by the service's running tasks, as the ALB routes it: none running, no answer
            # but the ALB's 503; an image whose /health handler is broken answers 500 (image_faults).
            version = self.serving_version()
            if scenarios.active("health_down") and self.primary or version is None or (
                    scenarios.active("region_outage") and self.primary):
                return self._reply(503, {"status": "unavailable"})
            if image_faults.health_broken(version):
                return self._reply(500, {"status": "error", "version": version,
                                         "error": "AttributeError: 'NoneType' object has no attribute 'ping'"})
            db = self.db_status()  # the running tasks' database credentials still log in
            return self._reply(200 if db == "ok" else 503, {"status": "ok" if db == "ok" else "unavailable",
                                                            "version": version, "db": db})
        if self.path == "/_sandbox/posts":
            return self._reply(200, self.sink.posts)
        if self.path == "/_sandbox/scenario":
            return self._reply(200, {"active": scenarios.current(), "known": scenarios.KNOWN})
        if self.path == "/_sandbox/clock":
            return self._reply(200, clock.describe())
        self._reply(404, {"error": f"no route {self.path}"})

    def do_POST(self):
        body = self._body()
        if self.path.startswith("/hooks/"):
            if scenarios.active("sink_down"):
                return self._reply(503, {"error": "sink down (scenario)"})
            self.sink.record(self.path.removeprefix("/hooks/"), body)
            return self._reply(200, {"ok": True})
        if self.path == "/_sandbox/scenario":
            req = json.loads(body)
            try:
                scenarios.set_scenario(req["name"], req.get("on", True))
            except KeyError:
                return self._reply(400, {"error": f"unknown scenario {req.get('name')!r}",
                                         "known": scenarios.KNOWN})
            return self._reply(200, {"active": scenarios.current()})
        if self.path == "/_sandbox/clock":  # {"scale": N, "paused": bool, "advance_s": S}
            try:
                req = json.loads(body or b"{}")
                return self._reply(200, clock.set(req.get("scale"), req.get("paused"), float(req.get("advance_s", 0))))
            except (ValueError, TypeError, AttributeError) as e:
                return self._reply(400, {"error": f"clock: {e}"})
        if self.path == "/_sandbox/reset":
            try:  # {"full": true}: seed anew rather than restore the kept seed
                steps = self.reset(full=bool((json.loads(body or b"{}") or {}).get("full")))
            except Exception as e:  # noqa: BLE001 - say why, rather than drop the connection
                traceback.print_exc()  # into sandbox.log
                return self._reply(500, {"error": f"sandbox reset failed: {type(e).__name__}: {e}"})
            return self._reply(200, {"ok": True, "seconds": steps})
        self._reply(404, {"error": f"no route {self.path}"})


class JsonHandler(BaseHTTPRequestHandler):
    """A stub of a JSON API on loopback: quiet, and one way to answer."""

    def log_message(self, *args):
        pass

    def _reply(self, code: int, body, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


def serve(handler: type[Handler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
