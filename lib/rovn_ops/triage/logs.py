"""The app's error log summary: its structured JSON lines at ERROR, CRITICAL or FATAL
(Python's logging and most JSON loggers name their worst levels so), top messages by
count, scrubbed of personal data and secrets before anything shows them; and every
line in the window, at any level, that carries PHI-shaped data (§5: logs are
PHI-scrubbed before write; a line that is not means suspected PHI exposure, §6 P0),
counted by kind and never kept.

Logs Insights' stats would count them server-side; moto's Insights ignores filters
and stats, and its JSON filter patterns match everything. A term filter would see
only the levels it names, and PHI turns up at INFO as readily as at ERROR, so the
window is read whole and the JSON is parsed and counted here.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property

from rovn_ops.safety import personal_data
from rovn_ops.triage.window import Window

ERROR_LEVELS = {"ERROR", "CRITICAL", "FATAL"}


@dataclass
class Summary:
    """Counts per raw message while reading; redacted once per distinct message when
    shown (the same line repeats thousands of times in an incident), merged after
    redaction (lines differing only in an email count as one)."""

    group: str
    lines: int = 0
    # PHI-shaped lines: how many, of which kinds, since when; their text is never kept
    phi_lines: int = 0
    phi: Counter = field(default_factory=Counter)
    phi_first: datetime | None = None
    # raw lines never show: kept out of repr, read only through the redacted views
    raw: Counter = field(default_factory=Counter, repr=False)
    _first: dict = field(default_factory=dict, repr=False)
    _last: dict = field(default_factory=dict, repr=False)

    def add(self, message: str, at: datetime) -> None:
        self.lines += 1
        self.raw[message] += 1
        self._first.setdefault(message, at)
        self._last[message] = at

    @cached_property
    def _redacted(self) -> tuple[Counter, dict, dict]:
        counts, first, last = Counter(), {}, {}
        for message, n in self.raw.items():
            key = personal_data.redact(message)[:300]
            counts[key] += n
            first[key] = min(first.get(key, self._first[message]), self._first[message])
            last[key] = max(last.get(key, self._last[message]), self._last[message])
        return counts, first, last

    @property
    def counts(self) -> Counter:
        return self._redacted[0]

    @property
    def first(self) -> dict:
        return self._redacted[1]

    @property
    def last(self) -> dict:
        return self._redacted[2]

    def top(self, n: int):
        import pandas as pd

        counts, first, last = self._redacted
        return pd.DataFrame([{"count": c, "message": m, "first": first[m].strftime("%H:%M:%S"),
                              "last": last[m].strftime("%H:%M:%S")} for m, c in counts.most_common(n)],
                            columns=["count", "message", "first", "last"])

    def saw_phi(self, kinds: set[str], at: datetime) -> None:
        self.phi_lines += 1
        self.phi.update(kinds)
        self.phi_first = at if self.phi_first is None else min(self.phi_first, at)

    def onset(self) -> datetime | None:
        return min(self._first.values()) if self._first else None


def _message(raw: str) -> str | None:
    """The message of an error line, or None for other levels (plain text counts whole)."""
    try:
        body = json.loads(raw)
    except ValueError:
        return raw if any(level in raw for level in ERROR_LEVELS) else None
    if not isinstance(body, dict):
        return None
    level = body.get("level", body.get("levelname", body.get("severity", "")))
    if str(level).upper() not in ERROR_LEVELS:
        return None
    return str(body.get("message") or body.get("msg") or raw)


def summarise(logs, group: str, window: Window) -> Summary:
    out = Summary(group)
    kwargs = {"logGroupName": group, "startTime": int(window.start.timestamp() * 1000),
              "endTime": int(window.end.timestamp() * 1000)}
    while True:
        page = logs.filter_log_events(**kwargs)
        for e in page["events"]:
            at = datetime.fromtimestamp(e["timestamp"] / 1000, timezone.utc)
            kinds = personal_data.phi_kinds(e["message"])
            if kinds:
                out.saw_phi(kinds, at)
            msg = _message(e["message"])
            if msg is not None:
                out.add(msg, at)
        token = page.get("nextToken")
        if not token or token == kwargs.get("nextToken"):
            return out
        kwargs["nextToken"] = token
