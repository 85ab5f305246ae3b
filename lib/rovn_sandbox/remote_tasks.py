"""RunTask of the suite's own task definition (`rovn-ops remote run`), answered as
Fargate would run it: the container's command runs here as a subprocess, under the
task role's credentials (STS AssumeRole, as ECS hands a task its role), its output goes
to the awslogs stream PREFIX/CONTAINER/TASK_ID, and the task stops with the
container's exit code (stopCode EssentialContainerExited).

moto 5.2.5's RunTask records a task and runs nothing, so its RunTask is wrapped (keyed
to that version by moto_guard). Other task definitions still go to moto's RunTask.
DescribeTasks (ecs_api.py) answers these tasks from here. References: RunTask and DescribeTasks in the ECS API reference;
awslogs in https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.responses import EC2ContainerServiceResponse

from rovn_sandbox import moto_guard

ACCOUNT = "123456789012"
_tasks: dict[str, dict] = {}
_lock = threading.Lock()
_config: dict = {}


@moto_guard.patches
def install(state_dir: Path, family: str) -> None:
    _config.update(state_dir=Path(state_dir), family=family)
    original = EC2ContainerServiceResponse.run_task

    def run_task(self):
        td = self.ecs_backend.describe_task_definition(self._get_param("taskDefinition"))
        if td.family != _config["family"]:
            return original(self)
        return ActionResult({"tasks": [_start(self, td)], "failures": []})
    EC2ContainerServiceResponse.run_task = run_task


def known(cluster: str) -> dict[str, dict]:
    """This cluster's remote-run tasks by task id, for DescribeTasks."""
    name = cluster.split("/")[-1]
    with _lock:
        return {tid: dict(t) for tid, t in _tasks.items() if t["clusterArn"].endswith(f":cluster/{name}")}


def _start(response, td) -> dict:
    cluster = response.ecs_backend._get_cluster(response._get_param("cluster", "default"))
    network = response._get_param("networkConfiguration")
    if td.network_mode == "awsvpc" and not network:
        raise InvalidParameterException("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
    if (response._get_param("launchType") or "FARGATE") != "FARGATE":
        raise InvalidParameterException(f"Task definition {td.family} requires the FARGATE launch type.")
    container = td.container_definitions[0]
    override = next((o for o in (response._get_param("overrides") or {}).get("containerOverrides", [])
                     if o.get("name") == container["name"]), {})
    task_id = secrets.token_hex(16)
    now = utcnow()
    task = {
        "taskArn": f"arn:aws:ecs:{cluster.region_name}:{ACCOUNT}:task/{cluster.name}/{task_id}",
        "clusterArn": cluster.arn, "taskDefinitionArn": td.arn, "group": f"family:{td.family}",
        "launchType": "FARGATE", "platformVersion": "1.4.0", "cpu": td.cpu, "memory": td.memory,
        "startedBy": response._get_param("startedBy") or "", "lastStatus": "RUNNING", "desiredStatus": "RUNNING",
        "createdAt": now, "startedAt": now, "overrides": response._get_param("overrides") or {},
        "tags": response._get_param("tags") or [], "availabilityZone": f"{cluster.region_name}a",
        "containers": [{"containerArn": f"arn:aws:ecs:{cluster.region_name}:{ACCOUNT}:container/{cluster.name}/"
                                        f"{task_id}/{secrets.token_hex(16)}",
                        "taskArn": f"arn:aws:ecs:{cluster.region_name}:{ACCOUNT}:task/{cluster.name}/{task_id}",
                        "name": container["name"], "image": container.get("image"), "lastStatus": "RUNNING"}],
    }
    with _lock:
        _tasks[task_id] = task
    command = override.get("command") or container.get("command") or []
    env = {e["name"]: e["value"] for e in container.get("environment") or []}
    env |= {e["name"]: e["value"] for e in override.get("environment") or []}
    role = (response._get_param("overrides") or {}).get("taskRoleArn") or td.task_role_arn
    threading.Thread(target=_run, args=(task_id, role, container, command, env), daemon=True).start()
    return dict(task)


def _role_credentials(endpoint: str, region: str, role_arn: str, session: str, admin: tuple) -> dict:
    sts = boto3.client("sts", endpoint_url=endpoint, region_name=region,
                       aws_access_key_id=admin[0], aws_secret_access_key=admin[1])
    c = sts.assume_role(RoleArn=role_arn, RoleSessionName=session)["Credentials"]
    return {"AWS_ACCESS_KEY_ID": c["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": c["SecretAccessKey"],
            "AWS_SESSION_TOKEN": c["SessionToken"]}


def _environment(task_id: str, role: str, env: dict) -> dict:
    """The sandbox's addresses, the task role's credentials, and the task's own scratch
    space for what the image writes under /tmp (its root file system is read-only)."""
    from rovn_sandbox import control

    state = json.loads((_config["state_dir"] / "state.json").read_text())
    scratch = _config["state_dir"] / "tasks" / task_id / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    out = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ROVN_"))}
    out |= control.exports(state)
    out |= _role_credentials(state["endpoint"], state["region"], role, task_id,
                             (state["access_key_id"], state["secret_access_key"]))
    out |= {k: v.replace("/tmp", str(scratch), 1) if v.startswith("/tmp") else v for k, v in env.items()}
    out |= {"ROVN_SPOOL_DIR": str(scratch / "spool"), "ROVN_LOCAL_USER": f"ecs-task-{task_id[:8]}"}
    out.setdefault("ROVN_EVIDENCE_DIR", str(scratch / "evidence"))
    return out


def _run(task_id: str, role: str, container: dict, command: list[str], env: dict) -> None:
    log = container.get("logConfiguration", {}).get("options", {})
    stream = f"{log.get('awslogs-stream-prefix', 'ecs')}/{container['name']}/{task_id}"
    code, reason = None, "Essential container in task exited"
    try:
        environment = _environment(task_id, role, env)
        logs = boto3.client("logs", endpoint_url=environment["AWS_ENDPOINT_URL"],
                            region_name=environment["AWS_REGION"],
                            aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
                            aws_session_token=environment["AWS_SESSION_TOKEN"])
        logs.create_log_stream(logGroupName=log["awslogs-group"], logStreamName=stream)
        argv = [sys.executable, "-c", "import sys; from rovn_ops.cli import main; sys.exit(main())", *command]
        proc = subprocess.Popen(argv, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, bufsize=1, start_new_session=True)
        for line in proc.stdout:
            _put(logs, log["awslogs-group"], stream, line.rstrip("\n"))
        code = proc.wait()
    except Exception as e:  # the container never ran: ECS reports the task failed to start
        reason = f"CannotStartContainerError: {type(e).__name__}: {e}"[:255]
    _stop(task_id, code, reason)


def _put(logs, group: str, stream: str, message: str) -> None:
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": message or " "}])


def _stop(task_id: str, code: int | None, reason: str) -> None:
    now = utcnow()
    with _lock:
        task = _tasks[task_id]
        task |= {"lastStatus": "STOPPED", "desiredStatus": "STOPPED", "stoppingAt": now, "stoppedAt": now,
                 "executionStoppedAt": now, "stoppedReason": reason,
                 "stopCode": "EssentialContainerExited" if code is not None else "TaskFailedToStart"}
        c = task["containers"][0]
        c["lastStatus"] = "STOPPED"
        if code is not None:
            c["exitCode"] = code
        else:
            c["reason"] = reason
