"""A runbook's verdict on stdout the moment the kernel knows it (issue 24, build 2).

Triage's verdict (`P1 · 5xx above 1% … · next: rovn-ops run rollback …`) is known right
after the gathering; the charts, the evidence tables and the archive take seconds more.
The kernel records it (`record(verdict={"headline": …})`); `rovn-ops run` reads its result
file while the kernel works (runner._watching) and prints it at once:

- plain: the headline as the first line of stdout; the closing summary then leaves it out;
- `--json`: the object's first member, `"verdict": {…}`, flushed; the rest of the same
  object follows when the run ends (so stdout is still exactly one JSON object, and a
  reader that parses as it reads has the verdict seconds earlier).

What the kernel wrote is redacted (the run's sealed secrets, secret-shaped strings) as
the progress stream is, and a terminal sees its control characters, never obeys them.
"""
from __future__ import annotations

import json
import sys
import threading

from rovn_ops.core import record

KEY = "verdict"
FIELDS = ("headline", "severity", "next_command")  # what a verdict may carry; anything else is dropped


class Watch:
    """Polled by the runner's watcher thread: calls `emit` once, with the verdict redacted."""

    def __init__(self, result_file, redactor, emit):
        self.result_file, self.redactor, self.emit = result_file, redactor, emit
        self.seen: dict | None = None

    def __call__(self) -> None:
        if self.seen is not None:
            return
        got = record.read(self.result_file).get(KEY)
        if not isinstance(got, dict) or not isinstance(got.get("headline"), str):
            return
        redact = self.redactor().text
        self.seen = {k: redact(str(got[k])) if got.get(k) is not None else None for k in FIELDS}
        self.emit(self.seen)


class Output:
    """stdout for `rovn-ops run`: the early verdict, then the closing summary or object."""

    def __init__(self, as_json: bool, stream=None):
        self.as_json, self.stream = as_json, stream or sys.stdout
        self.verdict: dict | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def opened(self) -> bool:
        """A JSON object has begun on stdout and must be completed, never begun again."""
        return self.as_json and self.verdict is not None

    def announce(self, verdict: dict) -> None:
        from rovn_ops.core.escape import terminal

        with self._lock:
            if self.verdict is not None or self._closed:
                return
            self.verdict = verdict
            if self.as_json:  # `{"verdict": {…},` and a newline: close() completes the object
                self._write(json.dumps({KEY: verdict}, indent=2, default=str)[:-2] + ",\n")
            else:
                self._write(terminal(verdict["headline"]) + "\n")

    def close(self, told: dict) -> None:
        """The run's object (--json): all of it, or the rest of the one begun."""
        with self._lock:
            self._closed = True
            if self.verdict is None:
                self._write(json.dumps(told, indent=2, default=str) + "\n")
                return
            rest = {k: v for k, v in told.items() if k != KEY} or {"exit_code": None}
            self._write(json.dumps(rest, indent=2, default=str)[2:] + "\n")

    def lines(self, lines: list[str]) -> list[str]:
        """The closing summary without the headline already printed (a different one stays)."""
        from rovn_ops.core.escape import terminal

        with self._lock:
            self._closed = True
        if self.verdict is not None and lines and lines[0] == terminal(self.verdict["headline"]):
            return lines[1:]
        return lines

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a reader that left (`| head`) stops the output, never the run
            pass
