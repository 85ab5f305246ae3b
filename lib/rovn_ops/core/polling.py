"""Adaptive polling with a deadline in seconds: short waits first (most changes come
early), growing to a ceiling, back to short when something moved. A poll loop ends
with a verdict or with the deadline, never with "max attempts exceeded"."""
from __future__ import annotations

import time


class Poller:
    def __init__(self, deadline_s: float, first: float, longest: float, factor: float = 1.6):
        self.deadline_s, self.first, self.longest, self.factor = deadline_s, first, max(first, longest), factor
        self.started = time.monotonic()
        self.wait = first
        self.polls = 0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def expired(self) -> bool:
        return self.elapsed >= self.deadline_s

    def moved(self) -> None:
        """Something changed: look again soon."""
        self.wait = self.first

    def __iter__(self):
        while True:
            self.polls += 1
            yield self.polls
            if self.expired:
                return
            time.sleep(min(self.wait, max(0.0, self.deadline_s - self.elapsed)))
            self.wait = min(self.wait * self.factor, self.longest)
