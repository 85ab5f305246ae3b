"""The `rovn-ops run …` command lines runbooks print for the next step: exactly what
to paste, with only the parameters that differ from what `rovn-ops run` would take."""
from __future__ import annotations

import shlex


def run_command(p, runbook: str, *pairs: str, same: tuple[str, ...] = ("cluster", "service")) -> str:
    """`rovn-ops run RUNBOOK --env ENV [-p NAME=VALUE]...`: the `same` parameters of `p`
    where they differ from the environment's defaults, then `pairs` (NAME=VALUE)."""
    from rovn_ops.safety.params import environment_defaults

    defaults = environment_defaults(p.env)
    args = ["rovn-ops", "run", runbook, "--env", p.env]
    for name in same:
        if getattr(p, name, None) is not None and getattr(p, name) != defaults.get(name):
            args += ["-p", f"{name}={getattr(p, name)}"]
    for pair in pairs:
        args += ["-p", pair]
    return shlex.join(args)
