"""The bake judges alarms against where they stood before the deploy (deploy/bake.py)."""
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from rovn_ops.ecs import bake

NAME = "rovn-prod-alb-5xx-rate"


@pytest.fixture
def cw(request, in_process):  # moto in this process, never the session sandbox (it evaluates alarms on its own clock)
    with mock_aws():
        client = boto3.client("cloudwatch", region_name="us-east-2")
        client.metric = f"5xx-{request.node.name}"  # each test its own metric: no datapoint carries over
        client.put_metric_alarm(AlarmName=NAME, Namespace="AWS/ApplicationELB", MetricName=client.metric,
                                Statistic="Average", Period=300, EvaluationPeriods=1, Threshold=1,
                                ComparisonOperator="GreaterThanThreshold")
        client.set_alarm_state(AlarmName=NAME, StateValue="OK", StateReason="quiet")
        yield client


def _put(cw, value: float, at: datetime) -> None:
    cw.put_metric_data(Namespace="AWS/ApplicationELB",
                       MetricData=[{"MetricName": cw.metric, "Value": value, "Timestamp": at}])


def _bake(cw, deployed_at) -> bake.Alarm:
    [a] = bake.watch(cw, bake.before(cw, [NAME], deployed_at), 0, 0, deployed_at, say=lambda _: None)
    return a


def _firing(cw, before: float, after: float | None) -> bake.Alarm:
    now = datetime.now(timezone.utc)
    _put(cw, before, now - timedelta(seconds=120))
    cw.set_alarm_state(AlarmName=NAME, StateValue="ALARM", StateReason="5xx high")
    alarms = bake.before(cw, [NAME], now)
    if after is not None:
        _put(cw, after, now + timedelta(seconds=1))
    [a] = bake.watch(cw, alarms, 0, 0, now, say=lambda _: None)
    return a


def test_quiet_alarm_passes(cw):
    a = _bake(cw, datetime.now(timezone.utc))
    assert a.verdict == bake.QUIET and not bake.problems(a)


def test_ok_to_alarm_during_the_bake_fails(cw):
    now = datetime.now(timezone.utc)
    alarms = bake.before(cw, [NAME], now)
    cw.set_alarm_state(AlarmName=NAME, StateValue="ALARM", StateReason="5xx at 9%")
    [a] = bake.watch(cw, alarms, 5, 0.01, now, say=lambda _: None)  # ends at once, not after 5 s
    assert a.verdict == bake.FIRED and "fired during the bake" in bake.problems(a)[0] and "9%" in bake.problems(a)[0]


def test_already_firing_and_recovering_passes(cw):
    a = _firing(cw, 40, 2)
    assert a.verdict == bake.RECOVERING and not bake.problems(a) and (a.before, a.after) == (40, 2)


@pytest.mark.parametrize("after", [40, 80, None], ids=["same", "worse", "no-data"])
def test_already_firing_and_not_recovering_fails(cw, after):
    a = _firing(cw, 40, after)
    assert a.verdict == bake.NOT_RECOVERING and "not recovering" in bake.problems(a)[0]


def test_a_missing_alarm_fails(cw):
    [a] = bake.watch(cw, bake.before(cw, ["no-such-alarm"], datetime.now(timezone.utc)), 0, 0,
                     datetime.now(timezone.utc), say=lambda _: None)
    assert a.verdict == bake.MISSING and bake.problems(a)


@pytest.mark.parametrize("deadline_s, poll_max, wait", [(900, 30, 120), (900, 0.5, 30), (8, 0.5, 8)])
def test_the_health_wait_lets_old_tasks_drain_but_never_outlasts_the_deadline(deadline_s, poll_max, wait):
    from rovn_ops.ecs import verify

    assert verify.health_wait(deadline_s, poll_max) == wait
