"""CloudWatch alarms as DescribeAlarms returns them, every shape: read by the deploy's
bake, triage and service_status alike.

DescribeAlarms answers two lists (https://docs.aws.amazon.com/AmazonCloudWatch/latest/
APIReference/API_DescribeAlarms.html): `MetricAlarms` and, only when `AlarmTypes` asks
for them, `CompositeAlarms`. A MetricAlarm is one of
- a plain metric alarm: Namespace, MetricName, Dimensions, Statistic, Period at the top;
- a metric-math alarm: no Namespace at the top, `Metrics` = [MetricDataQuery], each a
  `MetricStat` (Metric, Period, Stat) or an `Expression` over the others' ids, one with
  ReturnData true (the value the threshold is compared with), e.g. the 5xx rate
  `e1 = 100*m1/m2`;
- an anomaly-detection alarm: `Metrics` with an `ANOMALY_DETECTION_BAND(...)` expression
  named by `ThresholdMetricId` and a `...UpperThreshold`/`LowerThreshold` comparison.
A CompositeAlarm has an `AlarmRule` over other alarms' states and no metric at all.
Anything else (a shape AWS adds later) is "unknown": judged by StateValue, never a crash.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

METRIC, MATH, ANOMALY, COMPOSITE, UNKNOWN = "metric", "metric math", "anomaly detection", "composite", "unknown shape"
BOTH = ["CompositeAlarm", "MetricAlarm"]


@dataclass
class Alarm:
    name: str
    kind: str                 # METRIC, MATH, ANOMALY, COMPOSITE or UNKNOWN
    state: str
    reason: str = ""
    updated: datetime | None = None
    description: str = ""
    comparison: str = ""
    threshold: float | None = None
    queries: list[dict] = field(default_factory=list)   # MetricDataQuery list (a plain alarm's, built)
    rule: str = ""            # a composite's AlarmRule
    raw: dict = field(default_factory=dict)

    @property
    def namespaces(self) -> list[str]:
        return sorted({q["MetricStat"]["Metric"].get("Namespace", "") for q in self.queries if "MetricStat" in q})

    @property
    def period(self) -> int:
        periods = [int(q["MetricStat"].get("Period") or 60) for q in self.queries if "MetricStat" in q]
        return max(periods, default=60)

    @property
    def returned(self) -> dict | None:
        """The query whose value the alarm compares (ReturnData true; not the band)."""
        band = self.raw.get("ThresholdMetricId")
        out = [q for q in self.queries if q.get("ReturnData", True) and q.get("Id") != band]
        return out[0] if out else None

    @property
    def math(self) -> str:
        """What the alarm evaluates, in one line: `e1 = 100*m1/m2; m1 = Sum(AWS/…/HTTPCode_…)`."""
        if self.kind == COMPOSITE:
            return self.rule
        parts = []
        for q in self.queries:
            if "Expression" in q:
                parts.append(f"{q['Id']} = {q['Expression']}")
            elif "MetricStat" in q:
                s = q["MetricStat"]
                parts.append(f"{q['Id']} = {s.get('Stat')}({s['Metric'].get('MetricName')}, {s.get('Period')}s)")
        return "; ".join(parts)

    @property
    def lower_is_better(self) -> bool | None:
        """Which way the watched value recovers; None when either way can fire (a band both ways)."""
        c = self.comparison
        if c.startswith("LessThanLowerOrGreater"):
            return None
        if c.startswith("Greater"):
            return True
        if c.startswith("LessThan"):
            return False
        return None


def from_metric_alarm(a: dict) -> Alarm:
    base = dict(name=a.get("AlarmName", "?"), state=a.get("StateValue", "?"), reason=a.get("StateReason", ""),
                updated=a.get("StateUpdatedTimestamp"), description=a.get("AlarmDescription", ""),
                comparison=a.get("ComparisonOperator", ""), threshold=a.get("Threshold"), raw=a)
    if a.get("Metrics"):
        kind = ANOMALY if a.get("ThresholdMetricId") or any(
            "ANOMALY_DETECTION_BAND" in (q.get("Expression") or "") for q in a["Metrics"]) else MATH
        return Alarm(kind=kind, queries=list(a["Metrics"]), **base)
    if a.get("Namespace") and a.get("MetricName") and (a.get("Statistic") or a.get("ExtendedStatistic")):
        stat = a.get("Statistic") or a.get("ExtendedStatistic")
        query = {"Id": "m1", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": a["Namespace"], "MetricName": a["MetricName"],
                       "Dimensions": a.get("Dimensions", [])},
            "Period": int(a.get("Period") or 60), "Stat": stat}}
        return Alarm(kind=METRIC, queries=[query], **base)
    return Alarm(kind=UNKNOWN, **base)


def from_composite_alarm(a: dict) -> Alarm:
    return Alarm(a.get("AlarmName", "?"), COMPOSITE, a.get("StateValue", "?"), a.get("StateReason", ""),
                 a.get("StateUpdatedTimestamp"), a.get("AlarmDescription", ""), rule=a.get("AlarmRule", ""), raw=a)


def of(raw: dict) -> Alarm:
    """One alarm as DescribeAlarms returned it, from either list."""
    return from_composite_alarm(raw) if "AlarmRule" in raw else from_metric_alarm(raw)


def shape(raw: dict) -> str:
    return of(raw).kind


def read(answer: dict) -> list[Alarm]:
    """Every alarm of one DescribeAlarms page, whatever its shape."""
    return ([from_metric_alarm(a) for a in answer.get("MetricAlarms") or []]
            + [from_composite_alarm(a) for a in answer.get("CompositeAlarms") or []])


def describe(cloudwatch, names: list[str] | None = None, prefix: str = "") -> list[Alarm]:
    """The named alarms (or those under a prefix), metric and composite, all pages."""
    if names is not None and not names:
        return []
    kwargs = {"AlarmTypes": BOTH, **({"AlarmNames": names} if names is not None else {"AlarmNamePrefix": prefix})}
    pages = cloudwatch.get_paginator("describe_alarms").paginate(**kwargs)
    return [a for page in pages for a in read(page)]


def evaluate(cloudwatch, alarm: Alarm, start: datetime, end: datetime) -> float | None:
    """The alarm's compared value over [start, end] as one datapoint, through
    GetMetricData (metric math evaluated by CloudWatch): every MetricStat's period
    widened to the window. None for a composite, an unknown shape, or no data."""
    target = alarm.returned
    if alarm.kind in (COMPOSITE, UNKNOWN) or target is None:
        return None
    end = max(end, start + timedelta(seconds=60))  # CloudWatch's finest period; no data lies in the future
    seconds = int((end - start).total_seconds() + 59) // 60 * 60
    band = alarm.raw.get("ThresholdMetricId")
    queries = []
    for q in alarm.queries:
        if q.get("Id") == band:
            continue  # the band is CloudWatch's model, not a value to compare
        q = {k: v for k, v in q.items() if k in ("Id", "Expression", "MetricStat", "Label")}
        if "MetricStat" in q:
            q["MetricStat"] = {**q["MetricStat"], "Period": seconds}
        q["ReturnData"] = q["Id"] == target["Id"]
        queries.append(q)
    results = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end)["MetricDataResults"]
    values = [v for r in results if r["Id"] == target["Id"] for v in r.get("Values", [])]
    return sum(values) / len(values) if values else None
