"""The sandbox's CloudWatch evaluates its alarms from their datapoints, on the sandbox's
clock (sandbox/alarm_eval.py): the state follows from the data and the alarm's Period,
EvaluationPeriods, Threshold and TreatMissingData, and how often a client polls changes
nothing (issue 22, time). On main before it, moto never evaluated: every alarm stayed OK
whatever its data said, and scenarios set the states themselves.
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarm-evaluation
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from rovn_sandbox import control

RATE, CPU, TASKS = "rovn-prod-alb-5xx-rate", "rovn-prod-rds-cpu-high", "rovn-prod-ecs-running-below-desired"
ALB = [{"Name": "LoadBalancer", "Value": "app/rovn-prod-alb/50dc6c495c0c9188"}]


@pytest.fixture
def fresh(fresh):
    control.clock(fresh, paused=True)  # evaluations happen only when the test moves the clock
    return fresh


def _alb(cw, share: float, minutes: range) -> None:
    """The ALB's requests and target 5xx, one datum a minute, `minutes` ago."""
    now = datetime.now(timezone.utc)
    data = []
    for m in minutes:
        at = now - timedelta(minutes=m, seconds=10)
        data += [{"MetricName": "RequestCount", "Dimensions": ALB, "Timestamp": at, "Value": 1000, "Unit": "Count"},
                 {"MetricName": "HTTPCode_Target_5XX_Count", "Dimensions": ALB, "Timestamp": at,
                  "Value": 1000 * share, "Unit": "Count"}]
    cw.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=data)


def _state(cw, name: str) -> dict:
    return cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def _minute(sandbox) -> None:
    control.clock(sandbox, advance_s=60)  # one of CloudWatch's evaluations


def test_no_data_is_insufficient_data_and_data_decides_the_state(fresh, aws):
    cw = aws("cloudwatch")
    _minute(fresh)
    assert _state(cw, RATE)["StateValue"] == "INSUFFICIENT_DATA"  # missing: the whole range is empty
    _alb(cw, 0.001, range(5))
    _minute(fresh)
    assert _state(cw, RATE)["StateValue"] == "OK"
    _alb(cw, 0.40, range(2))  # 40% in two of the five minutes: 100*m1/m2 over 5 minutes is ~16%
    _minute(fresh)
    alarm = _state(cw, RATE)
    assert alarm["StateValue"] == "ALARM" and "greater than the threshold (1)" in alarm["StateReason"]
    composite = cw.describe_alarms(AlarmNames=["rovn-prod-service-unhealthy"],
                                   AlarmTypes=["CompositeAlarm"])["CompositeAlarms"][0]
    assert composite["StateValue"] == "ALARM"  # its rule follows the child


def test_a_sustained_alarm_needs_all_its_evaluation_periods(fresh, aws):
    """RDS CPU > 85% for 3 periods of 5 minutes: 10 minutes of 95% is not enough, 15 is."""
    cw = aws("cloudwatch")
    rds = [{"Name": "DBInstanceIdentifier", "Value": "rovn-prod-db"}]
    now = datetime.now(timezone.utc)

    def cpu(minutes: range, value: float) -> None:
        cw.put_metric_data(Namespace="AWS/RDS", MetricData=[
            {"MetricName": "CPUUtilization", "Dimensions": rds, "Timestamp": now - timedelta(minutes=m, seconds=10),
             "Value": value, "Unit": "Percent"} for m in minutes])

    cpu(range(15, 25), 30.0)
    cpu(range(10), 95.0)
    _minute(fresh)
    assert _state(cw, CPU)["StateValue"] == "OK"
    cpu(range(10, 15), 95.0)
    _minute(fresh)
    assert _state(cw, CPU)["StateValue"] == "ALARM"


