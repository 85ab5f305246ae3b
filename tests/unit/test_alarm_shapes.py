"""Every alarm shape DescribeAlarms returns, read by the bake and triage without a crash,
and the sandbox's metric math for GetMetricData (moto has none).

References:
- https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html
  (MetricAlarms, CompositeAlarms only when AlarmTypes asks for them)
- https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricAlarm.html
  (Metrics = [MetricDataQuery], ThresholdMetricId for anomaly bands; no Namespace with Metrics)
- https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_CompositeAlarm.html (AlarmRule)
- https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html
"""
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from rovn_ops.ecs import cloudwatch_alarms
from rovn_ops.ecs import bake
from rovn_sandbox import cloudwatch_sim

LB = [{"Name": "LoadBalancer", "Value": "app/rovn-prod-alb/50dc6c495c0c9188"}]
RATE, BAND, COMPOSITE = "rovn-prod-alb-5xx-rate", "rovn-prod-latency-band", "rovn-prod-service-unhealthy"


def _stat(metric: str, stat: str = "Sum") -> dict:
    return {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": metric, "Dimensions": LB},
            "Period": 300, "Stat": stat}


@pytest.fixture
def cw(request, in_process):
    # in_process: moto in this process, never the session's sandbox server (whose CloudWatch
    # evaluates its alarms on its own clock and would race the states set here).
    # moto keeps datapoints across mock_aws contexts: each test its own load balancer
    LB[0] = {"Name": "LoadBalancer", "Value": f"app/rovn-prod-alb/{request.node.name}"}
    cloudwatch_sim.install()
    with mock_aws():
        c = boto3.client("cloudwatch", region_name="us-east-2")
        c.put_metric_alarm(  # the real §5 5xx alarm: a rate, metric math
            AlarmName=RATE, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
            Metrics=[{"Id": "m1", "MetricStat": _stat("HTTPCode_Target_5XX_Count"), "ReturnData": False},
                     {"Id": "m2", "MetricStat": _stat("RequestCount"), "ReturnData": False},
                     {"Id": "e1", "Expression": "100*m1/m2", "Label": "5xx %", "ReturnData": True}])
        c.put_metric_alarm(
            AlarmName=BAND, EvaluationPeriods=1, ComparisonOperator="GreaterThanUpperThreshold",
            ThresholdMetricId="ad1",
            Metrics=[{"Id": "m1", "MetricStat": _stat("TargetResponseTime", "Average"), "ReturnData": True},
                     {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 2)", "ReturnData": True}])
        c.put_composite_alarm(AlarmName=COMPOSITE, AlarmRule=f'ALARM("{RATE}") OR ALARM("{BAND}")')
        for name in (RATE, BAND):
            c.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="quiet")
        yield c


def _traffic(cw, errors: float, requests: float, at: datetime) -> None:
    cw.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=[
        {"MetricName": "HTTPCode_Target_5XX_Count", "Value": errors, "Dimensions": LB, "Timestamp": at},
        {"MetricName": "RequestCount", "Value": requests, "Dimensions": LB, "Timestamp": at}])


def _judged(cw, name: str, before_errors: float, after_errors: float | None) -> bake.Alarm:
    now = datetime.now(timezone.utc)
    _traffic(cw, before_errors, 1000, now - timedelta(seconds=120))
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="5xx high")
    alarms = bake.before(cw, [name], now)
    if after_errors is not None:
        _traffic(cw, after_errors, 1000, now + timedelta(seconds=1))
    [a] = bake.watch(cw, alarms, 0, 0, now, say=lambda _: None)
    return a


def test_every_shape_is_read_and_named(cw):
    found = {a.name: a for a in cloudwatch_alarms.describe(cw, [RATE, BAND, COMPOSITE])}
    assert found[RATE].kind == cloudwatch_alarms.MATH and found[RATE].namespaces == ["AWS/ApplicationELB"]
    assert found[RATE].math == ("m1 = Sum(HTTPCode_Target_5XX_Count, 300s); m2 = Sum(RequestCount, 300s); "
                                "e1 = 100*m1/m2")
    assert found[BAND].kind == cloudwatch_alarms.ANOMALY and found[BAND].returned["Id"] == "m1"
    assert found[COMPOSITE].kind == cloudwatch_alarms.COMPOSITE and "OR" in found[COMPOSITE].math
    unknown = cloudwatch_alarms.read({"MetricAlarms": [{"AlarmName": "x", "StateValue": "ALARM"}]})[0]
    assert unknown.kind == cloudwatch_alarms.UNKNOWN and cloudwatch_alarms.evaluate(cw, unknown, *_window()) is None


def _window():
    now = datetime.now(timezone.utc)
    return now - timedelta(minutes=5), now


def test_the_metric_math_alarm_is_measured_by_its_expression(cw):
    # On main this raised KeyError: 'Namespace' (the preview crashed).
    [a] = bake.states(cw, [RATE])
    assert (a.shape, a.state) == ("metric math", "OK")
    assert _judged(cw, RATE, 400, 20).verdict == bake.RECOVERING  # 40 % -> 2 %


def test_the_metric_math_alarm_recovering_shows_the_rate_it_evaluated(cw):
    a = _judged(cw, RATE, 400, 20)
    assert (a.before, a.after) == (40.0, 2.0)
    assert "100*m1/m2" in a.line() and not bake.problems(a)


