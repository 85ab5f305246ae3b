"""Read-only views of a service: its deployments, task definition, image scan,
alarms, events and /health. Used by service_status and by every runbook's preview.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from rovn_ops.core.escape import code, markdown as md
from rovn_ops.protocol.commands import run_command
from rovn_ops.core import plaintext
from rovn_ops.ecs.names import short_td
from rovn_ops.core.errors import RovnError


def _frame(rows: list[dict], columns: list[str]):
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


def describe_service(ctx) -> dict:
    p = ctx.params
    ecs = ctx.client("ecs")
    try:
        resp = ecs.describe_services(cluster=p.cluster, services=[p.service])
    except ecs.exceptions.ClusterNotFoundException:
        raise RovnError(f"cluster {p.cluster!r} not found ({p.env}, {p.region})") from None
    if not resp["services"] or resp["services"][0].get("status") == "INACTIVE":
        raise RovnError(f"service {p.service!r} not found in cluster {p.cluster!r} "
                        f"({p.env}, {p.region})")
    return resp["services"][0]


def overview(service: dict):
    return _frame([{
        "service": service["serviceName"], "status": service["status"],
        "task definition": short_td(service["taskDefinition"]),
        "desired": service["desiredCount"], "running": service["runningCount"],
        "pending": service["pendingCount"], "launch type": service.get("launchType"),
        "circuit breaker": _breaker(service),
    }], ["service", "status", "task definition", "desired", "running", "pending",
         "launch type", "circuit breaker"])


def _breaker(service: dict) -> str:
    cb = (service.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker") or {}
    if not cb.get("enable"):
        return "off"
    return "on, rollback" if cb.get("rollback") else "on, no rollback"


def deployments(service: dict):
    return _frame([{
        "id": d["id"], "status": d["status"], "rollout": d.get("rolloutState"),
        "task definition": short_td(d["taskDefinition"]), "desired": d["desiredCount"],
        "running": d["runningCount"], "pending": d["pendingCount"], "failed": d.get("failedTasks", 0),
        "updated": d.get("updatedAt"), "reason": d.get("rolloutStateReason", ""),
    } for d in service["deployments"]], ["id", "status", "rollout", "task definition", "desired",
                                         "running", "pending", "failed", "updated", "reason"])


def primary(service: dict) -> dict:
    return next(d for d in service["deployments"] if d["status"] == "PRIMARY")


@dataclass(frozen=True)
class TaskDefinitionView:
    arn: str
    containers: list[dict]
    cpu: str
    memory: str

    @property
    def image(self) -> str:
        return self.containers[0]["image"]

    @property
    def image_tag(self) -> str:
        return self.image.rsplit(":", 1)[-1]

    @property
    def repository(self) -> str:
        return self.image.rsplit(":", 1)[0].split("/", 1)[-1]

    def table(self):
        return _frame([{
            "task definition": short_td(self.arn), "container": c["name"], "image": c["image"],
            "cpu": self.cpu, "memory": self.memory, "user": c.get("user", "(root)"),
            "read-only root fs": c.get("readonlyRootFilesystem", False),
        } for c in self.containers], ["task definition", "container", "image", "cpu", "memory",
                                      "user", "read-only root fs"])

    def secret_refs(self):
        """Secret references by name only: the env var and the Secrets Manager name."""
        return _frame([{"container": c["name"], "variable": s["name"],
                        "secret": secret_name(s["valueFrom"])}
                       for c in self.containers for s in c.get("secrets", [])],
                      ["container", "variable", "secret"])


def secret_name(value_from: str) -> str:
    """arn:aws:secretsmanager:…:secret:rovn/prod/db-master-AbCdEf → rovn/prod/db-master"""
    if ":secret:" not in value_from:
        return value_from
    name = value_from.split(":secret:", 1)[1].split(":", 1)[0]
    head, _, suffix = name.rpartition("-")
    return head if len(suffix) == 6 and head else name


def task_definition(ctx, arn: str) -> TaskDefinitionView:
    td = ctx.client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]
    return TaskDefinitionView(td["taskDefinitionArn"], td["containerDefinitions"],
                              td.get("cpu", ""), td.get("memory", ""))


def image_scan(ctx, repository: str, tag: str):
    ecr = ctx.client("ecr")
    image = {"imageTag": tag}
    try:
        found = ecr.describe_images(repositoryName=repository, imageIds=[image])["imageDetails"][0]
    except ecr.exceptions.ImageNotFoundException:
        return _frame([{"image": f"{repository}:{tag}", "pushed": None, "scan": "IMAGE NOT FOUND"}],
                      ["image", "pushed", "scan"])
    try:
        scan = ecr.describe_image_scan_findings(repositoryName=repository, imageId=image)
        status = scan["imageScanStatus"]["status"]
        counts = scan["imageScanFindings"].get("findingSeverityCounts", {})
    except ecr.exceptions.ScanNotFoundException:
        status, counts = "NO SCAN", {}
    row = {"image": f"{repository}:{tag}", "digest": found["imageDigest"][:19] + "…",
           "pushed": found.get("imagePushedAt"), "scan": status}
    for sev in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"):
        row[sev] = counts.get(sev, 0)
    return _frame([row], list(row))


def alarms(ctx, prefix: str):
    from rovn_ops.ecs import cloudwatch_alarms

    found = cloudwatch_alarms.describe(ctx.client("cloudwatch"), prefix=prefix)  # every shape, composites too
    return _frame([{"alarm": a.name, "state": a.state, "shape": a.kind,
                    "description": a.description, "reason": a.reason,
                    "since": a.updated} for a in found],
                  ["alarm", "state", "shape", "description", "reason", "since"])


def events(service: dict, count: int):
    return _frame([{"at": e["createdAt"], "message": e["message"]}
                   for e in service.get("events", [])[:count]], ["at", "message"])


@dataclass(frozen=True)
class Health:
    url: str
    ok: bool
    status: int | None
    version: str | None
    detail: str = ""
    edge: str = ""  # a CDN's marks on the answer (§4: passport.rovn.to is DNS-only, never proxied)

    def table(self, expected_tag: str | None = None):
        row = {"url": self.url, "http": self.status, "ok": self.ok, "version": self.version}
        if expected_tag:
            row["matches primary image"] = self.version == expected_tag
        row["direct (§4)"] = not self.edge
        row["detail"] = "; ".join(d for d in (self.detail, self.edge) if d)
        return _frame([row], list(row))


def health(url: str, timeout: float = 5.0) -> Health:
    """GET /health over real HTTP: {"status": "ok", "version": <image tag>}."""
    if not url:
        return Health(url, False, None, None, "no health_url configured")
    import urllib3

    try:
        resp = urllib3.request("GET", url, timeout=timeout, retries=urllib3.Retry(2, backoff_factor=0.2))
    except urllib3.exceptions.HTTPError as e:
        return Health(url, False, None, None, f"unreachable: {type(e).__name__}")
    try:
        body = json.loads(resp.data or b"{}")
    except ValueError:
        body = {}
    ok = resp.status == 200 and body.get("status") == "ok"
    text = (resp.data or b"")[:120].decode("utf-8", "replace").strip()
    return Health(url, ok, resp.status, body.get("version"), "" if ok else f"HTTP {resp.status}: {text}",
                  edge(resp.headers))


def edge(headers) -> str:
    """Cloudflare's marks on a response: a cf-ray header, or server: cloudflare.
    passport.rovn.to is gray-cloud (DNS-only) so PHI traffic never routes via the edge (§4)."""
    marks = []
    if headers.get("cf-ray"):
        marks.append(f"cf-ray {headers['cf-ray']}")
    if "cloudflare" in (headers.get("server") or "").lower():
        marks.append(f"server: {headers['server']}")
    return ("answered through Cloudflare's edge (" + ", ".join(marks) + ")") if marks else ""


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or url


@dataclass(frozen=True)
class Verdict:
    """The last cell: is the service healthy, and what to do next."""

    run_id: str
    service: str
    task_definition: str
    problems: tuple[str, ...]
    triage_command: str = "rovn-ops run incident_triage"

    @property
    def healthy(self) -> bool:
        return not self.problems

    def _repr_markdown_(self) -> str:
        head = (f"### Healthy: `{code(self.service)}` on `{code(self.task_definition)}`" if self.healthy
                else f"### NEEDS ATTENTION: `{code(self.service)}` on `{code(self.task_definition)}`")
        body = "\n".join(f"- {md(p)}" for p in self.problems) or "- nothing to do"
        nxt = ("Next: nothing; re-run this runbook after any change." if self.healthy else
               f"Next: triage it (severity, cause, the command to run, the page if P0):\n\n"
               f"```sh\n{self.triage_command}\n```")
        return f"{head}\n\n{body}\n\n{nxt}\n\nrun id: `{self.run_id}`"

    __repr__ = plaintext.markdown_repr


def multi_az(ctx, service: dict):
    """§11's multi-AZ: the service's subnets' AZs, where its running tasks are, RDS's Multi-AZ flag."""
    from rovn_ops.core import availability
    from rovn_ops.safety.params import environment_defaults

    instance = getattr(ctx.params, "rds_instance", "") or environment_defaults(ctx.env).get("rds_instance", "")
    return availability.check(ctx.client("ec2"), ctx.client("rds"), service, instance, ecs=ctx.client("ecs"))


def verdict(ctx, service: dict, td: TaskDefinitionView, health_check: Health, alarm_table) -> Verdict:
    problems = []
    p = primary(service)
    if p.get("rolloutState") != "COMPLETED":
        problems.append(f"PRIMARY deployment {p['id']} is {p.get('rolloutState')}: {p.get('rolloutStateReason', '')}")
    if len(service["deployments"]) > 1:
        problems.append(f"{len(service['deployments'])} deployments: a rollout is in flight")
    if service["runningCount"] < service["desiredCount"]:
        problems.append(f"running {service['runningCount']} < desired {service['desiredCount']}")
    if not health_check.ok:
        problems.append(f"/health failed: {health_check.detail or health_check.status}")
    elif health_check.version != td.image_tag:
        problems.append(f"/health reports {health_check.version}, the PRIMARY image is {td.image_tag}")
    if health_check.edge:
        problems.append(f"/health {health_check.edge}: PHI traffic must not route via Cloudflare; set "
                        f"{_host(health_check.url)} back to DNS-only (gray cloud) (§4)")
    zones = multi_az(ctx, service)
    problems += zones.problems
    firing = list(alarm_table.loc[alarm_table["state"] == "ALARM", "alarm"])
    problems += [f"alarm {a} is in ALARM" for a in firing]
    # A verdict that needs attention is not a success: outcome `attention`, exit code 4.
    ctx.record(outcome="attention" if problems else "success",
               targets=[f"{ctx.params.cluster}/{ctx.params.service}"],
               observed={"task_definition": short_td(td.arn), "image_tag": td.image_tag,
                         "healthy": not problems},
               summary={"service": f"{ctx.params.cluster}/{ctx.params.service}", "task_definition": short_td(td.arn),
                        "image_tag": td.image_tag, "health": f"{health_check.status or 'no answer'} "
                        f"{health_check.version or ''}".strip(), "verdict": "healthy" if not problems
                        else "needs attention", "problems": problems, "multi_az (§11)": zones.summary(),
                        "triage_command": run_command(ctx.params, "incident_triage") if problems else None})
    return Verdict(ctx.run_id, ctx.params.service, short_td(td.arn), tuple(problems),
                   run_command(ctx.params, "incident_triage"))

