"""The app's error log summary: its structured JSON lines at ERROR, top messages by
count, scrubbed of personal data and secrets before anything shows them.

Logs Insights' stats would count them server-side; moto's Insights ignores filters
and stats, and its JSON filter patterns match everything, so the read is a plain
term filter (`ERROR`) and the JSON is parsed and counted here.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .. import personal_data
from .window import Window

ERROR_LEVELS = {"ERROR", "CRITICAL", "FATAL"}


@dataclass
class Summary:
    group: str
    lines: int = 0
    counts: Counter = field(default_factory=Counter)
    first: dict = field(default_factory=dict)
    last: dict = field(default_factory=dict)

    def add(self, message: str, at: datetime) -> None:
        key = personal_data.redact(message)[:300]
        self.lines += 1
        self.counts[key] += 1
        self.first.setdefault(key, at)
        self.last[key] = at

    def top(self, n: int):
        import pandas as pd

        return pd.DataFrame([{"count": c, "message": m, "first": self.first[m].strftime("%H:%M:%S"),
                              "last": self.last[m].strftime("%H:%M:%S")} for m, c in self.counts.most_common(n)],
                            columns=["count", "message", "first", "last"])

    def onset(self) -> datetime | None:
        return min(self.first.values()) if self.first else None


def _message(raw: str) -> str | None:
    """The message of an error line, or None for other levels (plain text counts whole)."""
    try:
        body = json.loads(raw)
    except ValueError:
        return raw if "ERROR" in raw else None
    if not isinstance(body, dict):
        return None
    if str(body.get("level", body.get("levelname", ""))).upper() not in ERROR_LEVELS:
        return None
    return str(body.get("message") or body.get("msg") or raw)


def summarise(logs, group: str, window: Window) -> Summary:
    out = Summary(group)
    kwargs = {"logGroupName": group, "startTime": int(window.start.timestamp() * 1000),
              "endTime": int(window.end.timestamp() * 1000), "filterPattern": "ERROR"}
    while True:
        page = logs.filter_log_events(**kwargs)
        for e in page["events"]:
            msg = _message(e["message"])
            if msg is not None:
                out.add(msg, datetime.fromtimestamp(e["timestamp"] / 1000, timezone.utc))
        token = page.get("nextToken")
        if not token or token == kwargs.get("nextToken"):
            return out
        kwargs["nextToken"] = token
