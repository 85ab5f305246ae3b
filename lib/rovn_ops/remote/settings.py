"""Where remote runs go: parameters/<env>.yaml's `remote:` section."""
from __future__ import annotations

from dataclasses import dataclass

from rovn_ops.core.errors import BadInput
from rovn_ops.safety import params

FIELDS = ("cluster", "task_definition", "container", "subnet_filter", "security_group", "log_group",
          "stream_prefix", "read_role")


@dataclass(frozen=True)
class Remote:
    cluster: str
    task_definition: str  # the family: its latest ACTIVE revision runs
    container: str
    subnet_filter: dict  # DescribeSubnets filters, e.g. {"tag:Tier": "private"}
    security_group: str  # its group name
    log_group: str
    stream_prefix: str  # awslogs-stream-prefix: streams are PREFIX/CONTAINER/TASK_ID
    read_role: str  # the task role of a runbook that changes nothing
    task_roles: dict  # runbook -> the role that may make its changes, and no others

    def role_arn(self, runbook: str, account: str) -> str:
        return f"arn:aws:iam::{account}:role/{self.task_roles.get(runbook) or self.read_role}"

    def stream(self, task_id: str) -> str:
        return f"{self.stream_prefix}/{self.container}/{task_id}"


def load(env: str) -> Remote:
    section = params.environment_section(env, "remote")
    missing = [f for f in FIELDS if not section.get(f)]
    if missing:
        raise BadInput(f"parameters/{env}.yaml: its remote section needs {', '.join(missing)} "
                       "(see docs: remote runs)")
    return Remote(**{f: section[f] for f in FIELDS}, task_roles=dict(section.get("task_roles") or {}))
