"""CloudWatch alarm evaluation for moto, whose alarms never evaluate (issue 22, time).

Each metric alarm (one metric, or metric math over several) is evaluated from its
datapoints, as CloudWatch documents it: the alarm's value per Period (its statistic, or
its ReturnData expression evaluated by GetMetricData, cloudwatch_sim.py) over the
evaluation range ending at the instant of evaluation; the most recent EvaluationPeriods
datapoints present are compared with the Threshold by ComparisonOperator, and
DatapointsToAlarm (default EvaluationPeriods) breaching ones put it in ALARM, fewer in OK.
TreatMissingData `missing` (the default): missing periods are skipped, and an alarm whose
whole evaluation range is empty goes to INSUFFICIENT_DATA; `breaching` / `notBreaching`
fill them; `ignore` keeps the state.
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarm-evaluation

When it is evaluated is the sandbox clock's (clock.py), never a client's: CloudWatch
evaluates every alarm once a minute, so here every EVAL_S sandbox seconds, each
evaluation at the wall instant the clock passed it (`clock.wall_at`), reading the data
stamped before that instant. The server's ticker and every DescribeAlarms /
DescribeAlarmHistory catch up with the clock first, so a client polling once or ten
times sees the same states and the same transition times. A composite follows its
children (cloudwatch_sim's set_alarm_state); each transition is stamped at the
evaluation's instant.

Incident scenarios write two hours of history at once, which the agents would have
published minute by minute: `replay` runs the evaluations those minutes had, so an
incident's alarm is in ALARM since the minute its data crossed the threshold.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from rovn_sandbox import clock, moto_guard

ACCOUNT = "123456789012"
EVAL_S = 60.0      # CloudWatch evaluates each alarm once a minute
EXTRA_PERIODS = 2  # the evaluation range: CloudWatch retrieves more periods than EvaluationPeriods
_BREACH = {"GreaterThanThreshold": lambda v, t: v > t, "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
           "LessThanThreshold": lambda v, t: v < t, "LessThanOrEqualToThreshold": lambda v, t: v <= t}
_lock = threading.RLock()
_due: dict[str, float] = {}  # region -> the sandbox second of its next evaluation


def _queries(alarm) -> list[dict]:
    """The alarm as GetMetricData queries; the one whose value is compared returns data."""
    if not alarm.metric_data_queries:
        stat = alarm.statistic or alarm.extended_statistic
        return [{"Id": "m1", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": alarm.namespace, "MetricName": alarm.metric_name,
                       "Dimensions": [{"Name": d.name, "Value": d.value} for d in alarm.dimensions]},
            "Period": int(alarm.period), "Stat": stat, **({"Unit": alarm.unit} if alarm.unit else {})}}]
    out = []
    for q in alarm.metric_data_queries:
        query = {"Id": q.id, "ReturnData": str(q.return_data).lower() != "false"}
        if q.expression:
            query["Expression"] = q.expression
        else:
            s = q.metric_stat
            query["MetricStat"] = {"Metric": {"Namespace": s.metric.namespace, "MetricName": s.metric.metric_name,
                                              "Dimensions": [{"Name": d.name, "Value": d.value}
                                                             for d in s.metric.dimensions]},
                                   "Period": int(s.period), "Stat": s.stat}
        out.append(query)
    return out


def _period(alarm) -> int:
    if alarm.period:
        return int(alarm.period)
    return max(int(q.metric_stat.period) for q in alarm.metric_data_queries if q.metric_stat)


def values(backend, alarm, at: datetime) -> list[float | None]:
    """The alarm's value per period of its evaluation range, oldest first (None: missing)."""
    period, n = _period(alarm), int(alarm.evaluation_periods or 1) + EXTRA_PERIODS
    start = at - timedelta(seconds=period * n)
    found = {}
    # GetMetricData's window ends exclusive, at whole seconds: a second more keeps a datum
    # stamped in the instant's own second (a completing rollout's, stamped at its step)
    for r in backend.get_metric_data(_queries(alarm), start, at + timedelta(seconds=1)):
        for t, v in zip(r["timestamps"], r["values"]):
            found[int((t - start).total_seconds() // period)] = v
    return [found.get(i) for i in range(n)]


def evaluate(backend, alarm, at: datetime) -> tuple[str, str] | None:
    """(state, reason) as CloudWatch would set it at `at`; None to leave the alarm as it is
    (a composite, an anomaly-band comparison, treat-missing `ignore` over an empty range)."""
    if getattr(alarm, "rule", None) or alarm.comparison_operator not in _BREACH:
        return None
    points = values(backend, alarm, at.replace(tzinfo=None) if at.tzinfo else at)
    n = int(alarm.evaluation_periods or 1)
    m = int(alarm.datapoints_to_alarm or n)
    treat = alarm.treat_missing_data or "missing"
    good = bad = 0  # missing periods counted as breaching / not breaching
    if treat in ("breaching", "notBreaching"):
        recent = [p for p in points[-n:] if p is not None]
        bad, good = (n - len(recent), 0) if treat == "breaching" else (0, n - len(recent))
    else:
        recent = [p for p in points if p is not None][-n:]
        if not recent:
            if treat == "ignore":
                return None
            return "INSUFFICIENT_DATA", f"Insufficient Data: {len(points)} datapoints were unknown."
    threshold = float(alarm.threshold)
    breaching = len([p for p in recent if _BREACH[alarm.comparison_operator](p, threshold)]) + bad
    total = len(recent) + good + bad
    shown = ", ".join(f"{p:g}" for p in reversed(recent))
    word = _WORDS[alarm.comparison_operator]
    if breaching >= m:
        return "ALARM", (f"Threshold Crossed: {breaching} out of the last {total} datapoints [{shown}] were "
                         f"{word} the threshold ({threshold:g}).")
    return "OK", (f"Threshold Crossed: {total - breaching} out of the last {total} datapoints [{shown}] were "
                  f"not {word} the threshold ({threshold:g}).")


_WORDS = {"GreaterThanThreshold": "greater than", "GreaterThanOrEqualToThreshold": "greater than or equal to",
          "LessThanThreshold": "less than", "LessThanOrEqualToThreshold": "less than or equal to"}


def apply(backend, at: datetime) -> list[str]:
    """Evaluate every metric alarm at `at`; each one that changes state (and each composite
    that follows it) is stamped `at`. Returns the names that changed."""
    naive = at.astimezone(timezone.utc).replace(tzinfo=None) if at.tzinfo else at
    changed = []
    with _lock:
        for alarm in list(backend.alarms.values()):
            want = evaluate(backend, alarm, naive)
            if want is None or want[0] == alarm.state_value:
                continue
            before = {a.name: a.state_value for a in backend.alarms.values()}
            backend.set_alarm_state(alarm.name, want[1], "{}", want[0])
            for a in backend.alarms.values():
                if a.state_value != before.get(a.name):
                    a.state_updated_timestamp = naive
                    changed.append(a.name)
    return changed


def _backend(region: str):
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[ACCOUNT][region]


def tick(region: str) -> None:
    """Run every evaluation the clock has passed since the last one (at most the latest
    few after a long pause), each at its own instant."""
    with _lock:
        now = clock.now()
        due = _due.setdefault(region, now)
        if now - due > 10 * EVAL_S:  # a long stop: only the latest evaluations matter
            due = now - 10 * EVAL_S
        while due <= now:
            apply(_backend(region), clock.wall_at(due))
            due += EVAL_S
        _due[region] = due


def replay(region: str, start: datetime, end: datetime, step_s: float = 60.0) -> None:
    """The evaluations each minute from `start` to `end` had (history written at once)."""
    backend, at = _backend(region), start
    naive = start.astimezone(timezone.utc).replace(tzinfo=None)
    with _lock:
        for alarm in backend.alarms.values():  # what was evaluated without this history gives way to it
            alarm.history = [h for h in alarm.history if h[4] < naive]
            alarm.state_updated_timestamp = min(alarm.state_updated_timestamp, naive)
        while at <= end:
            apply(backend, at)
            at += timedelta(seconds=step_s)


def reset() -> None:
    with _lock:
        _due.clear()


@moto_guard.patches
def install(region: str) -> None:
    """DescribeAlarms and DescribeAlarmHistory catch up with the clock before answering."""
    from moto.cloudwatch.responses import CloudWatchResponse

    for name in ("describe_alarms", "describe_alarm_history"):
        original = getattr(CloudWatchResponse, name)

        def answer(self, original=original):
            tick(self.region)
            return original(self)

        setattr(CloudWatchResponse, name, answer)
