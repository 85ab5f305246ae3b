"""CloudWatch for moto where triage needs more than moto does.

- Percentile statistics (`p95`): moto answers nothing for them in GetMetricData and
  ignores ExtendedStatistics. Here a `pNN` stat is the nearest-rank percentile of the
  period's raw values (published with Values/Counts, as the ALB's latency is).
- DescribeAlarmHistory: moto keeps each alarm's state changes but has no API for
  them. Here it answers from that history, newest first, as CloudWatch does.
- GetMetricData scans every stored datum once per period and query; here each
  query's data is bucketed by period once (the same answers, linear time), so a
  24-hour window at 1-minute resolution reads in a second, not minutes.
- Metric math: moto answers an `Expression` query with no values. Here arithmetic
  expressions over the other queries' ids (`100*m1/m2`: + - * /, parentheses,
  numbers) are evaluated per timestamp, as CloudWatch does for time series: only
  timestamps every operand has, a division by zero drops the point
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html).
  `FILL(m, number)` gives every period of the request's range a value (the series'
  own, else the number): the ALB's 5xx counts are reported only when nonzero, so the
  §5 rate alarm fills them with 0 (`100*(FILL(m1,0)+FILL(m3,0))/m2`). Other functions
  (FILL's REPEAT/LINEAR, ANOMALY_DETECTION_BAND, SEARCH …) answer StatusCode
  InternalError with a message saying the sandbox does not evaluate them: never a
  made-up value.
- PutCompositeAlarm: moto routes none; its PutMetricAlarm already keeps an
  AlarmRule, so the action is routed there.
- DescribeAlarms returns CompositeAlarms only when `AlarmTypes` asks for them, and
  MetricAlarms only when it asks for those or is absent (moto returns both always;
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html).
"""
from __future__ import annotations

import json
import math
import re
from datetime import timedelta

from moto.cloudwatch.models import CloudWatchBackend, Dimension, MetricDatum, Statistics
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult

from rovn_sandbox import moto_guard

_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$", re.ASCII)


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


def _returns(query: dict) -> bool:
    value = query.get("ReturnData", True)
    return value if isinstance(value, bool) else str(value).lower() != "false"


def _install_fast_metric_data() -> None:
    original = CloudWatchBackend.get_metric_data

    def get_metric_data(self, queries, start_time, end_time, scan_by="TimestampAscending"):
        if any("MetricStat" not in q and "Expression" not in q for q in queries) or any(
                str(q.get("Expression", "")).lstrip().upper().startswith("SELECT") for q in queries):
            return original(self, queries, start_time, end_time, scan_by)  # Metrics Insights: moto's
        start, end = start_time.replace(microsecond=0), end_time.replace(microsecond=0)
        if start >= end:
            return original(self, queries, start_time, end_time, scan_by)  # moto's own errors
        data = [md for md in self.get_all_metrics() if start <= md.timestamp < end]
        by_id = {q["Id"]: _metric_stat(data, q, start, end) for q in queries if "MetricStat" in q}
        periods = [int(q["MetricStat"]["Period"]) for q in queries if "MetricStat" in q]
        grid = _grid(start, end, min(periods)) if periods else []
        for q in queries:
            if "Expression" in q:
                by_id[q["Id"]] = _expression(q, by_id, grid)
        results = [by_id[q["Id"]] for q in queries]
        if scan_by == "TimestampDescending":
            for r in results:
                r["values"].reverse()
                r["timestamps"].reverse()
        return [r for r, q in zip(results, queries) if _returns(q)]

    CloudWatchBackend.get_metric_data = get_metric_data


class _Unsupported(Exception):
    pass


def _grid(start, end, period_s: int) -> list:
    """The periods of a request's range, as _metric_stat stamps them (start + k * period)."""
    step, out, at = timedelta(seconds=period_s), [], start
    while at < end:
        out.append(at)
        at += step
    return out


def _expression(query: dict, by_id: dict, grid: list = ()) -> dict:
    """An arithmetic metric-math expression over earlier queries, per timestamp (`grid`:
    the request's periods, which FILL gives a value)."""
    import ast

    out = {"id": query["Id"], "label": query.get("Label") or query["Id"], "values": [], "timestamps": [],
           "status_code": "Complete"}
    try:
        tree = ast.parse(query["Expression"], mode="eval").body
        series = _eval(tree, by_id, list(grid))
    except (_Unsupported, SyntaxError) as e:
        out["status_code"] = "InternalError"
        out["messages"] = [{"Code": "Unsupported", "Value": f"the sandbox evaluates + - * / and FILL(m, number) "
                                                            f"over query ids only: {e}"}]
        return out
    if not isinstance(series, dict):  # a constant: CloudWatch returns no time series for it here
        return out
    for at in sorted(series):
        value = series[at]
        if value is not None and math.isfinite(value):
            out["timestamps"].append(at)
            out["values"].append(value)
    return out


