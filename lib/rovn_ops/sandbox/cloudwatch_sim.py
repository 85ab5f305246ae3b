"""CloudWatch for moto where triage needs more than moto does.

- Percentile statistics (`p95`): moto answers nothing for them in GetMetricData and
  ignores ExtendedStatistics. Here a `pNN` stat is the nearest-rank percentile of the
  period's raw values (published with Values/Counts, as the ALB's latency is).
- DescribeAlarmHistory: moto keeps each alarm's state changes but has no API for
  them. Here it answers from that history, newest first, as CloudWatch does.
- GetMetricData scans every stored datum once per period and query; here each
  query's data is bucketed by period once (the same answers, linear time), so a
  24-hour window at 1-minute resolution reads in a second, not minutes.
"""
from __future__ import annotations

import json
import math
import re
from datetime import timedelta

from moto.cloudwatch.models import CloudWatchBackend, Dimension, MetricDatum, Statistics
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult

_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest rank, as CloudWatch describes its percentiles."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def _install_percentiles() -> None:
    original = Statistics.get_statistics_for_type

    def get_statistics_for_type(self, stat: str):
        m = _PERCENTILE.match(stat)
        if m:
            return percentile(self.metric_single_values_list, float(m.group(1)))
        return original(self, stat)

    Statistics.get_statistics_for_type = get_statistics_for_type


def _matches(md, namespace: str, name: str, dimensions: list, unit: str | None) -> bool:
    if md.name != name or (unit and md.unit != unit):
        return False
    if dimensions:
        return sorted(md.dimensions) == sorted(dimensions)
    return md.namespace == namespace


def _metric_stat(data: list, query: dict, start, end) -> dict:
    stat_spec = query["MetricStat"]
    metric, stat = stat_spec["Metric"], stat_spec["Stat"]
    period = timedelta(seconds=int(stat_spec["Period"]))
    dimensions = [Dimension(name=d["Name"], value=d["Value"]) for d in metric.get("Dimensions", [])]
    buckets: dict[int, list] = {}
    for md in data:
        if _matches(md, metric["Namespace"], metric["MetricName"], dimensions, stat_spec.get("Unit")):
            buckets.setdefault((md.timestamp - start) // period, []).append(md)
    timestamps, values = [], []
    for index in sorted(buckets):
        stats = Statistics([stat], start + index * period)
        stats.metric_data = buckets[index]
        timestamps.append(stats.timestamp)
        values.append(stats.get_statistics_for_type(stat))
    return {"id": query["Id"], "label": query.get("Label") or f"{metric['MetricName']} {stat}",
            "values": values, "timestamps": timestamps, "status_code": "Complete"}


def _install_fast_metric_data() -> None:
    original = CloudWatchBackend.get_metric_data

    def get_metric_data(self, queries, start_time, end_time, scan_by="TimestampAscending"):
        if any("MetricStat" not in q for q in queries):
            return original(self, queries, start_time, end_time, scan_by)
        start, end = start_time.replace(microsecond=0), end_time.replace(microsecond=0)
        if start >= end:
            return original(self, queries, start_time, end_time, scan_by)  # moto's own errors
        data = [md for md in self.get_all_metrics() if start <= md.timestamp < end]
        results = [_metric_stat(data, q, start, end) for q in queries]
        if scan_by == "TimestampDescending":
            for r in results:
                r["values"].reverse()
                r["timestamps"].reverse()
        return [r for r, q in zip(results, queries) if q.get("ReturnData", True)]

    CloudWatchBackend.get_metric_data = get_metric_data


def _history_item(alarm, before: tuple, after: tuple) -> dict:
    old_state, new_state, reason, when = before[3], after[0], after[1], _dt(after[2])
    return {"AlarmName": alarm.name, "AlarmType": "MetricAlarm", "Timestamp": when,
            "HistoryItemType": "StateUpdate", "HistorySummary": f"Alarm updated from {old_state} to {new_state}",
            "HistoryData": json.dumps({"version": "1.0", "oldState": {"stateValue": old_state},
                                       "newState": {"stateValue": new_state, "stateReason": reason}})}


def alarm_history(alarm) -> list[dict]:
    """Each recorded transition: moto's history holds the state *before* each update."""
    states = [(h[3], h[1], h[4]) for h in alarm.history] + [
        (alarm.state_value, alarm.state_reason, alarm.state_updated_timestamp)]
    items = [_history_item(alarm, (None, None, None, prev[0]), cur) for prev, cur in zip(states, states[1:])
             if prev[0] != cur[0]]
    return sorted(items, key=lambda i: i["Timestamp"], reverse=True)


def _install_alarm_history() -> None:
    def describe_alarm_history(self) -> ActionResult:
        name = self._get_param("AlarmName")
        kind = self._get_param("HistoryItemType")
        start, end = self._get_param("StartDate"), self._get_param("EndDate")
        items = []
        for alarm in self.cloudwatch_backend.alarms.values():
            if name and alarm.name != name:
                continue
            items += alarm_history(alarm)
        items = [i for i in items if (not kind or i["HistoryItemType"] == kind)
                 and (not start or i["Timestamp"] >= _dt(start)) and (not end or i["Timestamp"] <= _dt(end))]
        items.sort(key=lambda i: i["Timestamp"], reverse=self._get_param("ScanBy") != "TimestampAscending")
        return ActionResult({"AlarmHistoryItems": items[: int(self._get_param("MaxRecords") or 100)]})

    CloudWatchResponse.describe_alarm_history = describe_alarm_history


def _dt(value):
    from datetime import datetime, timezone

    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def install() -> None:
    _install_percentiles()
    _install_fast_metric_data()
    _install_alarm_history()


__all__ = ["install", "percentile", "alarm_history", "MetricDatum"]
