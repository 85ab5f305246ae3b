"""Kill a confirmed deploy at each point, run the same command again: it finishes the
job. The end state is one new revision, one deploy audit row, /health verified. A
SIGINT after update-service leaves an `interrupted` row naming the deployment."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

import pytest
import urllib3

from rovn_sandbox import control
from tests.conftest import ROOT, kill_tree, rovn_ops
from tests.scenarios.test_deploy import _deploy_rows, _manifest, _notebook, _revisions, _service, previewed

LIVE = "prod-202605270526-ai-competitive-fix"


def _slow_rollout(fresh) -> None:
    """A rollout that takes seconds, so a kill lands mid-way: the sandbox's clock at 20x
    (a 30 s task start is 1.5 s; polls never move it, sandbox/clock.py)."""
    control.clock(fresh, scale=20)


def _health(fresh) -> str:
    return json.loads(urllib3.request("GET", fresh["health_url"]).data)["version"]


def _start(args: list[str], progress: list[str] | None = None) -> subprocess.Popen:
    """The confirmed run; with `progress`, its streamed progress lines are collected there."""
    quiet = [] if progress is not None else ["--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "rovn_ops.cli", "run", "deploy", *quiet, *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    if progress is not None:
        threading.Thread(target=lambda: progress.extend(line.decode() for line in proc.stdout), daemon=True).start()
    return proc


def _wait(proc: subprocess.Popen, until, what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        assert proc.poll() is None, f"the run ended before {what}: {proc.stdout.read().decode()[-2000:]}"
        assert time.monotonic() < deadline, f"never reached {what}"
        time.sleep(0.1)


def _kill(proc: subprocess.Popen) -> None:
    kill_tree(proc.pid)  # the machine dies: the run and its kernel at once, no cleanup, no evidence
    proc.wait()


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
    _slow_rollout(fresh)
    began = datetime.now(timezone.utc).isoformat()
    args = previewed("-p", "bake_s=2")
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
    _killed_run_is_the_approved_change_it_was(evidence_dir, m, began)


def _killed_run_is_the_approved_change_it_was(evidence_dir, resumed: dict, began: str) -> None:
    """The killed run passed confirm and started the deployment: recovered, it is the
    approved change it was (approvals, plan hash, target, diff; the attack review's HIGH 1:
    it was archived with none, 'not approved', and reconcile called its deployment and
    revision UNEXPLAINED), and reconcile matches the deployment and revision to a run."""
    killed_id = resumed["facts"]["resumes"][0]
    killed = json.loads(next(evidence_dir.glob(f"*/{killed_id}/manifest.json")).read_text())
    assert killed["outcome"] == "interrupted", killed["outcome"]
    assert killed["plan_hash"] == resumed["approvals"][0]["plan_hash"], killed
    assert [a["plan_hash"] for a in killed["approvals"]] == [killed["plan_hash"]] and killed["approvals"][0]["approvers"]
    assert killed["targets"] == resumed["targets"] and killed["plan_changes"] == resumed["plan_changes"]
    report = json.loads(rovn_ops("evidence", "reconcile", "--json").stdout)
    ours = [i for i in report["items"] if datetime.fromisoformat(i["at"]) >= datetime.fromisoformat(began) and i["kind"] in ("ECS deployment", "task definition")]
    assert ours and all(i["matched"] for i in ours), ours


def test_killed_during_the_bake_then_the_same_command_finishes(fresh, aws, evidence_dir):
    args = previewed("-p", "bake_s=4")
    progress: list[str] = []
    proc = _start(args, progress)
    _wait(proc, lambda: any("bake: watching" in line for line in progress), "the bake")  # /health checked
    assert proc.poll() is None
    _kill(proc)
    done = _service(aws)
    assert len(done["deployments"]) == 1 and done["taskDefinition"].endswith(":289")  # the rollout had ended
    assert _deploy_rows(fresh["database_url"]) == []  # killed before its verify could log
    _finished_once(fresh, aws, evidence_dir, args)


def test_sigint_after_update_service_logs_interrupted_then_the_rerun_finishes(fresh, aws, evidence_dir):
    _slow_rollout(fresh)
    args = previewed()
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


def test_killed_mid_rollout_of_a_redeploy_that_reuses_its_revision_then_the_same_command_finishes(
        fresh, aws, evidence_dir):
    """Deploy (289), roll back to 288, deploy the same source again: the redeploy reuses 289
    (same base, same spec, same deploy key), whose tags name the first, finished run. Killed
    mid-rollout, the same command must resume that rollout, not refuse it as a
    force-new-deployment no-op (issue 20, break 3)."""
    first = rovn_ops("run", "deploy", "--quiet", *previewed())
    assert first.returncode == 0, first.stdout + first.stderr
    back = rovn_ops("run", "rollback", "--quiet", *previewed("-p", "to_revision=rovn-passport-api:288",
                                                              runbook="rollback"))
    assert back.returncode == 0, back.stdout + back.stderr
    assert _service(aws)["taskDefinition"].endswith(":288") and _health(fresh) == LIVE
    _slow_rollout(fresh)
    began = datetime.now(timezone.utc).isoformat()
    args = previewed("-p", "bake_s=2")
    proc = _start(args)
    _wait(proc, lambda: _health(fresh) != LIVE, "update-service")
    _kill(proc)
    again = rovn_ops("run", "deploy", "--quiet", *args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _revisions(aws)[-1] == 289 and _service(aws)["taskDefinition"].endswith(":289")
    m = _manifest(evidence_dir)
    assert m["outcome"] == "success" and m["facts"]["resumes"]
    nb = _notebook(m)
    assert "an unfinished deploy, resumed" in nb and "(started by an earlier attempt; watching it)" in nb
    rows = [r for r in _deploy_rows(fresh["database_url"]) if r["outcome"] != "interrupted"]
    assert [r["outcome"] for r in rows] == ["success", "success"] and rows[-1]["run_id"] == m["run_id"]
    assert rows[0]["run_id"] not in m["facts"]["resumes"]  # the first deploy finished on its own
