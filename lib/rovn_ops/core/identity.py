"""Which run this is and which local account runs it: asked by the context, the
runner and the archive alike, so it lives below all three (no import runs back up)."""
from __future__ import annotations

import getpass
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from rovn_ops.core import aws


def new_run_id(runbook: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{runbook}-{secrets.token_hex(3)}"


def local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


@dataclass(frozen=True)
class Operator:
    arn: str
    local_user: str

    @property
    def name(self) -> str:
        """The IAM user or role name (the last part of the ARN)."""
        return self.arn.rsplit("/", 1)[-1]

    def __str__(self) -> str:
        return f"{self.arn} (local user {self.local_user})"


def operator(env: str, region: str) -> Operator:
    arn = aws.caller_arn(env, region)
    return Operator(arn=arn, local_user=os.environ.get("ROVN_LOCAL_USER") or local_user())
