"""One remote run: RunTask on Fargate in the private subnets, the task's CloudWatch
Logs followed to its end, and its container's exit code as ours.

ECS: RunTask (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html)
answers `tasks` and `failures`; a task that could not be placed is a failure, not an
error. The awslogs driver names a task's stream PREFIX/CONTAINER/TASK_ID
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html)."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from rovn_ops.core import aws
from rovn_ops.core.errors import BadInput, RovnError
from rovn_ops.remote.settings import Remote

STARTED_BY = "rovn-ops-remote"  # ECS keeps startedBy (36 characters at most)


@dataclass
class Task:
    arn: str
    remote: Remote
    env: str
    region: str
    described: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    def _ecs(self):
        return aws.client("ecs", env=self.env, region=self.region)

    def describe(self) -> dict:
        answer = self._ecs().describe_tasks(cluster=self.remote.cluster, tasks=[self.arn])
        if not answer["tasks"]:
            reason = (answer.get("failures") or [{}])[0].get("reason", "MISSING")
            raise BadInput(f"remote run {self.id}: no such task in cluster {self.remote.cluster} ({reason}); "
                           "ECS keeps a stopped task about an hour")
        self.described = answer["tasks"][0]
        return self.described

    @property
    def stopped(self) -> bool:
        return self.described.get("lastStatus") == "STOPPED"

    def exit_code(self) -> int:
        """The container's exit code; a task that never ran its container is a failure (1)."""
        for c in self.described.get("containers", []):
            if c.get("name") == self.remote.container and c.get("exitCode") is not None:
                return int(c["exitCode"])
        return 1

    def why_stopped(self) -> str:
        d = self.described
        return f"{d.get('stopCode', '')}: {d.get('stoppedReason', '')}".strip(": ")


def network(ec2, remote: Remote) -> dict:
    """RunTask's awsvpcConfiguration: the subnets by their tag, the runner's security group."""
    filters = [{"Name": k, "Values": [str(v)]} for k, v in remote.subnet_filter.items()]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=filters)["Subnets"]]
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [remote.security_group]}])
    if not subnets or not groups["SecurityGroups"]:
        raise RovnError(f"remote: no subnet matches {remote.subnet_filter} or no security group "
                        f"{remote.security_group}: see docs (production setup, remote runs)")
    return {"awsvpcConfiguration": {"subnets": subnets, "assignPublicIp": "DISABLED",
                                    "securityGroups": [groups["SecurityGroups"][0]["GroupId"]]}}


def start(remote: Remote, command: list[str], *, env: str, region: str, operator: str, role_arn: str) -> Task:
    """RunTask with the command as the container's override; the caller's identity is
    kept as a tag, so the task's evidence can be tied back to who started it."""
    ecs = aws.client("ecs", env=env, region=region)
    answer = ecs.run_task(
        cluster=remote.cluster, taskDefinition=remote.task_definition, launchType="FARGATE", count=1,
        networkConfiguration=network(aws.client("ec2", env=env, region=region), remote),
        overrides={"containerOverrides": [{"name": remote.container, "command": command}], "taskRoleArn": role_arn},
        startedBy=STARTED_BY, tags=[{"key": "rovn:started-by", "value": operator[:256]}],
        enableExecuteCommand=False, propagateTags="TASK_DEFINITION")
    if not answer.get("tasks"):
        f = (answer.get("failures") or [{}])[0]
        raise RovnError(f"remote: ECS placed no task ({f.get('reason', 'no reason given')}"
                        f"{': ' + f['detail'] if f.get('detail') else ''})")
    return Task(answer["tasks"][0]["taskArn"], remote, env, region, answer["tasks"][0])


TASK_REF = re.compile(r"(arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:task/[A-Za-z0-9_-]+/)?[0-9a-f]{32}", re.ASCII)


def attach(remote: Remote, task_id: str, *, env: str, region: str) -> Task:
    if not TASK_REF.fullmatch(task_id or ""):
        raise BadInput(f"remote attach: expected a remote run's id (its ECS task id, 32 hex digits) or its "
                       f"task ARN, got {task_id[:80]!r}")
    task = Task(task_id, remote, env, region)
    task.describe()
    return task


def follow(task: Task, emit, *, poll: float = 1.0, token: str | None = None) -> str | None:
    """Print the task's log lines as they arrive, until it stopped and its stream is read
    to the end. GetLogEvents pages forward with nextForwardToken and answers the same
    token at the end of the stream (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html)."""
    logs = aws.client("logs", env=task.env, region=task.region)
    stream = task.remote.stream(task.id)
    while True:
        stopped = task.stopped or task.describe().get("lastStatus") == "STOPPED"
        token = _drain(logs, task.remote.log_group, stream, token, emit)
        if stopped:
            return token
        time.sleep(poll)


def _drain(logs, group: str, stream: str, token: str | None, emit) -> str | None:
    while True:
        kwargs = {"nextToken": token} if token else {"startFromHead": True}
        try:
            page = logs.get_log_events(logGroupName=group, logStreamName=stream, **kwargs)
        except logs.exceptions.ResourceNotFoundException:  # the stream starts with the container
            return token
        for event in page["events"]:
            emit(event["message"])
        if page["nextForwardToken"] == token or not page["events"]:
            return page["nextForwardToken"]
        token = page["nextForwardToken"]
