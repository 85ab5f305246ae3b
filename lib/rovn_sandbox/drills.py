"""Incident drills: what on-call does, end to end, against the sandbox, timed.

    inject the scenario -> `rovn-ops run incident_triage --json` -> for each command it
    names (the next command, then the rest of the path): its preview, then the exact
    command the preview printed, approved -> /health answers 200 from the good revision

Each step runs the real CLI in a subprocess, as on-call types it; nothing here reaches
into the suite's code. The time from injection to /health 200 is measured against
§7's ~3-minute RTO, in sandbox time: the sandbox's polls advance its simulators (an
ECS rollout takes a few polls, `poll_min` 0.05 s, not minutes), so the figure is the
suite's own overhead plus the simulated work, compressed as the sandbox compresses it.
Used by tests/scenarios/test_drills.py and bench/drills.py."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field

import urllib3

from rovn_sandbox import control

RTO_S = 180.0  # §7: "RTO ~3 minutes from decision to traffic"
# Every scenario that breaks the service, and the image /health serves once it is mended.
GOOD = "prod-202605270526-ai-competitive-fix"
DRILLS = ("tasks_crashing", "image_missing", "canary_failing", "bad_deploy", "slow_query_deploy",
          "bad_deploy_migration", "phi_deploy", "secret_exposed")
# Incidents whose remedy is not a change a runbook makes (§6's data-integrity event): the drill is
# detection, triage naming it P0, then the read-only commands it prints (each exits 1 while the fault stands).
DETECTION_DRILLS = ("audit_tampered",)
LOG_GROUP = "/ecs/rovn-passport-api"


@dataclass
class Step:
    command: str
    exit_code: int
    seconds: float
    outcome: str = ""


@dataclass
class Drill:
    scenario: str
    triage: dict = field(default_factory=dict)    # incident_triage --json
    steps: list[Step] = field(default_factory=list)
    health: tuple[int, str | None] = (0, None)
    seconds: float = 0.0                          # injection to /health 200
    detected_s: float = 0.0                       # injection to triage's verdict
    remedy_ms: int = 0                            # epoch ms just before the first remedy ran

    @property
    def within_rto(self) -> bool:
        return self.health[0] == 200 and self.seconds <= RTO_S

    def line(self) -> str:
        return (f"drill {self.scenario}: {self.triage.get('summary', {}).get('headline', '?')}; detected after "
                f"{self.detected_s:.1f}s; {len(self.steps)} commands; /health {self.health[0]} {self.health[1]} after "
                f"{self.seconds:.1f}s (RTO {RTO_S:.0f}s: {'met' if self.within_rto else 'MISSED'})")


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rovn_ops.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ))


def health(sandbox: dict) -> tuple[int, str | None]:
    resp = urllib3.request("GET", sandbox["health_url"], timeout=5, retries=False)
    try:
        return resp.status, json.loads(resp.data).get("version")
    except ValueError:
        return resp.status, None


def _json(run: subprocess.CompletedProcess) -> dict:
    try:
        return json.loads(run.stdout)
    except ValueError:
        raise AssertionError(f"not one JSON object (exit {run.returncode}): {run.stdout}{run.stderr}") from None


def _args(command: str) -> list[str]:
    words = shlex.split(command)
    assert words[:2] == ["rovn-ops", "run"], command
    return words[1:]


def commit_reversal(sandbox: dict, migration: str):
    """The reversal of `migration` the preview generates, written and committed in the
    sandbox's checkout, as an engineer does before it may be applied (never straight from
    the preview); returns its path."""
    from pathlib import Path

    from rovn_ops.migrations import reversal
    from rovn_sandbox import github

    mdir = Path(sandbox["migrations_dir"])
    generated = reversal.generate(mdir, migration)
    (mdir / generated.file_name).write_text(generated.sql)
    github.git(mdir, "add", generated.file_name)
    github.git(mdir, "commit", "-q", "-m", f"{generated.file_name}: reverse {migration}")
    return mdir / generated.file_name


def carry_out(command: str, approver: str, drill: Drill, sandbox: dict | None = None) -> None:
    """A printed command: its preview, then the command the preview printed, approved."""
    t = time.monotonic()
    if sandbox is not None and "run migration_reversal" in command:  # a printed reversal is committed first
        commit_reversal(sandbox, next(w.split("=", 1)[1] for w in shlex.split(command) if w.startswith("migration=")))
    preview = cli(*_args(command), "--json", "--quiet")
    report = _json(preview)
    drill.steps.append(Step(command, preview.returncode, time.monotonic() - t, report["outcome"]))
    if report["outcome"] != "preview" or not report.get("confirm_command"):
        raise AssertionError(f"{command}: expected a preview, got {report['outcome']}: {report.get('error')}")
    confirm = report["confirm_command"].replace("<approver>", approver)
    t = time.monotonic()
    done = cli(*_args(confirm), "--json", "--quiet")
    drill.steps.append(Step(confirm, done.returncode, time.monotonic() - t, _json(done)["outcome"]))
    if done.returncode != 0:
        raise AssertionError(f"{confirm}: exit {done.returncode}: {done.stdout}{done.stderr}")


def check(command: str, drill: Drill) -> None:
    """A printed read-only command (`rovn-ops audit verify`): run once, its exit code and first line kept."""
    t = time.monotonic()
    done = cli(*shlex.split(command)[1:])
    first = (done.stdout.strip().splitlines() or [done.stderr.strip()])[0] if (done.stdout or done.stderr) else ""
    drill.steps.append(Step(command, done.returncode, time.monotonic() - t, first))


def run(sandbox: dict, scenario: str, *, approver: str = "giles", triage_args: tuple[str, ...] = (),
        good: str = GOOD, wait_s: float = 30) -> Drill:
    """One drill on a fresh world (the caller resets it)."""
    drill = Drill(scenario)
    start = time.monotonic()
    control.scenario(sandbox, scenario)
    triage = cli("run", "incident_triage", "--json", "--quiet", *triage_args)
    drill.triage = _json(triage)
    drill.steps.append(Step("rovn-ops run incident_triage", triage.returncode, time.monotonic() - start,
                            drill.triage["outcome"]))
    drill.detected_s = time.monotonic() - start
    summary = drill.triage["summary"]
    drill.remedy_ms = int(time.time() * 1000)
    for command in [summary["next_command"], *summary.get("then", [])] if summary.get("next_command") else []:
        if command.startswith("rovn-ops run "):
            carry_out(command, approver, drill, sandbox)
        else:
            check(command, drill)
    deadline = time.monotonic() + wait_s
    while True:
        drill.health = health(sandbox)
        if drill.health == (200, good) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    drill.seconds = time.monotonic() - start
    return drill


def log_lines_since(sandbox: dict, since_ms: int, group: str = LOG_GROUP) -> tuple[int, int]:
    """How many lines the app logged from `since_ms` on, and how many of those carry
    PHI-shaped data (counts only: a PHI value is never kept or shown)."""
    from rovn_ops.safety import personal_data

    logs = client(sandbox, "logs")
    lines = phi = 0
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group, startTime=since_ms):
        for e in page["events"]:
            lines += 1
            phi += bool(personal_data.phi_kinds(e["message"]))
    return lines, phi


def client(sandbox: dict, service: str):
    """A boto3 client of the sandbox's moto, as a drill reads the world after its remedy."""
    import boto3

    return boto3.client(service, endpoint_url=sandbox["endpoint"], region_name=sandbox["region"],
                        aws_access_key_id=sandbox["access_key_id"], aws_secret_access_key=sandbox["secret_access_key"])
