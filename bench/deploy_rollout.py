"""The deploy's rollout watch against boto3's `services_stable` waiter on the same
simulated rollouts in the sandbox. The sandbox's rollouts move with its clock
(sandbox/clock.py, compressed wall time), never per call, so the waiter runs at its own
documented cadence in sandbox time: 15 s between polls, 40 attempts (botocore
data/ecs/2014-11-13/waiters-2.json, ServicesStable; the AWS CLI's `aws ecs wait
services-stable` is the same waiter), i.e. 15 s / the clock's scale of wall time.

- DescribeServices calls per successful deploy: the execute run of `rovn-ops run deploy`
  end to end (its preview cell, the plan re-derived under the lock, start, watch,
  verify), counted by botocore hooks in the run, against the waiter's polls on the same
  rollout. Target: ours <= the waiter's.
- Polls from our deployment's FAILED state to a verdict (new tasks fail, the
  circuit breaker rolls back): ours decides on the poll that shows FAILED; the
  waiter keeps polling until the rollback is steady, then reports success.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import boto3
from common import BIN, ROOT, with_sandbox

from rovn_ops.ecs import taskdef
from rovn_sandbox import control

WAITER_DELAY, WAITER_ATTEMPTS = 15, 40


def _deploy(evidence: str) -> dict:
    """Preview, then execute that plan (every confirmed write carries a previewed plan hash)."""
    import subprocess

    def run(*args: str) -> dict:
        subprocess.run([str(BIN / "rovn-ops"), "run", "deploy", "--quiet", *args], cwd=ROOT,
                       env={**os.environ, "ROVN_EVIDENCE_DIR": evidence}, capture_output=True, text=True)
        runs = sorted(Path(evidence).glob("*/*deploy*/manifest.json"), key=lambda p: p.stat().st_mtime)
        return json.loads(runs[-1].read_text())

    plan_hash = run()["plan_hash"]
    return run("-p", "confirm=true", "-p", "approved_by=giles", "-p", f"plan_hash={plan_hash}")


def _waiter(state: dict, image_suffix: str) -> dict:
    """update-service to a fresh revision, then the services_stable waiter (no sleeps:
    the simulator does not need them), counting its polls and the first FAILED."""
    ecs = boto3.client("ecs", region_name=state["region"], endpoint_url=state["endpoint"],
                       aws_access_key_id=state["access_key_id"], aws_secret_access_key=state["secret_access_key"])
    base = taskdef.TaskDefinition.describe(ecs, "rovn-passport-api")
    spec = taskdef.render(base, base.image.rsplit(":", 1)[0] + ":prod-20261127000000-" + image_suffix)
    new = ecs.register_task_definition(**spec)["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="rovn-prod", service="rovn-passport-api", taskDefinition=new)
    seen = {"polls": 0, "failed_at": None}
    delay = WAITER_DELAY / control.clock(state)["scale"]  # 15 s of sandbox time

    def after(parsed, **_):
        seen["polls"] += 1
        for d in parsed["services"][0]["deployments"]:
            if d["taskDefinition"] == new and d.get("rolloutState") == "FAILED" and seen["failed_at"] is None:
                seen["failed_at"] = seen["polls"]
    ecs.meta.events.register("after-call.ecs.DescribeServices", after)
    try:
        ecs.get_waiter("services_stable").wait(cluster="rovn-prod", services=["rovn-passport-api"],
                                               WaiterConfig={"Delay": delay, "MaxAttempts": WAITER_ATTEMPTS})
        seen["verdict"] = "success (service stable)"
    except Exception as e:  # noqa: BLE001 - the waiter's own verdict
        seen["verdict"] = f"error: {str(e)[:60]}"
    return seen


def main() -> list[dict]:
    state = control.require()
    control.apply_env(state)
    evidence = tempfile.mkdtemp(prefix="rovn-bench-deploy-")
    rows = []

    control.reset(state)
    ok = _deploy(evidence)
    ours_calls = ok["facts"]["ecs_calls"]["DescribeServices"]
    ours_watch = ok["facts"]["deployment"]["polls"]
    control.reset(state)
    w = _waiter(state, "waiter")
    line = (f"deploy, DescribeServices per successful deploy: ours {ours_calls} in all ({ours_watch} watching); "
            f"services_stable waiter {w['polls']} on the same rollout (at 15 s each: {w['polls'] * WAITER_DELAY} s)")
    print(line, flush=True)
    rows.append({"name": "deploy DescribeServices per successful deploy", "ours": ours_calls, "ours_watch": ours_watch,
                 "waiter": w["polls"], "ratio": round(ours_calls / w["polls"], 2), "target": "ratio <= 1",
                 "baseline": "services_stable waiter, 15 s cadence", "ok": ours_calls <= w["polls"]})

    control.reset(state)
    control.scenario(state, "ecs_new_tasks_fail")
    failed = _deploy(evidence)
    dep = failed["facts"]["deployment"]
    ours_after = dep["polls"] - dep["failed_seen_at"]
    control.reset(state)
    control.scenario(state, "ecs_new_tasks_fail")
    w = _waiter(state, "waiter-fails")
    waiter_after = w["polls"] - (w["failed_at"] or 0)
    print(f"deploy, polls from our deployment's FAILED to the verdict: ours {ours_after} (verdict "
          f"'{dep['state']}', outcome {failed['outcome']}); services_stable waiter {waiter_after} more polls "
          f"(≈{waiter_after * WAITER_DELAY} s at its cadence), verdict: {w['verdict']}", flush=True)
    rows.append({"name": "deploy polls from FAILED to verdict", "ours": ours_after, "ours_verdict": dep["state"],
                 "ours_outcome": failed["outcome"], "waiter": waiter_after, "waiter_verdict": w["verdict"],
                 "waiter_seconds_at_cadence": waiter_after * WAITER_DELAY})
    control.reset(state)
    return rows


if __name__ == "__main__":
    with_sandbox(main)
