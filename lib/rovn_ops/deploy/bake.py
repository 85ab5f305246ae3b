"""The bake: the alarms after the rollout, judged against where they stood before it.

A hotfix often ships while an alarm is already firing, so "any alarm in ALARM fails"
would roll the fix back. Instead, each bake alarm's state is recorded before
update-service (`before`), and during the bake:

- an alarm that was OK (or had no data) and goes to ALARM fails the deploy at once;
- an alarm already in ALARM must not get worse: its metric since the deployment
  started is compared with the pre-deploy window (the alarm's last two periods
  before it) in the alarm's own direction. Lower (for a GreaterThan alarm) is
  "recovering" and passes; the same or worse, or no data, is "not recovering" and fails;
- an alarm that leaves ALARM during the bake has recovered.

CloudWatch alarms evaluate on their period, longer than a sandbox bake, so the metric,
not the alarm's state, is what tells a recovering incident from a worsening one.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

QUIET, RECOVERED, RECOVERING, NOT_RECOVERING, FIRED, MISSING = (
    "quiet", "recovered", "recovering", "not recovering", "fired during the bake", "missing")
FAILING = (NOT_RECOVERING, FIRED, MISSING)


@dataclass
class Alarm:
    name: str
    state: str                      # before update-service
    reason: str
    metric: dict                    # namespace, name, dimensions, statistic, period, comparison
    before: float | None = None     # the metric over the pre-deploy window
    after: float | None = None      # the metric since the deployment started
    now: str = ""                   # the state at the end of the bake
    verdict: str = ""

    def as_dict(self) -> dict:
        return {"alarm": self.name, "before": self.state, "after": self.now or None, "verdict": self.verdict or None,
                "metric_before": self.before, "metric_after": self.after}

    def line(self) -> str:
        metric = "" if self.before is None and self.after is None else (
            f"; {self.metric['name']} {_num(self.before)} before → {_num(self.after)} since the deploy")
        return f"{self.state} → {self.now or '?'}: {self.verdict}{metric}"


def _num(v: float | None) -> str:
    return "no data" if v is None else f"{v:g}"


def _describe(cloudwatch, names: list[str]) -> dict[str, dict]:
    return {a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]} if names else {}


def states(cloudwatch, names: list[str]) -> list[Alarm]:
    """Each bake alarm as it stands now (missing ones get state MISSING)."""
    found = _describe(cloudwatch, names)
    out = []
    for n in names:
        a = found.get(n)
        if a is None:
            out.append(Alarm(n, MISSING, "no such alarm", {}))
            continue
        metric = {"namespace": a["Namespace"], "name": a["MetricName"], "dimensions": a.get("Dimensions", []),
                  "statistic": a.get("Statistic", "Average"), "period": int(a.get("Period", 60)),
                  "comparison": a["ComparisonOperator"]}
        out.append(Alarm(n, a["StateValue"], a.get("StateReason", ""), metric))
    return out


def measure(cloudwatch, alarm: Alarm, start: datetime, end: datetime) -> float | None:
    """The alarm's statistic over [start, end], one datapoint."""
    m = alarm.metric
    end = max(end, start + timedelta(seconds=60))  # CloudWatch's finest period; no data lies in the future
    seconds = int((end - start).total_seconds() + 59) // 60 * 60
    points = cloudwatch.get_metric_statistics(
        Namespace=m["namespace"], MetricName=m["name"], Dimensions=m["dimensions"], StartTime=start,
        EndTime=end, Period=seconds, Statistics=[m["statistic"]])["Datapoints"]
    values = [p[m["statistic"]] for p in points]
    return sum(values) / len(values) if values else None


def before(cloudwatch, names: list[str], deployed_at: datetime) -> list[Alarm]:
    """Before update-service: states, and for alarms in ALARM the pre-deploy window."""
    alarms = states(cloudwatch, names)
    for a in alarms:
        if a.state == "ALARM":
            a.before = measure(cloudwatch, a, deployed_at - timedelta(seconds=2 * a.metric["period"]), deployed_at)
    return alarms


def _better(alarm: Alarm) -> bool:
    if alarm.before is None or alarm.after is None:
        return False
    lower_is_better = alarm.metric["comparison"].startswith("Greater")
    return alarm.after < alarm.before if lower_is_better else alarm.after > alarm.before


def judge(cloudwatch, alarm: Alarm, now: dict | None, deployed_at: datetime) -> None:
    if now is None:
        alarm.now, alarm.verdict = MISSING, MISSING
        return
    alarm.now = now["StateValue"]
    if alarm.now == "ALARM":
        alarm.reason = now.get("StateReason", "")
    if alarm.now != "ALARM":
        alarm.verdict = RECOVERED if alarm.state == "ALARM" else QUIET
    elif alarm.state != "ALARM":
        alarm.verdict = FIRED
    else:
        alarm.after = measure(cloudwatch, alarm, deployed_at, datetime.now(timezone.utc))
        alarm.verdict = RECOVERING if _better(alarm) else NOT_RECOVERING


def watch(cloudwatch, alarms: list[Alarm], seconds: float, pause: float, deployed_at: datetime,
          say=print) -> list[Alarm]:
    """Poll for `seconds`; an alarm that fires ends the bake at once. Returns the alarms, judged."""
    end = time.monotonic() + seconds
    names = [a.name for a in alarms]
    while True:
        found = _describe(cloudwatch, names)
        for a in alarms:
            judge(cloudwatch, a, found.get(a.name), deployed_at)
        if any(a.verdict in (FIRED, MISSING) for a in alarms) or time.monotonic() >= end:
            for a in alarms:
                say(f"  bake: {a.name}: {a.line()}")
            return alarms
        time.sleep(min(pause, max(0.0, end - time.monotonic())))


def problems(alarm: Alarm) -> list[str]:
    if alarm.verdict not in FAILING:
        return []
    return [f"alarm {alarm.name} {alarm.verdict}: {alarm.line()}" + (f" ({alarm.reason})" if alarm.reason else "")]
