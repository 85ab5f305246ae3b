"""The service's ALB and target group (§2: "ALB health checks must pass"), answering as
ELBv2 does where moto cannot: moto's DescribeTargetHealth reports whatever targets were
registered, always healthy, and ECS in moto registers none.

Here the service's target group holds its tasks, as ECS registers them (target type ip:
each awsvpc task's private IPv4 address, on the container port), and each target's
state follows the ECS simulator (ecs_rollout.tasks_of) and the image's faults
(image_faults.py), with ELBv2's reason codes:

- a PENDING task: `initial` (Elb.RegistrationInProgress);
- a RUNNING task: `healthy`, or `unhealthy` (Target.ResponseCodeMismatch, codes [500])
  when its image breaks /health (canary_failing);
- a task ECS stopped (drained by a rollout, crashed, retired) is deregistered: `draining`
  (Target.DeregistrationInProgress) for the target group's deregistration delay, 300
  sandbox-s, then gone, so tasks_crashing's target group empties;
- a target asked for by `Targets` and not registered: `unused` (Target.NotRegistered).
https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeTargetHealth.html
https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html
"""
from __future__ import annotations


from moto.elbv2.models import ELBv2Backend

from rovn_sandbox import clock, moto_guard

ACCOUNT = "123456789012"
DEREGISTRATION_DELAY_S = 300  # the target group attribute's default
_services: dict[str, tuple[str, str, str]] = {}  # target group ARN -> (region, cluster, service)


def seed(c, spec: dict, network: dict, load_balancer: str) -> dict:
    """The ALB (its id the one the ALB's CloudWatch dimension carries), the target group
    and a listener forwarding to it; returns the service's `loadBalancers` entry."""
    from moto.elbv2.models import elbv2_backends

    elb, subnets = c("elbv2"), network["awsvpcConfiguration"]["subnets"]
    name = load_balancer.split("/")[1]
    lb = elb.create_load_balancer(Name=name, Subnets=subnets, Scheme="internet-facing", Type="application",
                                  SecurityGroups=network["awsvpcConfiguration"]["securityGroups"])["LoadBalancers"][0]
    backend = elbv2_backends[ACCOUNT][elb.meta.region_name]
    arn = lb["LoadBalancerArn"].rsplit(":loadbalancer/", 1)[0] + ":loadbalancer/" + load_balancer
    fake = backend.load_balancers.pop(lb["LoadBalancerArn"])
    fake.arn = arn  # moto draws the id at random; the world's metrics name this one
    backend.load_balancers[arn] = fake
    tg = elb.create_target_group(Name=f"{spec['service']}-tg", Protocol="HTTP", Port=spec["port"],
                                 VpcId=lb["VpcId"], TargetType="ip", HealthCheckPath="/health",
                                 HealthCheckProtocol="HTTP")["TargetGroups"][0]
    elb.create_listener(LoadBalancerArn=arn, Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    return {"targetGroupArn": tg["TargetGroupArn"], "containerName": spec["container"], "containerPort": spec["port"]}


def serve(target_group_arn: str, region: str, cluster: str, service: str) -> None:
    _services[target_group_arn] = (region, cluster, service)


def _ip(task: dict) -> str | None:
    for a in task.get("attachments", []):
        for d in a.get("details", []):
            if d["name"] == "privateIPv4Address":
                return d["value"]
    return None


def _health(task: dict, port: int) -> dict | None:
    """One target's description, or None once it has left the target group."""
    from rovn_sandbox import image_faults

    ip = _ip(task)
    if ip is None:
        return None
    state = task["lastStatus"]
    if state == "PENDING":
        health = {"State": "initial", "Reason": "Elb.RegistrationInProgress",
                  "Description": "Target registration is in progress"}
    elif state == "RUNNING":
        tag = next((c.get("image") or "" for c in task.get("containers", [])), "").rsplit(":", 1)[-1]
        if image_faults.health_broken(tag):
            health = {"State": "unhealthy", "Reason": "Target.ResponseCodeMismatch",
                      "Description": "Health checks failed with these codes: [500]"}
        else:
            health = {"State": "healthy"}
    elif (task.get("_stopped_s") is not None and not task.get("_failed_start")
          and clock.now() - task["_stopped_s"] < DEREGISTRATION_DELAY_S):
        health = {"State": "draining", "Reason": "Target.DeregistrationInProgress",
                  "Description": "Target deregistration is in progress"}
    else:
        return None
    return {"Target": {"Id": ip, "Port": port, "AvailabilityZone": task["availabilityZone"]},
            "HealthCheckPort": str(port), "TargetHealth": health}


def describe(target_group_arn: str, port: int, wanted: list[dict]) -> list[dict]:
    from moto.ecs.models import ecs_backends

    from rovn_sandbox import ecs_rollout

    region, cluster, service = _services[target_group_arn]
    with ecs_rollout._lock:
        svc = ecs_backends[ACCOUNT][region].services.get(f"{cluster}:{service}")
        if svc is None:
            return []
        ecs_rollout.tick(svc)  # the service as the clock has it, whoever looks
        found = [h for h in (_health(t, port) for t in ecs_rollout.tasks_of(svc, stopped_s=True)) if h]
    latest: dict[str, dict] = {}
    for h in found:  # an address's newest registration speaks for it
        latest.setdefault(h["Target"]["Id"], h)
        if latest[h["Target"]["Id"]]["TargetHealth"]["State"] == "draining":
            latest[h["Target"]["Id"]] = h
    found = list(latest.values())
    if not wanted:
        return found
    out = []
    for t in wanted:
        match = next((h for h in found if h["Target"]["Id"] == t["Id"]
                      and str(h["Target"]["Port"]) == str(t.get("Port", port))), None)
        out.append(match or {"Target": {"Id": t["Id"], "Port": int(t.get("Port", port))},
                             "TargetHealth": {"State": "unused", "Reason": "Target.NotRegistered",
                                              "Description": "Target is not registered to the target group"}})
    return out


@moto_guard.patches
def install() -> None:
    """Patch moto 5.2.5's ELBv2Backend.describe_target_health (it reports registered targets,
    always healthy)."""
    original = ELBv2Backend.describe_target_health

    def describe_target_health(self, target_group_arn, targets):
        if target_group_arn not in _services:
            return original(self, target_group_arn, targets)
        return describe(target_group_arn, int(self.target_groups[target_group_arn].port), targets or [])

    ELBv2Backend.describe_target_health = describe_target_health
