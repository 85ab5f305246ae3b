"""How long a headless run's step may stay quiet before the progress stream says it is
still running (progress.py). 20 s by default: under the 30 s that CI no-output timeouts
and people tolerate. `ROVN_HEARTBEAT_S` sets it, so the sandbox's tests can prove the
stream through a compressed bake instead of waiting a real minute; it can only be
shorter, never longer, than the default."""
from __future__ import annotations

import math
import os

from rovn_ops.core.errors import BadInput

DEFAULT_S = 20.0
ENV = "ROVN_HEARTBEAT_S"


def interval() -> float:
    """The heartbeat interval in seconds; a bad ROVN_HEARTBEAT_S is bad input (exit 2),
    read before the run makes anything."""
    text = os.environ.get(ENV, "").strip()
    if not text:
        return DEFAULT_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0.1 <= seconds <= DEFAULT_S:  # NaN fails too
        raise BadInput(f"{ENV}={text[:40]!r}: expected seconds from 0.1 to {DEFAULT_S:g} "
                       "(a quiet step longer than that would trip CI's no-output timeout)")
    return seconds
