"""Getting this process ready to reach an environment: the sandbox found by itself,
prod with real credentials and no sandbox in sight. Used by the runner, the CLI and
evidence recovery, so it sits below all of them."""
from __future__ import annotations

import os

from rovn_ops.core import aws, sandbox_address
from rovn_ops.core.errors import BadInput


def prepare_environment(env: str, profile: str | None = None) -> None:
    """A sandbox run finds the running sandbox by itself (from its state file, never by
    importing the simulator: core imports nothing above it); prod must not see one, and
    needs credentials (`--profile` as the AWS CLI has it, else the usual chain)."""
    if profile:
        if env != "prod":
            raise BadInput("--profile: only with --env prod; the sandbox uses its own credentials")
        os.environ["AWS_PROFILE"] = profile  # kernels inherit it
    if env == "sandbox" and "AWS_ENDPOINT_URL" not in os.environ:
        sandbox_address.apply_env(sandbox_address.require())
    aws.guard(env)
    if env == "prod":
        aws.require_credentials(env)