def _eval(node, by_id: dict, grid: list):
    import ast
    import operator

    ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in by_id:
            raise _Unsupported(f"unknown id {node.id}")
        r = by_id[node.id]
        return dict(zip(r["timestamps"], r["values"]))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = _eval(node.operand, by_id, grid)
        return {t: -x for t, x in v.items()} if isinstance(v, dict) else -v
    if isinstance(node, ast.BinOp) and type(node.op) in ops:
        return _combine(ops[type(node.op)], _eval(node.left, by_id, grid), _eval(node.right, by_id, grid))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "FILL" \
            and len(node.args) == 2 and not node.keywords:
        return _fill(_eval(node.args[0], by_id, grid), _eval(node.args[1], by_id, grid), grid)
    raise _Unsupported(f"{ast.unparse(node)} is not arithmetic over query ids")


def _fill(series, value, grid: list) -> dict:
    """FILL(series, number): the series' value in each period of the range, else the number."""
    if not isinstance(series, dict) or isinstance(value, dict):
        raise _Unsupported("FILL takes a time series and a number")
    return {at: series[at] if series.get(at) is not None else value for at in grid} | series


def _combine(op, a, b):
    def apply(x, y):
        try:
            return op(x, y)
        except ZeroDivisionError:
            return None

    if isinstance(a, dict) and isinstance(b, dict):
        return {t: apply(a[t], b[t]) for t in a.keys() & b.keys() if a[t] is not None and b[t] is not None}
    if isinstance(a, dict):
        return {t: apply(x, b) for t, x in a.items() if x is not None}
    if isinstance(b, dict):
        return {t: apply(a, y) for t, y in b.items() if y is not None}
    return apply(a, b)


def _install_alarm_types() -> None:
    original = CloudWatchResponse.describe_alarms

    def describe_alarms(self) -> ActionResult:
        result = original(self)
        wanted = self._get_param("AlarmTypes") or ["MetricAlarm"]
        body = result.result if hasattr(result, "result") else None
        if isinstance(body, dict):
            if "CompositeAlarm" not in wanted:
                body["CompositeAlarms"] = []
            if "MetricAlarm" not in wanted:
                body["MetricAlarms"] = []
        return result

    CloudWatchResponse.describe_alarms = describe_alarms
    CloudWatchResponse.put_composite_alarm = CloudWatchResponse.put_metric_alarm


_RULE_TOKEN = re.compile(r'\s*(?:(ALARM|OK|INSUFFICIENT_DATA)\(\s*"?([^")]+?)"?\s*\)|(AND|OR|NOT|TRUE|FALSE)\b|([()]))', re.ASCII)


def rule_holds(rule: str, states: dict[str, str]) -> bool | None:
    """A composite's AlarmRule over the other alarms' states (ALARM/OK/INSUFFICIENT_DATA
    of a name, AND, OR, NOT, TRUE, FALSE, parentheses); None if it does not parse.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html"""
    import ast

    words, at = [], 0
    while at < len(rule.rstrip()):
        m = _RULE_TOKEN.match(rule, at)
        if not m:
            return None
        state, name, word, paren = m.groups()
        if state:
            words.append(str(states.get(name.split(":alarm:")[-1]) == state))
        elif word:
            words.append({"AND": "and", "OR": "or", "NOT": "not", "TRUE": "True", "FALSE": "False"}[word])
        else:
            words.append(paren)
        at = m.end()
    try:
        tree = ast.parse(" ".join(words), mode="eval").body
    except SyntaxError:
        return None
    return _truth(tree)


def _truth(node) -> bool:
    import ast

    if isinstance(node, ast.Constant):
        return bool(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _truth(node.operand)
    if isinstance(node, ast.BoolOp):
        values = [_truth(v) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    raise ValueError(ast.dump(node))


def _install_composite_evaluation() -> None:
    """moto never evaluates a composite: here each state change re-evaluates every
    composite's rule, as CloudWatch does when a child alarm changes state."""
    original = CloudWatchBackend.set_alarm_state

    def set_alarm_state(self, alarm_name, reason, reason_data, state_value):
        original(self, alarm_name, reason, reason_data, state_value)
        for _ in range(3):  # composites of composites settle in a few passes
            states = {a.name: a.state_value for a in self.alarms.values()}
            changed = False
            for a in list(self.alarms.values()):
                holds = rule_holds(a.rule, states) if getattr(a, "rule", None) else None
                want = None if holds is None else ("ALARM" if holds else "OK")
                if want and want != a.state_value:
                    original(self, a.name, f"Sandbox: the rule {a.rule} is {'true' if holds else 'false'}",
                             "{}", want)
                    changed = True
            if not changed:
                break

    CloudWatchBackend.set_alarm_state = set_alarm_state


def _history_item(alarm, before: tuple, after: tuple) -> dict:
    old_state, new_state, reason, when = before[3], after[0], after[1], _dt(after[2])
    return {"AlarmName": alarm.name, "AlarmType": "CompositeAlarm" if getattr(alarm, "rule", None) else "MetricAlarm",
            "Timestamp": when,
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


_installed = []


@moto_guard.patches
def install() -> None:
    if _installed:  # once per process: each patch wraps moto's own method
        return
    _installed.append(True)
    _install_percentiles()
    _install_fast_metric_data()
    _install_alarm_history()
    _install_alarm_types()
    _install_composite_evaluation()


__all__ = ["install", "percentile", "alarm_history", "MetricDatum"]