@pytest.mark.parametrize("after", [400, 800, None], ids=["same", "worse", "no-data"])
def test_the_metric_math_alarm_not_recovering_fails(cw, after):
    a = _judged(cw, RATE, 400, after)
    assert a.verdict == bake.NOT_RECOVERING and bake.problems(a), (a.before, a.after, a.note)


def test_ok_to_alarm_on_metric_math_fires(cw):
    now = datetime.now(timezone.utc)
    alarms = bake.before(cw, [RATE], now)
    cw.set_alarm_state(AlarmName=RATE, StateValue="ALARM", StateReason="Threshold Crossed: 4% > 1%")
    [a] = bake.watch(cw, alarms, 5, 0.01, now, say=lambda _: None)
    assert a.verdict == bake.FIRED and "4% > 1%" in bake.problems(a)[0]


def test_a_composite_is_judged_by_its_state(cw):
    now = datetime.now(timezone.utc)
    alarms = bake.before(cw, [COMPOSITE], now)
    cw.set_alarm_state(AlarmName=RATE, StateValue="ALARM", StateReason="5xx high")  # the sandbox evaluates the rule
    [a] = bake.watch(cw, alarms, 0, 0, now, say=lambda _: None)
    assert a.verdict == bake.FIRED and "composite: judged by its state" in a.line()
    assert a.as_dict()["shape"] == "composite" and RATE in a.as_dict()["math"]


def test_a_composite_already_firing_that_stays_in_alarm_is_not_recovering(cw):
    cw.set_alarm_state(AlarmName=RATE, StateValue="ALARM", StateReason="5xx high")
    now = datetime.now(timezone.utc)
    [a] = bake.watch(cw, bake.before(cw, [COMPOSITE], now), 0, 0, now, say=lambda _: None)
    assert a.state == "ALARM" and a.verdict == bake.NOT_RECOVERING and a.before is None


def test_an_anomaly_band_alarm_is_measured_by_its_metric_not_the_band(cw):
    now = datetime.now(timezone.utc)
    cw.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=[
        {"MetricName": "TargetResponseTime", "Value": 2.0, "Dimensions": LB, "Timestamp": now - timedelta(seconds=60)}])
    cw.set_alarm_state(AlarmName=BAND, StateValue="ALARM", StateReason="above the band")
    alarms = bake.before(cw, [BAND], now)
    cw.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=[
        {"MetricName": "TargetResponseTime", "Value": 0.2, "Dimensions": LB, "Timestamp": now + timedelta(seconds=1)}])
    [a] = bake.watch(cw, alarms, 0, 0, now, say=lambda _: None)
    assert a.shape == "anomaly detection" and (a.before, a.after) == (2.0, 0.2) and a.verdict == bake.RECOVERING


class _Unknown:
    """A CloudWatch answering a shape nobody knows yet (no Namespace, no Metrics, no AlarmRule)."""

    def __init__(self, state):
        self.state = state

    def get_paginator(self, _name):
        return self

    def paginate(self, **_):
        return [{"MetricAlarms": [{"AlarmName": "future", "StateValue": self.state, "StateReason": "?"}]}]

    def get_metric_data(self, **_):
        raise AssertionError("nothing to evaluate")


def test_an_unknown_shape_never_crashes_and_is_judged_by_its_state():
    now = datetime.now(timezone.utc)
    alarms = bake.before(_Unknown("ALARM"), ["future"], now)
    [a] = bake.watch(_Unknown("OK"), alarms, 0, 0, now, say=lambda _: None)
    assert a.verdict == bake.RECOVERED and "unknown shape: judged by its state" in a.line()
    [b] = bake.watch(_Unknown("ALARM"), bake.before(_Unknown("ALARM"), ["future"], now), 0, 0, now,
                     say=lambda _: None)
    assert b.verdict == bake.NOT_RECOVERING and bake.problems(b)


def test_the_sandbox_evaluates_metric_math_and_refuses_to_make_up_functions(cw):
    now = datetime.now(timezone.utc)
    _traffic(cw, 30, 1000, now - timedelta(seconds=90))
    _traffic(cw, 5, 0, now - timedelta(seconds=400))  # no requests: a division by zero drops the point
    out = cw.get_metric_data(StartTime=now - timedelta(minutes=10), EndTime=now, MetricDataQueries=[
        {"Id": "m1", "MetricStat": _stat("HTTPCode_Target_5XX_Count"), "ReturnData": False},
        {"Id": "m2", "MetricStat": _stat("RequestCount"), "ReturnData": False},
        {"Id": "e1", "Expression": "100*m1/m2"},
        {"Id": "b", "Expression": "ANOMALY_DETECTION_BAND(m1, 2)"}])["MetricDataResults"]
    by = {r["Id"]: r for r in out}
    assert set(by) == {"e1", "b"}  # ReturnData false is not returned
    assert by["e1"]["Values"] == [3.0] and by["e1"]["StatusCode"] == "Complete"
    assert by["b"]["StatusCode"] == "InternalError" and by["b"]["Values"] == []


def test_describe_alarms_returns_composites_only_when_asked(cw):
    assert cw.describe_alarms(AlarmNames=[COMPOSITE])["CompositeAlarms"] == []
    assert cw.describe_alarms(AlarmNames=[COMPOSITE], AlarmTypes=["CompositeAlarm"])["CompositeAlarms"]


def test_triage_kinds_a_metric_math_alarm_by_its_metrics_namespace(cw):
    from rovn_ops.triage import classify

    raw = cw.describe_alarms(AlarmNames=[RATE])["MetricAlarms"][0]
    assert "Namespace" not in raw and classify._alarm_kind(raw) == "errors"
