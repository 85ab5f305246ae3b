"""Verify the world after the rollout, not the API's answer: /health serves the new
tag, running equals desired, and through the bake period the alarms stay out of
ALARM (CloudWatch → PagerDuty's own signals, §5)."""
from __future__ import annotations

import json
import time

from ..polling import Poller
from .checks import Checks


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


BAKE_HEARTBEAT_S = 15.0  # a line at least this often: a 5-minute bake is not 5 silent minutes in CI


def bake(cloudwatch, alarms: list[str], seconds: float, pause: float, say=print,
         heartbeat_s: float = BAKE_HEARTBEAT_S) -> list[str]:
    """Watch the alarms for `seconds`; any in ALARM (or missing) fails."""
    if not alarms:
        return ["no bake_alarms given: nothing to watch"]
    start = told = time.monotonic()
    end = start + seconds
    while True:
        found = {a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNames=alarms)["MetricAlarms"]}
        problems = [f"alarm {n} does not exist" for n in alarms if n not in found]
        problems += [f"alarm {n} is in ALARM: {a.get('StateReason', '')}" for n, a in found.items()
                     if a["StateValue"] == "ALARM"]
        now = time.monotonic()
        if problems or now >= end:
            return problems
        if now - told >= heartbeat_s:
            say(f"  bake {now - start:4.0f}s of {seconds:.0f}s: {len(found)} alarm(s) out of ALARM")
            told = now
        time.sleep(min(pause, heartbeat_s, max(0.0, end - now)))


def world(*, health_url: str, tag: str, service: dict, cloudwatch, alarms: list[str], bake_s: float,
          first: float, longest: float, say=print) -> Checks:
    checks = Checks()
    checks.add("/health reports the new tag", health(health_url, tag, deadline_s=max(30.0, longest * 4),
                                                     first=first, longest=longest), f"{health_url}: {tag}")
    checks.add("running = desired", running(service),
               f"{service['runningCount']}/{service['desiredCount']} running, one deployment")
    say(f"  bake: watching {', '.join(alarms)} for {bake_s:.0f}s")
    checks.add(f"alarms out of ALARM for {bake_s:.0f}s", bake(cloudwatch, alarms, bake_s, longest, say),
               ", ".join(alarms))
    return checks
