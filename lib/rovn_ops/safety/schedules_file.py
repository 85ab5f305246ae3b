"""parameters/schedules.yaml: what runs unattended, checked (pydantic). Read by the
schedules runbook (remote/schedules.py, which reconciles EventBridge Scheduler with it)
and by `rovn-ops scheduled NAME` (run/scheduled.py, what a scheduled task runs)."""
from __future__ import annotations

import re
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rovn_ops.core import paths
from rovn_ops.core.errors import BadInput
from rovn_ops.safety.params import iana_zone

RATE = re.compile(r"rate\((1 (minute|hour|day)|[1-9][0-9]{0,3} (minutes|hours|days))\)", re.ASCII)
CRON = re.compile(r"cron\(([^()]+)\)", re.ASCII)


def cron_fields(expression: str) -> list[str]:
    """AWS's six cron fields, checked: a `?` in exactly one of day-of-month / day-of-week."""
    m = CRON.fullmatch(expression)
    fields = m.group(1).split() if m else []
    if len(fields) != 6 or (fields[2] == "?") == (fields[4] == "?"):
        raise ValueError("expected cron(minutes hours day-of-month month day-of-week year) with '?' in one of "
                         "day-of-month and day-of-week, or rate(N minutes|hours|days)")
    return fields


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    runbook: str = Field("", pattern=r"^([a-z][a-z0-9_]{0,63})?$")
    command: list[Literal["evidence", "verify", "--bucket", "--all-signatures"]] = Field(default_factory=list)
    parameters: dict[str, str | int | bool | list[str]] = Field(default_factory=dict)
    expression: str
    timezone: str = "UTC"
    page: Literal["P0", "P1"] = "P1"

    @field_validator("expression")
    @classmethod
    def _expression(cls, v: str) -> str:
        if not RATE.fullmatch(v):
            cron_fields(v)
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        return iana_zone(v)

    @model_validator(mode="after")
    def _one_job(self):
        if bool(self.runbook) == bool(self.command):
            raise ValueError("expected exactly one of runbook and command")
        return self


class Declared(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    schedules: list[Entry]


def declared(path=None) -> Declared:
    path = path or paths.parameters() / "schedules.yaml"
    try:
        d = Declared(**(yaml.safe_load(path.read_text()) or {}))
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise BadInput(f"parameters/schedules.yaml: {where}: {first['msg']}") from None
    names = [s.name for s in d.schedules]
    if len(set(names)) != len(names):
        raise BadInput("parameters/schedules.yaml: schedule names must be unique")
    known = {p.stem for p in paths.runbooks().glob("*.ipynb")}
    for s in d.schedules:
        if s.runbook and s.runbook not in known:
            raise BadInput(f"parameters/schedules.yaml: {s.name}: runbook {s.runbook!r} is not a committed runbook")
    return d


def entry(name: str) -> Entry:
    for s in declared().schedules:
        if s.name == name:
            return s
    raise BadInput(f"scheduled: no schedule {name[:64]!r} in parameters/schedules.yaml; expected one of: "
                   + ", ".join(s.name for s in declared().schedules))
