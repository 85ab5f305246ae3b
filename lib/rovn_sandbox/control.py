"""Start, stop and query the sandbox process from the CLI and tests (the runner finds a
running one through core/sandbox_address.py)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rovn_ops.core import paths
from rovn_ops.core.errors import BadInput, RovnError
# Finding a running sandbox is core's (the runner and recovery need it without the
# simulator); these names stay here for the CLI, tests and bench that start one.
from rovn_ops.core.sandbox_address import alive as _alive, apply_env, exports, require, state  # noqa: F401
from rovn_ops.core.sandbox_address import state_file as _state_file


def up(state_dir: Path | None = None, timeout: float = 60) -> tuple[dict, bool]:
    """Start the sandbox unless it runs; returns (state, started_now)."""
    state_dir = state_dir or paths.sandbox_state()
    if (current := state(state_dir)) is not None:
        return current, False
    state_dir.mkdir(parents=True, exist_ok=True)
    _state_file(state_dir).unlink(missing_ok=True)
    log = open(state_dir / "sandbox.log", "ab")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rovn_sandbox.server", str(state_dir),
         str(paths.parameters() / "sandbox.yaml")],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        start_new_session=True)  # outlives this command, immune to its Ctrl-C
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (state_dir / "sandbox.log").read_text(errors="replace").splitlines()[-15:]
            raise RovnError("the sandbox failed to start:\n  " + "\n  ".join(tail))
        if (current := state(state_dir)) is not None:
            return current, True
        time.sleep(0.05)
    proc.terminate()
    raise RovnError(f"the sandbox did not start within {timeout:.0f}s; see {state_dir / 'sandbox.log'}")


def down(state_dir: Path | None = None, timeout: float = 20) -> bool:
    current = state(state_dir)
    if current is None:
        return False
    os.kill(current["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(current["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(current["pid"]):
        os.kill(current["pid"], signal.SIGKILL)
    _state_file(state_dir).unlink(missing_ok=True)
    return True


def _control(current: dict, method: str, path: str, body: dict | None = None):
    import urllib3

    resp = urllib3.request(method, current["control_url"] + path, timeout=180,  # a reset on a loaded machine
                           body=json.dumps(body).encode() if body is not None else None,
                           headers={"Content-Type": "application/json"})
    data = json.loads(resp.data or b"null")
    if resp.status >= 300:
        raise BadInput(data.get("error", f"sandbox answered HTTP {resp.status}") if isinstance(data, dict)
                       else f"sandbox answered HTTP {resp.status}")
    return data


def reset(current: dict, full: bool = False) -> dict[str, float]:
    """Back to the seeded world (restored from what the seed kept); `full` seeds anew.
    Returns the seconds each of the sandbox's steps took."""
    return _control(current, "POST", "/reset", {"full": True} if full else {})["seconds"]


def scenario(current: dict, name: str, on: bool = True) -> list[str]:
    return _control(current, "POST", "/scenario", {"name": name, "on": on})["active"]


def clock(current: dict, *, scale: float | None = None, paused: bool | None = None,
          advance_s: float = 0.0) -> dict:
    """Set the sandbox's clock (sandbox/clock.py): its speed, paused or not, a jump forward."""
    body = {"advance_s": advance_s} | ({"scale": scale} if scale is not None else {}) | (
        {"paused": paused} if paused is not None else {})
    return _control(current, "POST", "/clock", body)


def scenarios(current: dict) -> dict:
    return _control(current, "GET", "/scenario")


def posts(current: dict) -> list[dict]:
    return _control(current, "GET", "/posts")
