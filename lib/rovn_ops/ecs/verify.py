"""Verify the world after the rollout, not the API's answer: /health serves the new
tag, running equals desired, and through the bake period the alarms do not fire, and
those already firing recover (bake.py; CloudWatch → PagerDuty's own signals, §5)."""
from __future__ import annotations

import json

from rovn_ops.core.polling import Poller
from rovn_ops.ecs import bake
from rovn_ops.protocol.checks import Checks


def health_version(url: str, timeout: float = 5.0) -> tuple[int, str | None]:
    import urllib3

    try:
        resp = urllib3.request("GET", url, timeout=timeout, retries=False)
    except urllib3.exceptions.HTTPError as e:
        return 0, f"unreachable ({type(e).__name__})"
    try:
        return resp.status, json.loads(resp.data).get("version")
    except (ValueError, AttributeError):
        return resp.status, None


def health_wait(deadline_s: float, longest: float) -> float:
    """How long /health may take to report the new tag after the rollout, while the old
    tasks drain: four of the longest polls, at least 30 s, never past the run's deadline."""
    return min(deadline_s, max(30.0, longest * 4))


def health(url: str, tag: str, *, deadline_s: float, first: float, longest: float) -> list[str]:
    """/health answers 200 with the new tag (waiting while the old tasks drain)."""
    if not url:
        return ["no health_url: the service's /health cannot be checked"]
    status, version = 0, None
    for _ in Poller(deadline_s, first, longest):
        status, version = health_version(url)
        if status == 200 and version == tag:
            return []
    return [f"{url} answered {status or 'nothing'} with version {version!r}, expected {tag!r}"]


def running(service: dict) -> list[str]:
    if service["runningCount"] != service["desiredCount"] or len(service["deployments"]) != 1:
        return [f"running {service['runningCount']} of {service['desiredCount']} desired, "
                f"{len(service['deployments'])} deployment(s)"]
    return []


def world(*, health_url: str, tag: str, service: dict, cloudwatch, alarms: list[bake.Alarm], deployed_at,
          bake_s: float, deadline_s: float, first: float, longest: float, say=print) -> Checks:
    checks = Checks()
    checks.add("/health reports the new tag", health(health_url, tag, deadline_s=health_wait(deadline_s, longest),
                                                     first=first, longest=longest), f"{health_url}: {tag}")
    checks.add("running = desired", running(service),
               f"{service['runningCount']}/{service['desiredCount']} running, one deployment")
    if not alarms:
        checks.add("bake alarms", "no bake_alarms given: nothing to watch")
        return checks
    say(f"  bake: watching {', '.join(a.name for a in alarms)} for {bake_s:.0f}s")
    for a in bake.watch(cloudwatch, alarms, bake_s, longest, deployed_at, say):
        checks.add(f"bake {bake_s:.0f}s: {a.name}", bake.problems(a), a.line(), "§5")
    return checks
