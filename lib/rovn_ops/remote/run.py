"""`rovn-ops remote run` and `remote attach`: start (or find) the task, follow its
log stream, and end with the runbook's exit code and its result.

The task runs `rovn-ops run … --json`: its progress lines go to the log as they come,
and its last output is the result object, which is read back from the log."""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field

from rovn_ops.core import identity
from rovn_ops.core.escape import terminal
from rovn_ops.core.environment import prepare_environment
from rovn_ops.remote import command, settings, task as task_mod


RUN_LINE = re.compile(r"^run (\S+): (\w+)$", re.ASCII)


@dataclass
class Outcome:
    task: task_mod.Task
    lines: list[str] = field(default_factory=list)

    @property
    def result(self) -> dict:
        """The run's JSON object: the log's last block from a line '{' to a line '}'."""
        end = max((i for i, line in enumerate(self.lines) if line == "}"), default=None)
        if end is None:  # `rovn-ops scheduled` prints its run's line, `run ID: OUTCOME`
            said = [m.groups() for m in map(RUN_LINE.match, self.lines) if m]
            return {"run_id": said[-1][0], "outcome": said[-1][1]} if said else {}
        start = max((i for i in range(end + 1) if self.lines[i] == "{"), default=None)
        try:
            return json.loads("\n".join(self.lines[start:end + 1])) if start is not None else {}
        except ValueError:
            return {}

    @property
    def exit_code(self) -> int:
        return self.task.exit_code()

    def as_dict(self) -> dict:
        return {"remote_run_id": self.task.id, "task_arn": self.task.arn, "exit_code": self.exit_code,
                "stopped_reason": self.task.why_stopped(), **{k: v for k, v in self.result.items()
                                                              if k != "exit_code"}}


def _emitter(outcome: Outcome, quiet: bool):
    def emit(line: str) -> None:
        outcome.lines.append(line)
        in_result = "{" in outcome.lines and "}" not in outcome.lines[outcome.lines.index("{"):]
        if not quiet and not in_result and line not in ("{", "}"):
            print(terminal(line), file=sys.stderr, flush=True)  # the log is anyone's who can PutLogEvents
    return emit


def start(runbook: str, *, env: str, files=(), assignments=(), region: str | None = None) -> task_mod.Task:
    """Check everything locally (bad input starts no task), then RunTask."""
    assignments = list(assignments) + ([f"region={region}"] if region else [])
    cmd = command.build(runbook, env, list(files), assignments)
    prepare_environment(env)
    cmd = command.build(runbook, env, list(files), assignments)  # again, with the environment's exports
    remote = settings.load(env)
    region = _region(env, assignments)
    operator = identity.operator(env, region)
    role = remote.role_arn(runbook, operator.arn.split(":")[4])
    t = task_mod.start(remote, cmd, env=env, region=region, operator=operator.arn, role_arn=role)
    print(f"remote run {t.id}: started in {remote.cluster} ({remote.task_definition}, "
          f"role {role.rsplit('/', 1)[-1]}); "
          f"`rovn-ops remote attach {t.id}` follows it from anywhere", file=sys.stderr, flush=True)
    return t


def follow(t: task_mod.Task, *, quiet: bool = False) -> Outcome:
    outcome = Outcome(t)
    task_mod.follow(t, _emitter(outcome, quiet))
    return outcome


def attach(task_id: str, *, env: str, region: str | None = None) -> task_mod.Task:
    prepare_environment(env)
    return task_mod.attach(settings.load(env), task_id, env=env, region=region or _region(env, []))


def _region(env: str, assignments: list[str]) -> str:
    from rovn_ops.safety import params

    given = dict(a.partition("=")[::2] for a in assignments)
    return given.get("region") or params.environment_defaults(env)["region"]
