"""Getting this process ready to reach an environment: the sandbox found by itself,
prod with real credentials and no sandbox in sight. Used by the runner, the CLI and
evidence recovery, so it sits below all of them."""
from __future__ import annotations

import os

from rovn_ops.core import aws
from rovn_ops.core.errors import BadInput


def prepare_environment(env: str, profile: str | None = None) -> None:
    """A sandbox run finds the running sandbox by itself; prod must not see one, and
    needs credentials (`--profile` as the AWS CLI has it, else the usual chain)."""
    if profile:
        if env != "prod":
            raise BadInput("--profile: only with --env prod; the sandbox uses its own credentials")
        os.environ["AWS_PROFILE"] = profile  # kernels inherit it
    if env == "sandbox" and "AWS_ENDPOINT_URL" not in os.environ:
        from rovn_ops.sandbox import control

        control.apply_env(control.require())
    aws.guard(env)
    if env == "prod":
        aws.require_credentials(env)
