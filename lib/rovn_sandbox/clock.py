"""The sandbox's clock: compressed wall time, which scenarios control.

What takes time in AWS (an ECS task starting and passing its health checks, a
CodeBuild build) takes sandbox seconds here, and sandbox seconds pass `scale` times
faster than wall time. A process that is due is advanced when anyone looks (or the
server's ticker does), as far as the clock says, however often or rarely a client
polls: the number of polls never changes the outcome (issue 22).

Scenarios and tests set the clock through the control API (`POST /_sandbox/clock`:
`scale`, `paused`, `advance_s`); a reset puts it back to the default.
"""
from __future__ import annotations

import threading
import time

DEFAULT_SCALE = 200.0  # an ECS task's 30 s start takes 0.15 s of wall time
_lock = threading.Lock()
_state = {"base": 0.0, "since": time.monotonic(), "wall": time.time(), "scale": DEFAULT_SCALE, "paused": False}


def now() -> float:
    """Sandbox seconds since the sandbox process started (monotonic)."""
    with _lock:
        return _now()


def _now() -> float:
    s = _state
    return s["base"] if s["paused"] else s["base"] + (time.monotonic() - s["since"]) * s["scale"]


def _rebase() -> None:
    _state["base"], _state["since"], _state["wall"] = _now(), time.monotonic(), time.time()


def wall_at(s: float):
    """The wall time (UTC) at which the clock read `s`: what the world stamps an instant of
    sandbox time with (CloudWatch's evaluations, alarm_eval.py), so stamps and the clock agree.
    An instant before the last change of speed or jump is placed at the current speed."""
    from datetime import datetime, timezone

    with _lock:
        st = _state
        if st["paused"]:
            wall = time.time() - max(0.0, st["base"] - s) / st["scale"]
        else:
            wall = min(st["wall"] + (s - st["base"]) / st["scale"], time.time())
        if s > st.get("jump_from", float("inf")):
            wall = max(wall, st["jump_wall"])
        return datetime.fromtimestamp(wall, timezone.utc)


def set(scale: float | None = None, paused: bool | None = None, advance_s: float = 0.0) -> dict:  # noqa: A001
    """Change the clock's speed, pause or resume it, or jump it forward; returns its state."""
    if scale is not None and not scale > 0:
        raise ValueError("scale must be a number above 0")
    if advance_s < 0:
        raise ValueError("advance_s must not be negative: the clock never goes back")
    with _lock:
        _rebase()
        if scale is not None:
            _state["scale"] = float(scale)
        if paused is not None:
            _state["paused"] = bool(paused)
        if advance_s:  # the instants jumped over were passed now, in wall time
            _state["jump_from"], _state["jump_wall"] = _state["base"], time.time()
        _state["base"] += advance_s
        return _describe()


def describe() -> dict:
    with _lock:
        return _describe()


def _describe() -> dict:
    return {"now_s": round(_now(), 3), "scale": _state["scale"], "paused": _state["paused"]}


def reset() -> None:
    with _lock:
        _rebase()
        _state["scale"], _state["paused"] = DEFAULT_SCALE, False
