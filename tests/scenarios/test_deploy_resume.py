"""Kill a confirmed deploy at each point, run the same command again: it finishes the
job. The end state is one new revision, one deploy audit row, /health verified. A
SIGINT after update-service leaves an `interrupted` row naming the deployment."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import urllib3

from rovn_ops.sandbox import control
from tests.conftest import ROOT, rovn_ops
from tests.scenarios.test_deploy import _deploy_rows, _manifest, _notebook, _revisions, _service, previewed

LIVE = "prod-202605270526-ai-competitive-fix"
SLOW_ROLLOUT = ["-p", "poll_min=1.5", "-p", "poll_max=1.5"]  # the simulator moves one step per poll


def _health(fresh) -> str:
    return json.loads(urllib3.request("GET", fresh["health_url"]).data)["version"]


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rovn_ops.cli", "run", "deploy", "--quiet", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def _wait(proc: subprocess.Popen, until, what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        assert proc.poll() is None, f"the run ended before {what}: {proc.stdout.read().decode()[-2000:]}"
        assert time.monotonic() < deadline, f"never reached {what}"
        time.sleep(0.1)


def _kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # the machine dies: no cleanup, no evidence
    proc.wait()
    time.sleep(1.5)  # the orphaned kernel notices its parent is gone and exits


def _finished_once(fresh, aws, evidence_dir, args: list[str]) -> dict:
    run = rovn_ops("run", "deploy", "--quiet", *args)  # the same command, the same plan hash
    assert run.returncode == 0, run.stdout + run.stderr
    assert _revisions(aws)[-1] == 289 and _service(aws)["taskDefinition"].endswith(":289")
    m = _manifest(evidence_dir)
    assert m["outcome"] == "success" and _health(fresh) == m["facts"]["new_image_tag"] != LIVE
    rows = [r for r in _deploy_rows(fresh["database_url"]) if r["outcome"] != "interrupted"]
    assert [(r["outcome"], r["run_id"]) for r in rows] == [("success", m["run_id"])]
    return m


def test_killed_after_register_then_the_same_command_finishes(fresh, aws, evidence_dir):
    args = previewed()
    control.scenario(fresh, "ecs_update_service_hangs")
    proc = _start(args)
    _wait(proc, lambda: _revisions(aws)[-1] == 289, "register")
    time.sleep(0.5)  # now blocked in UpdateService
    _kill(proc)
    control.scenario(fresh, "ecs_update_service_hangs", on=False)
    assert _service(aws)["taskDefinition"].endswith(":288")
    m = _finished_once(fresh, aws, evidence_dir, args)
    assert "found (registered by an earlier attempt)" in _notebook(m)
    assert "an earlier build of this source" in _notebook(m)


@pytest.mark.parametrize("rollout", ["in flight", "finished"])
def test_killed_after_update_service_then_the_same_command_finishes(fresh, aws, evidence_dir, rollout):
    args = previewed(*SLOW_ROLLOUT, "-p", "bake_s=2")
    proc = _start(args)
    _wait(proc, lambda: _health(fresh) != LIVE, "update-service")  # /health follows the PRIMARY deployment
    _kill(proc)
    if rollout == "finished":  # the rollout went on without us
        while len(_service(aws)["deployments"]) > 1:
            pass
    m = _finished_once(fresh, aws, evidence_dir, args)
    nb = _notebook(m)
    assert "an unfinished deploy, resumed" in nb and "(started by an earlier attempt; watching it)" in nb
    assert m["facts"]["resumes"]  # the killed run it finished


def test_killed_during_the_bake_then_the_same_command_finishes(fresh, aws, evidence_dir):
    args = previewed("-p", "bake_s=8")
    proc = _start(args)
    done = lambda: (lambda s: len(s["deployments"]) == 1 and s["taskDefinition"].endswith(":289"))(_service(aws))  # noqa: E731
    _wait(proc, done, "the end of the rollout")
    time.sleep(3)  # /health checked; the bake is under way
    assert proc.poll() is None
    _kill(proc)
    assert _deploy_rows(fresh["database_url"]) == []  # killed before its verify could log
    _finished_once(fresh, aws, evidence_dir, args)


def test_sigint_after_update_service_logs_interrupted_then_the_rerun_finishes(fresh, aws, evidence_dir):
    args = previewed(*SLOW_ROLLOUT)
    proc = _start(args)
    _wait(proc, lambda: _health(fresh) != LIVE, "update-service")
    proc.send_signal(signal.SIGINT)  # Ctrl-C: to the runner, which interrupts the kernel's cell
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, out.decode()
    m = _manifest(evidence_dir)
    assert m["outcome"] == "interrupted"
    [row] = _deploy_rows(fresh["database_url"])
    assert row["outcome"] == "interrupted" and row["run_id"] == m["run_id"]
    deployment = row["details"]["deployment_id"]
    assert deployment.startswith("ecs-svc/") and row["details"]["new_task_definition"].endswith(":289")
    again = _finished_once(fresh, aws, evidence_dir, args)
    assert m["run_id"] in again["facts"]["resumes"] and again["facts"]["deployment_id"] == deployment
