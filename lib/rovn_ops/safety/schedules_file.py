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
from rovn_ops.safety.params import NEVER_REMOTE, iana_zone

# What an unattended run may never be given: it would confirm a change nobody watches (a
# scheduled write job is a preview), or choose the environment (--env does).
UNATTENDED_NEVER = ("confirm", "plan_hash", "approved_by", "deployers", "env")
CRON_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2199)]
NAMES = [{}, {}, {}, {m: i + 1 for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())},
         {d: i + 1 for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())}, {}]

# rate: 1 takes the singular unit, more the plural (Scheduler refuses "rate(1 days)")
RATE = re.compile(r"rate\((1 (minute|hour|day)|([2-9]|[1-9][0-9]{1,3}) (minutes|hours|days))\)", re.ASCII)
CRON = re.compile(r"cron\(([^()]+)\)", re.ASCII)


def cron_fields(expression: str) -> list[str]:
    """AWS's six cron fields, checked: a `?` in exactly one of day-of-month / day-of-week."""
    m = CRON.fullmatch(expression)
    fields = m.group(1).split() if m else []
    if len(fields) != 6 or (fields[2] == "?") == (fields[4] == "?") or not all(
            _field_ok(f, n) for n, f in enumerate(fields)):
        raise ValueError("expected cron(minutes hours day-of-month month day-of-week year) with '?' in one of "
                         "day-of-month and day-of-week, each field in its range (minutes 0-59, hours 0-23, "
                         "day 1-31, month 1-12 or JAN-DEC, weekday 1-7 or SUN-SAT, year 1970-2199), "
                         "or rate(N minutes|hours|days)")
    return fields


def _field_ok(field: str, n: int) -> bool:
    """One cron field: *, ?, or a list of values and ranges with an optional /step; L, W
    and # (last, weekday, nth) as Scheduler takes them."""
    if field in ("*", "?"):
        return True
    low, high = CRON_RANGES[n]
    for part in field.split(","):
        body, _, step = part.partition("/")
        if step and not (step.isdigit() and 0 < int(step) <= high):
            return False
        if body == "*" and step:
            continue
        body = body.removesuffix("L").removesuffix("W") if n in (2, 4) else body
        body = body.split("#", 1)[0] if n == 4 else body
        ends = body.split("-", 1)
        values = [NAMES[n].get(e.upper(), int(e) if e.isascii() and e.isdigit() else None) for e in ends if e]
        if not body and part in ("L", "LW") and n in (2, 4):
            continue
        if not values or any(v is None or not low <= v <= high for v in values):
            return False
    return True


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    runbook: str = Field("", pattern=r"^([a-z][a-z0-9_]{0,63})?$")
    command: list[Literal["evidence", "verify", "reconcile", "--bucket", "--all-signatures"]] = Field(default_factory=list)
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

    def assignments(self) -> list[str]:
        """The parameters as `-p NAME=VALUE`, as `rovn-ops scheduled` passes them to its runbook."""
        def text(v) -> str:
            return ",".join(v) if isinstance(v, list) else str(v).lower() if isinstance(v, bool) else str(v)
        return [f"{k}={text(v)}" for k, v in self.parameters.items()]

    @model_validator(mode="after")
    def _one_job(self):
        if bool(self.runbook) == bool(self.command):
            raise ValueError("expected exactly one of runbook and command")
        if self.runbook in NEVER_REMOTE:
            raise ValueError(f"runbook {self.runbook} never runs unattended as an ECS task (§10: only "
                             "claude-deploy updates the service)")
        given = sorted(set(self.parameters) & set(UNATTENDED_NEVER))
        if given:
            raise ValueError(f"parameters {', '.join(given)}: never in a schedule (a scheduled write job is a "
                             "preview; an approver confirms it)")
        return self


class Declared(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    schedules: list[Entry]


def declared(path=None) -> Declared:
    path = path or paths.parameters() / "schedules.yaml"
    try:
        d = Declared(**(yaml.safe_load(path.read_text()) or {}))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        where = getattr(e, "problem_mark", None)
        raise BadInput(f"parameters/schedules.yaml: expected a YAML mapping (group, schedules), "
                       f"{'line ' + str(where.line + 1) + ': ' if where else ''}{type(e).__name__}") from None
    except TypeError:
        raise BadInput("parameters/schedules.yaml: expected a mapping with group and schedules") from None
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
