"""Schedules (issue 26, build 3): parameters/schedules.yaml reconciled with EventBridge
Scheduler through the protocol, fired by `rovn-ops sandbox tick` as Scheduler fires
them (an ECS RunTask of the suite's task definition, the target's Input as overrides),
and a scheduled run that ends badly pages (§5).

References: CreateSchedule / Target / EcsParameters
https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html,
https://docs.aws.amazon.com/scheduler/latest/APIReference/API_Target.html;
schedule expressions (cron's six fields, rate) https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html."""
import json
import time
from datetime import datetime, timedelta, timezone

from tests.conftest import rovn_ops

NAMES = ["db-master-rotation-due", "dr-readiness-daily", "evidence-reconcile-nightly", "evidence-verify-nightly",
         "secrets-audit-daily",
         "snapshot-retention-weekly"]


def _preview() -> dict:
    res = rovn_ops("run", "schedules", "--quiet", "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _apply() -> None:
    plan = _preview()["plan_hash"]
    res = rovn_ops("run", "schedules", "--quiet", "-p", "confirm=true", "-p", "approved_by=giles",
                   "-p", f"plan_hash={plan}")
    assert res.returncode == 0, res.stdout + res.stderr


def _wait_stopped(aws, task_id: str, timeout: float = 240) -> dict:
    end = time.time() + timeout
    while time.time() < end:
        t = aws("ecs").describe_tasks(cluster="rovn-ops", tasks=[task_id])["tasks"][0]
        if t["lastStatus"] == "STOPPED":
            return t
        time.sleep(1)
    raise AssertionError(f"task {task_id} still running after {timeout}s")


def test_preview_apply_then_nothing_to_do_and_drift_shows(fresh, aws, evidence_dir):
    first = rovn_ops("run", "schedules", "--quiet")
    assert first.returncode == 0 and "create 6: " + ", ".join(NAMES) in first.stdout, first.stdout
    assert not aws("scheduler").list_schedule_groups()["ScheduleGroups"] or not aws("scheduler").list_schedules(
        GroupName="rovn-ops").get("Schedules")  # a preview changes nothing
    _apply()
    sched = aws("scheduler")
    s = sched.get_schedule(GroupName="rovn-ops", Name="secrets-audit-daily")
    assert s["ScheduleExpression"] == "cron(0 13 * * ? *)" and s["ScheduleExpressionTimezone"] == "America/Chicago"
    target = s["Target"]
    assert target["Arn"].endswith(":cluster/rovn-ops") and target["RoleArn"].endswith(":role/rovn-ops-scheduler")
    assert target["EcsParameters"]["LaunchType"] == "FARGATE"
    overrides = json.loads(target["Input"])
    assert overrides["containerOverrides"][0]["command"] == ["scheduled", "secrets-audit-daily", "--env", "sandbox"]
    assert overrides["taskRoleArn"].endswith(":role/rovn-ops-read")
    again = rovn_ops("run", "schedules", "--quiet")
    assert "create 0: -" in again.stdout and "update 0: -" in again.stdout and "delete 0: -" in again.stdout
    # Drift made by hand in the console: one schedule changed, one added
    sched.update_schedule(GroupName="rovn-ops", Name="secrets-audit-daily", ScheduleExpression="rate(1 day)",
                          FlexibleTimeWindow={"Mode": "OFF"}, Target=target)
    sched.create_schedule(GroupName="rovn-ops", Name="by-hand", ScheduleExpression="rate(1 hour)",
                          FlexibleTimeWindow={"Mode": "OFF"}, Target=target)
    drift = rovn_ops("run", "schedules", "--quiet")
    assert "update 1: secrets-audit-daily" in drift.stdout and "delete 1: by-hand" in drift.stdout, drift.stdout


def test_tick_fires_what_is_due_once_as_an_ecs_task_of_the_suite(fresh, aws, evidence_dir):
    _apply()
    soon = (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat()
    tick = rovn_ops("sandbox", "tick", "--at", soon)
    assert tick.returncode == 0, tick.stderr
    fired = [l for l in tick.stdout.splitlines() if l.startswith("fired ")]
    assert [l.split()[1] for l in fired] == ["rovn-ops/db-master-rotation-due:"]  # rate(90 days): at once; crons later
    task_id = fired[0].split("remote run ")[1].split()[0]
    t = _wait_stopped(aws, task_id)
    assert t["containers"][0]["exitCode"] == 0 and t["startedBy"] == "rovn-ops-scheduler"
    assert rovn_ops("sandbox", "tick", "--at", soon).stdout.strip() == "no schedule is due"  # fired once


def test_a_scheduled_run_that_needs_attention_pages_p1(fresh, sandbox):
    """secrets_audit ends `attention` (exit 4) on the seeded world (overdue rotations)."""
    res = rovn_ops("scheduled", "secrets-audit-daily")
    assert res.returncode == 4, res.stdout + res.stderr
    posts = _posts()
    assert any(p["channel"] == "slack" and p["payload"]["text"].startswith("[P1] scheduled secrets-audit-daily")
               for p in posts), posts[-3:]


def _posts() -> list[dict]:
    from rovn_sandbox import control

    return control.posts(control.require())


def test_an_unknown_schedule_is_one_line_and_exit_2(fresh):
    res = rovn_ops("scheduled", "nope")
    assert res.returncode == 2 and "secrets-audit-daily" in res.stderr and len(res.stderr.strip().splitlines()) == 1
