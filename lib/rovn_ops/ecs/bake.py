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
not the alarm's state, is what tells a recovering incident from a worsening one. The
value compared is the alarm's own: a metric alarm's statistic, a metric-math alarm's
expression (the 5xx rate, 100*(FILL(m1,0)+FILL(m3,0))/m2) evaluated by GetMetricData, an anomaly alarm's
metric. A composite alarm, or a shape this code does not know, has no value: it is
judged by its state alone and named as such (cloudwatch_alarms.py reads every shape).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from rovn_ops.ecs import cloudwatch_alarms

QUIET, RECOVERED, RECOVERING, NOT_RECOVERING, FIRED, MISSING = (
    "quiet", "recovered", "recovering", "not recovering", "fired during the bake", "missing")
FAILING = (NOT_RECOVERING, FIRED, MISSING)


@dataclass
class Alarm:
    name: str
    state: str                      # before update-service
    reason: str
    shape: str = ""                 # metric, metric math, anomaly detection, composite, unknown shape
    math: str = ""                  # what the alarm evaluates (its queries, or a composite's rule)
    before: float | None = None     # the compared value over the pre-deploy window
    after: float | None = None      # the compared value since the deployment started
    now: str = ""                   # the state at the end of the bake
    verdict: str = ""
    seen: cloudwatch_alarms.Alarm | None = field(default=None, repr=False)
    note: str = ""                  # why the value could not be measured, if it could not

    def as_dict(self) -> dict:
        return {"alarm": self.name, "shape": self.shape or None, "math": self.math or None, "before": self.state,
                "after": self.now or None, "verdict": self.verdict or None,
                "metric_before": self.before, "metric_after": self.after}

    def line(self) -> str:
        value = "" if self.before is None and self.after is None else (
            f"; {self.label} {_num(self.before)} before → {_num(self.after)} since the deploy")
        judged = f" ({self.shape}: judged by its state)" if self.shape in _STATE_ONLY else ""
        return f"{self.state} → {self.now or '?'}: {self.verdict}{judged}{value}" + (
            f"; {self.note}" if self.note else "")

    @property
    def label(self) -> str:
        q = self.seen.returned if self.seen else None
        if not q:
            return "value"
        if "Expression" in q:
            return f"{q.get('Label') or q['Id']} ({q['Expression']})"
        return q["MetricStat"]["Metric"].get("MetricName", q["Id"])


_STATE_ONLY = (cloudwatch_alarms.COMPOSITE, cloudwatch_alarms.UNKNOWN)


def _num(v: float | None) -> str:
    return "no data" if v is None else f"{v:g}"


def _describe(cloudwatch, names: list[str]) -> dict[str, cloudwatch_alarms.Alarm]:
    return {a.name: a for a in cloudwatch_alarms.describe(cloudwatch, names)}


def states(cloudwatch, names: list[str]) -> list[Alarm]:
    """Each bake alarm as it stands now, whatever its shape (missing ones get state MISSING)."""
    found = _describe(cloudwatch, names)
    out = []
    for n in names:
        a = found.get(n)
        if a is None:
            out.append(Alarm(n, MISSING, "no such alarm"))
            continue
        out.append(Alarm(n, a.state, a.reason, a.kind, a.math, seen=a))
    return out


def measure(cloudwatch, alarm: Alarm, start: datetime, end: datetime) -> float | None:
    """The alarm's compared value over [start, end] (GetMetricData evaluates its math);
    None where it has none (composite, unknown) or CloudWatch answered nothing."""
    if alarm.seen is None:
        return None
    try:
        return cloudwatch_alarms.evaluate(cloudwatch, alarm.seen, start, end)
    except Exception as e:  # noqa: BLE001 - a value we cannot read is "no data", judged by the state
        alarm.note = f"its math could not be evaluated ({type(e).__name__}: {str(e)[:120]})"
        return None


def before(cloudwatch, names: list[str], deployed_at: datetime) -> list[Alarm]:
    """Before update-service: states, and for alarms in ALARM the pre-deploy window."""
    alarms = states(cloudwatch, names)
    for a in alarms:
        if a.state == "ALARM" and a.seen is not None:
            a.before = measure(cloudwatch, a, deployed_at - timedelta(seconds=2 * a.seen.period), deployed_at)
    return alarms


def _better(alarm: Alarm) -> bool:
    if alarm.before is None or alarm.after is None or alarm.seen is None:
        return False
    lower = alarm.seen.lower_is_better
    if lower is None:
        return False  # a band that fires both ways: no direction is "better"; the state decides
    return alarm.after < alarm.before if lower else alarm.after > alarm.before


def judge(cloudwatch, alarm: Alarm, now: cloudwatch_alarms.Alarm | None, deployed_at: datetime) -> None:
    if now is None:
        alarm.now, alarm.verdict = MISSING, MISSING
        return
    alarm.now, alarm.seen = now.state, now
    if alarm.now == "ALARM":
        alarm.reason = now.reason
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
