"""A period of the archive, one rule for `evidence export` and `evidence reconcile`:
`--from` and `--to` each a UTC date (YYYY-MM-DD: the whole day, `--to`'s day included) or
an ISO 8601 instant (2026-12-07T13:00:00Z; no zone is UTC). The period is [start, end)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

SHAPE = "a date YYYY-MM-DD or an ISO 8601 time such as 2026-12-07T13:00:00Z"
RUN_ID_TIME = re.compile(r"^([0-9]{8}T[0-9]{6}Z)")


def parse(text: str) -> date | datetime:
    """A bound as given: a date, or an aware instant. ValueError names the shape expected."""
    text = (text or "").strip()
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            return date.fromisoformat(text)
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"expected {SHAPE}, got {text[:40]!r}") from None
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def start_of(bound: date | datetime) -> datetime:
    return bound if isinstance(bound, datetime) else datetime.combine(bound, time(), timezone.utc)


def end_of(bound: date | datetime) -> datetime:
    """A date ends at the next midnight (its day included); an instant is its own end."""
    return bound if isinstance(bound, datetime) else start_of(bound) + timedelta(days=1)


def label(bound: date | datetime) -> str:
    return bound.isoformat() if not isinstance(bound, datetime) else bound.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    given_from: str = ""
    given_to: str = ""

    @classmethod
    def of(cls, start: date | datetime, end: date | datetime) -> "Period":
        return cls(start_of(start), end_of(end), label(start), label(end))

    def holds(self, when: datetime | None) -> bool:
        return when is not None and self.start <= when < self.end


def run_time(run_id: str, started_at: str = "") -> datetime | None:
    """When a run started, by its id (ids start YYYYMMDDTHHMMSSZ: what the ledger holds too, so
    the runs and the ledger entries of a period are cut at the same instant), else started_at."""
    m = RUN_ID_TIME.match(run_id or "")
    if m:
        return datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    try:
        t = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
