"""`rovn-ops sandbox tick`: EventBridge Scheduler's part, played in the sandbox. moto
stores schedules but never fires them; a tick fires each schedule that came due since
the last tick, as Scheduler does: it assumes the target's RoleArn and calls ECS RunTask
with the target's EcsParameters and its Input as the overrides
(https://docs.aws.amazon.com/scheduler/latest/APIReference/API_Target.html).

Due: rate(N unit) once N has passed since it last fired (at once, the first time);
cron(...) when a fire time of the expression, in its time zone, fell after the last
fire (or the schedule's creation) and at or before now."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import boto3

UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
AWS_DAYS = {str(i): d for i, d in enumerate(["", "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]) if i}


def _five(fields: list[str]) -> str:
    """AWS's six fields as croniter's five: no year (it must be *), '?' as '*', and
    AWS's day numbers (1 = Sunday) by name."""
    minute, hour, dom, month, dow, year = fields
    if year not in ("*", "?"):
        raise ValueError("sandbox tick: a cron year other than * is not simulated")
    dow = ",".join(AWS_DAYS.get(d, d) for d in dow.split(","))
    return " ".join(f.replace("?", "*") for f in (minute, hour, dom, month, dow))


def due(schedule: dict, last: datetime | None, now: datetime) -> bool:
    expr = schedule["ScheduleExpression"]
    if expr.startswith("rate("):
        n, unit = expr[5:-1].split()
        return last is None or now - last >= timedelta(seconds=int(n) * UNITS[unit])
    from croniter import croniter

    zone = ZoneInfo(schedule.get("ScheduleExpressionTimezone") or "UTC")
    since = last or schedule.get("CreationDate") or now
    it = croniter(_five(expr[5:-1].split()), since.astimezone(zone))
    return it.get_next(datetime) <= now.astimezone(zone)


def _client(state: dict, service: str, creds: dict | None = None):
    keys = creds or {"aws_access_key_id": state["access_key_id"], "aws_secret_access_key": state["secret_access_key"]}
    return boto3.client(service, endpoint_url=state["endpoint"], region_name=state["region"], **keys)


def _fire(state: dict, name: str, schedule: dict) -> str:
    target = schedule["Target"]
    c = _client(state, "sts").assume_role(RoleArn=target["RoleArn"], RoleSessionName=f"scheduler-{name}"[:64])
    creds = {"aws_access_key_id": c["Credentials"]["AccessKeyId"], "aws_secret_access_key":
             c["Credentials"]["SecretAccessKey"], "aws_session_token": c["Credentials"]["SessionToken"]}
    ecs, p = _client(state, "ecs", creds), target["EcsParameters"]
    net = p["NetworkConfiguration"]["awsvpcConfiguration"]
    answer = ecs.run_task(
        cluster=target["Arn"], taskDefinition=p["TaskDefinitionArn"].rsplit("/", 1)[-1],
        launchType=p.get("LaunchType", "FARGATE"), count=p.get("TaskCount", 1), startedBy="rovn-ops-scheduler",
        networkConfiguration={"awsvpcConfiguration": {"subnets": net["Subnets"], "securityGroups": net["SecurityGroups"],
                                                      "assignPublicIp": net.get("AssignPublicIp", "DISABLED")}},
        overrides=json.loads(target.get("Input") or "{}"))
    return answer["tasks"][0]["taskArn"].rsplit("/", 1)[-1]


def tick(state: dict, state_dir: Path, *, now: datetime | None = None, fire_all: bool = False) -> list[dict]:
    now = now or datetime.now(timezone.utc)
    book_file = state_dir / "scheduler-ticks.json"
    book = json.loads(book_file.read_text()) if book_file.exists() else {}
    sched, fired = _client(state, "scheduler"), []
    for group in [g["Name"] for g in sched.list_schedule_groups()["ScheduleGroups"]]:
        for summary in sched.list_schedules(GroupName=group)["Schedules"]:
            s = sched.get_schedule(GroupName=group, Name=summary["Name"])
            key = f"{group}/{s['Name']}@{s.get('CreationDate')}"  # a schedule made anew (a reset) is new
            last = datetime.fromisoformat(book[key]) if key in book else None
            if s.get("State") != "ENABLED" or not (fire_all or due(s, last, now)):
                continue
            fired.append({"schedule": f"{group}/{s['Name']}", "task": _fire(state, s["Name"], s)})
            book[key] = now.isoformat()
    book_file.write_text(json.dumps(book, indent=2))
    return fired
