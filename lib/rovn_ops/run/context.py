"""The run context: which run this is, who runs it, how, and against what.

`begin("NAME", globals())` is the first call of every runbook. It reads the parameters
the runbook's model declares from the notebook's namespace, validates them, checks the
kernel holds what was validated and recorded, then fixes the run id (the runner's, when
headless), the operator (STS caller ARN plus local user) and the mode.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property

from rovn_ops.core import aws
from rovn_ops.safety import params as params_mod
from rovn_ops.core.identity import Operator, local_user, new_run_id, operator  # noqa: F401 - the context's API
from rovn_ops.core.record import record

# What begin() imports lazily in every run (the STS identity, the environment guard's
# database URL check, pandas' display options): a run's kernel imports them while it
# boots (run/preload.py), where the CLI, which imports this module too, does not.
PRELOAD = ("boto3", "botocore.config", "psycopg", "pandas")


@dataclass
class RunContext:
    runbook: str
    params: params_mod.RunbookParams
    run_id: str
    mode: str  # "headless" (rovn-ops run), "interactive" (a person at a kernel), "papermill" (bare, no stdin)
    operator: Operator
    given: dict = field(default_factory=dict, repr=False)  # the parameters the kernel held at begin()

    @property
    def env(self) -> str:
        return self.params.env

    @property
    def headless(self) -> bool:
        return self.mode == "headless"

    def client(self, service: str):
        return aws.client(service, env=self.env, region=self.params.region)

    @cached_property
    def db(self):
        from rovn_ops.clients import db

        return db.connect()

    def webhook(self, name: str):
        """A webhook URL parameter: a URL, or `secret:NAME` read from Secrets Manager
        as a masked Secret (a webhook URL is a credential: in prod it never sits in a
        parameter file)."""
        value = getattr(self.params, name, "") or ""
        if not value.startswith("secret:"):
            return value
        from rovn_ops.safety import secret_values

        return secret_values.read(self.client("secretsmanager"), value.removeprefix("secret:"))

    def changed_parameters(self) -> list[str]:
        """The parameters whose value in this kernel's namespace is no longer the one begin()
        validated: a person edited the parameters cell (or set a name) and did not run begin
        again. Headless (papermill runs every cell in order) nothing can change in between."""
        if self.headless or not self.given:
            return []
        try:
            from IPython import get_ipython
        except ImportError:
            return []
        ns = getattr(get_ipython(), "user_ns", None) or {}
        return sorted(n for n, v in self.given.items() if n in ns and not _same(ns[n], v))

    def record(self, **facts) -> None:
        """Facts for the run's manifest (headless runs)."""
        record(**facts)

    def summary(self) -> dict:
        return {"runbook": self.runbook, "run id": self.run_id, "environment": self.env,
                "region": self.params.region, "mode": self.mode, "operator": str(self.operator)}

    def _repr_markdown_(self) -> str:
        rows = "\n".join(f"| {k} | `{v}` |" for k, v in self.summary().items())
        return f"| run | |\n|---|---|\n{rows}\n"

    def __repr__(self) -> str:
        return "\n".join(f"{k:>12}: {v}" for k, v in self.summary().items())


def _same(a, b) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001 - an object that cannot compare is not the value validated
        return False


def _display_options() -> None:
    """Tables wide enough to read in the archived notebook's plain-text copy."""
    import pandas as pd

    pd.set_option("display.width", 160)
    pd.set_option("display.max_colwidth", 90)
    pd.set_option("display.max_columns", 20)


def _copy(value):
    """A snapshot of a parameter's value (a list edited in place later is a change)."""
    import copy

    try:
        return copy.deepcopy(value)
    except Exception:  # noqa: BLE001
        return value


def _namespace() -> dict:
    """The kernel's namespace (IPython's user_ns) when a notebook passes none."""
    try:
        from IPython import get_ipython
    except ImportError:
        return {}
    return getattr(get_ipython(), "user_ns", None) or {}


def _recorded() -> dict | None:
    """The parameters `rovn-ops run` validated and recorded for this run (its spool's
    run.json, which becomes the manifest), or None outside a headless run."""
    import json
    from pathlib import Path

    where = os.environ.get("ROVN_RUN_FILE")
    if not where:
        return None
    try:
        return json.loads(Path(where).read_text()).get("parameters")
    except (OSError, ValueError):
        return None


def held(model, namespace: dict, p, recorded: dict | None) -> None:
    """At the end of the parameters: every declared parameter is in the kernel, and what the
    kernel holds validates to what the runner recorded. A cell that sets or imports a
    parameter's name before begin(), or a parameters cell that lost one, would otherwise run
    with one value while the evidence records another. Refused in one line, naming them."""
    from rovn_ops.core.errors import BadInput

    missing = [n for n in model.model_fields if n not in namespace]
    validated = p.model_dump(mode="json")
    differ = [n for n in model.model_fields if n in namespace and recorded is not None
              and n in recorded and validated[n] != recorded[n]]
    if missing:
        raise BadInput(f"parameters {', '.join(missing)}: not in the kernel; run the parameters cell, "
                       "then begin() (a runbook's parameters cell declares every parameter its model has)")
    if differ:
        raise BadInput(f"parameters {', '.join(differ)}: the kernel holds other values than the run validated "
                       "and recorded (a cell before begin() sets or imports the name); the run would not do "
                       "what its evidence says")


def begin(runbook: str, namespace: dict | None = None) -> RunContext:
    """Validate the parameters, guard the endpoints, and identify the run.

    `namespace` is the notebook's `globals()` (IPython's user namespace when omitted):
    begin reads every parameter the runbook's model declares from it, so no notebook
    repeats them, and none can be forgotten. Headless, what the kernel holds must be what
    `rovn-ops run` recorded. In JupyterLab (or bare papermill) the kernel holds what the
    operator typed, and the run uses it resolved (a default takes the environment file's
    value), so later cells read `ctx.params`, never the bare names (a test holds them to it).
    The namespace is not written back: a name left from an earlier run would then count as
    the operator's choice the next time begin() resolves it."""
    _display_options()
    model = params_mod.model_for(runbook)
    ns = _namespace() if namespace is None else namespace
    values = {n: ns[n] for n in model.model_fields if n in ns}
    headless = os.environ.get("ROVN_MODE") == "headless"
    if headless:  # `rovn-ops run` resolved every layer before the kernel started
        p = params_mod.validate(model, values)
    else:  # JupyterLab or bare papermill: the same layers, the cell's changed values on top
        p = params_mod.resolve_notebook(runbook, values, model)
    held(model, ns, p, _recorded() if headless else None)
    aws.guard(p.env)
    os.environ["ROVN_TARGET_ENV"] = p.env  # db: in prod, connections come from the DB secret
    from rovn_ops.evidence import recorder

    ctx = RunContext(
        runbook=runbook, params=p,
        run_id=(os.environ.get("ROVN_RUN_ID") if headless else None) or new_run_id(runbook),
        # a kernel rovn-ops did not start: a person (JupyterLab), or bare papermill (no stdin)
        mode="headless" if headless else "interactive" if recorder.stdin_available() else "papermill",
        operator=operator(p.env, p.region),
        given={n: _copy(ns[n]) for n in model.model_fields},
    )
    if not headless:
        recorder.start(ctx)  # what this kernel executes from here is the run's evidence
    ctx.record(operator=ctx.operator.as_dict())
    from rovn_ops.protocol.change import refuse_spent

    refuse_spent(ctx)  # a spent plan hash, before any preflight reads the world (issue 20 break 5)
    return ctx