def _run(sandbox, aws, polls_per_minute: int) -> list:
    cw = aws("cloudwatch")
    control.clock(sandbox, advance_s=60)
    _state(cw, RATE)  # every evaluation due so far has run (on no data) before the data arrive
    _alb(cw, 0.001, range(5))
    seen = []
    for minute, share in enumerate([0.001, 0.40, 0.40, 0.001]):
        _alb(cw, share, range(1)) if minute else None  # this minute's datum, then the minute passes
        control.clock(sandbox, advance_s=60)
        for _ in range(polls_per_minute):
            alarm = _state(cw, RATE)
            seen.append((minute, alarm["StateValue"]))
    alarm = _state(cw, RATE)
    history = cw.describe_alarm_history(AlarmName=RATE, HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    return [alarm["StateValue"], [h["HistorySummary"] for h in history], sorted(set(seen))]


def test_polling_once_or_ten_times_a_minute_gives_the_same_states(fresh, aws):
    once = _run(fresh, aws, 1)
    control.reset(fresh)
    control.clock(fresh, paused=True)
    ten = _run(fresh, aws, 10)
    assert once == ten and once[0] == "ALARM", (once, ten)


def test_the_tasks_crashing_incident_alarms_from_its_own_data(fresh, aws):
    """The running-tasks alarm (running - desired < 0, 1 of 1 minute) is in ALARM because the
    scenario's Container Insights data say 0 of 3 since minute -6, not because it was set;
    its transition is the minute the data crossed, not the minute the scenario was written."""
    control.scenario(fresh, "tasks_crashing")
    cw = aws("cloudwatch")
    alarm = _state(cw, TASKS)
    assert alarm["StateValue"] == "ALARM" and "less than the threshold (0)" in alarm["StateReason"]
    age = datetime.now(timezone.utc) - alarm["StateUpdatedTimestamp"]
    assert timedelta(minutes=4) < age < timedelta(minutes=7), age


@pytest.mark.parametrize("scenario", ["tasks_crashing", "image_missing"])
def test_with_every_task_down_the_5xx_rate_alarm_counts_the_albs_own_5xx(scenario, fresh, aws):
    """With no task registered the targets answer nothing (HTTPCode_Target_5XX_Count is not
    reported) and the load balancer answers every request 503 itself (HTTPCode_ELB_5XX_Count):
    the §5 rate alarm counts both, e1 = 100*(FILL(m1,0)+FILL(m3,0))/m2, so it is in ALARM from
    the outage's own data (issue 29: "ELB 5xx was 1,084 of 1,084 requests, the post-mortem
    said 0.1%"). The 5xx counts are reported only when nonzero, hence FILL.
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html"""
    control.scenario(fresh, scenario)
    cw = aws("cloudwatch")
    alarm = _state(cw, RATE)
    assert alarm["StateValue"] == "ALARM" and "greater than the threshold (1)" in alarm["StateReason"], alarm
    assert "HTTPCode_ELB_5XX_Count" in {q.get("MetricStat", {}).get("Metric", {}).get("MetricName")
                                        for q in alarm["Metrics"]}
    age = datetime.now(timezone.utc) - alarm["StateUpdatedTimestamp"]
    assert age < timedelta(minutes=7), age  # since the outage's minutes, not since the seed


def test_the_alb_reports_5xx_counts_only_when_nonzero_and_a_quiet_rate_alarm_is_ok(fresh, aws):
    """ELB's reporting criterion for HTTPCode_ELB_5XX_Count and HTTPCode_Target_5XX_Count is
    "There is a nonzero value": a quiet ALB publishes no ELB 5xx datum at all, and the rate
    alarm still reads its minutes as 0%, OK (not INSUFFICIENT_DATA: FILL supplies the zeros).
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html"""
    control.scenario(fresh, "quiet")
    cw = aws("cloudwatch")
    now = datetime.now(timezone.utc)
    got = cw.get_metric_data(StartTime=now - timedelta(hours=2), EndTime=now, MetricDataQueries=[
        {"Id": "m3", "MetricStat": {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "HTTPCode_ELB_5XX_Count",
                                               "Dimensions": ALB}, "Period": 60, "Stat": "Sum"}}])
    assert got["MetricDataResults"][0]["Values"] == [], got["MetricDataResults"][0]["Values"][:5]
    assert _state(cw, RATE)["StateValue"] == "OK"
