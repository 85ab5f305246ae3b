"""The span triage reads, and the business hours P1 posts keep to (§5)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def parse_time(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def utc(t: datetime) -> datetime:
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @classmethod
    def of(cls, minutes: int, end: str = "", now: datetime | None = None) -> "Window":
        """Whole minutes (CloudWatch's 1-minute periods line up), ending at `end` or now."""
        stop = parse_time(end) if end else (now or datetime.now(timezone.utc))
        stop = utc(stop).replace(second=0, microsecond=0)
        return cls(stop - timedelta(minutes=minutes), stop)

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} → {self.end:%H:%M} UTC ({self.minutes} min)"


@dataclass(frozen=True)
class BusinessHours:
    opens: time
    closes: time
    days: tuple[str, ...]
    zone: ZoneInfo

    @classmethod
    def of(cls, hours: str, days: list[str], zone: str) -> "BusinessHours":
        a, b = hours.split("-")
        closes = time.max if b == "24:00" else time.fromisoformat(b)
        return cls(time.fromisoformat(a), closes, tuple(days), ZoneInfo(zone))

    def is_open(self, at: datetime) -> bool:
        local = utc(at).astimezone(self.zone)
        return WEEKDAYS[local.weekday()] in self.days and self.opens <= local.time() < self.closes

    def next_open(self, at: datetime) -> datetime | None:
        """When a post held back at `at` may go: now if open, else the next opening
        (UTC) within two weeks; None when no business day is configured."""
        if self.is_open(at):
            return utc(at)
        local = utc(at).astimezone(self.zone)
        for d in range(15):
            day = local.date() + timedelta(days=d)
            if WEEKDAYS[day.weekday()] not in self.days:
                continue
            opening = datetime.combine(day, self.opens, tzinfo=self.zone)
            if opening > local:
                return opening.astimezone(timezone.utc)
        return None

    def __str__(self) -> str:
        return f"{self.opens:%H:%M}-{self.closes:%H:%M} {','.join(self.days)} ({self.zone.key})"
