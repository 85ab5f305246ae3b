"""Where the running sandbox is, read from the state file its server writes
(`<ROVN_SANDBOX_DIR>/state.json`): its endpoints and the credentials it accepts. The
runner, the CLI and evidence recovery reach the sandbox only through this file and the
environment variables it yields, as production is reached through its endpoints; the
sandbox's own code (sandbox/control.py starts and stops it) reads the file from here too,
so no layer imports the simulator to find it."""
from __future__ import annotations

import json
import os
from pathlib import Path

from rovn_ops.core import paths
from rovn_ops.core.errors import BadInput


def state_file(state_dir: Path | None = None) -> Path:
    return (state_dir or paths.sandbox_state()) / "state.json"


def alive(pid: int) -> bool:
    try:  # started by this process (tests, demo): reap it, or a zombie looks alive to kill(0)
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not our child: another command started it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def state(state_dir: Path | None = None) -> dict | None:
    """The running sandbox's state, or None when none is running."""
    f = state_file(state_dir)
    if not f.exists():
        return None
    data = json.loads(f.read_text())
    return data if alive(data["pid"]) else None


def require(state_dir: Path | None = None) -> dict:
    current = state(state_dir)
    if current is None:
        raise BadInput("the sandbox is not running: start it with `rovn-ops sandbox up`")
    return current


def exports(current: dict) -> dict[str, str]:
    """The environment a shell, a kernel or a test needs to reach the sandbox."""
    return {
        "AWS_ENDPOINT_URL": current["endpoint"],
        "AWS_ACCESS_KEY_ID": current["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": current["secret_access_key"],
        "AWS_DEFAULT_REGION": current["region"],
        "AWS_REGION": current["region"],
        "DATABASE_URL": current["database_url"],
        "ROVN_MIGRATION_DATABASE_URL": current["admin_database_url"],
        "ROVN_HEALTH_URL": current["health_url"],
        "ROVN_SINK_URL": current["sink_url"],
        "ROVN_GITHUB_URL": current["github_url"],
        "ROVN_SANDBOX_URL": current["control_url"],
        "ROVN_SANDBOX_FAKES_URL": current.get("fakes_url", ""),
        "ROVN_SENTRY_URL": current.get("sentry_url", ""),
        "ROVN_DRATA_URL": current.get("drata_url", ""),
        "ROVN_STANDBY_HEALTH_URL": current.get("standby_health_url", ""),
        "ROVN_CLOUDFLARE_URL": current.get("cloudflare_url", ""),
        "ROVN_PUBLIC_URL": current.get("public_url", ""),
        "ROVN_SANDBOX_MIGRATIONS": current["migrations_dir"],
        "ROVN_SANDBOX_SOURCE": current["source_dir"],
        "ROVN_ENV": "sandbox",
    }


def apply_env(current: dict) -> None:
    """Point this process (and the kernels it starts) at the sandbox."""
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(k, None)
    os.environ.update(exports(current))
