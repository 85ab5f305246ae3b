"""The task's command: `rovn-ops run RUNBOOK --env ENV --json -p …`, carrying the values
the operator gave (files and -p), checked here as `rovn-ops run` checks them. The task
reads its environment's own file (parameters/<env>.yaml in the image) for the rest, so
a value resolved from this machine's environment never travels."""
from __future__ import annotations

import re
import typing

from rovn_ops.core import paths
from rovn_ops.core.errors import BadInput
from rovn_ops.safety import params


def given(runbook: str, files: list[str], assignments: list[str]) -> dict:
    """What the operator set, files first, -p last (later wins), as `run` merges them."""
    values: dict = {}
    for f in files:
        values.update(params.read_parameter_file(f))
    for text in assignments:
        name, value = params._split_assignment(text)
        values[name] = value
    return values


def _text(name: str, value, model) -> str:
    """A value as -p takes it: -p's own text as given; a file's list comma-joined."""
    if isinstance(value, str):
        return value
    field = model.model_fields.get(name)
    if isinstance(value, list) or (field is not None and typing.get_origin(field.annotation) is list):
        items = value if isinstance(value, list) else [value]
        if any("," in str(i) for i in items):  # -p splits lists at commas
            raise BadInput(f"parameter '{name}': an item holds a comma, which a remote run cannot carry "
                           "(-p splits list items at commas)")
        return ",".join(str(i) for i in items)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, tuple, set)):
        raise BadInput(f"parameter '{name}': expected a scalar or a list for a remote run, got {type(value).__name__}")
    return str(value)


NAME = re.compile(r"[a-z][a-z0-9_]{0,63}", re.ASCII)
LOCAL_ONLY = params.NEVER_REMOTE  # run where claude-deploy's credentials are (CI, `rovn-ops run`)


def model(runbook: str):
    """A committed runbook by name: the image holds those, never a local draft."""
    names = sorted(p.stem for p in paths.runbooks().glob("*.ipynb"))
    if not NAME.fullmatch(runbook) or runbook not in names:
        raise BadInput(f"runbook {runbook[:60]!r}: a remote run takes a committed runbook by name "
                       f"(the image holds those); expected one of: {', '.join(names)}")
    if runbook in LOCAL_ONLY:
        raise BadInput(f"runbook {runbook}: never a remote run: §10 lets only claude-deploy update the ECS service "
                       f"(a task runs under a role); run it with `rovn-ops run {runbook}` as claude-deploy")
    return params.MODELS.get(runbook) or params.inferred_model(paths.runbooks() / f"{runbook}.ipynb")


def build(runbook: str, env: str, files: list[str], assignments: list[str]) -> list[str]:
    """The container command, once the parameters pass; BadInput (exit 2) before any task."""
    model_ = model(runbook)
    params.resolve(runbook, env, list(files), list(assignments), model_)
    command = ["run", runbook, "--env", env, "--json"]
    for name, value in given(runbook, files, assignments).items():
        command += ["-p", f"{name}={_text(name, value, model_)}"]
    return command
