"""Which run this is and which local account runs it: asked by the context, the
runner and the archive alike, so it lives below all three (no import runs back up)."""
from __future__ import annotations

import getpass
import os
import secrets
from datetime import datetime, timezone


def new_run_id(runbook: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{runbook}-{secrets.token_hex(3)}"


def local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
