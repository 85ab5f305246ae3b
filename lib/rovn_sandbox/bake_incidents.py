"""Alarm incidents for the deploy's bake (triage's incidents are in incidents.py). These
scenarios write the ALB's requests and target 5xx under the §5 5xx alarm (metric math:
100 * (target 5xx + the load balancer's own) / requests); the alarm's state follows from them (alarm_eval.py evaluates it):

- `incident_5xx`: the 5xx alarm is already in ALARM with a high 5xx rate when the
  scenario starts (a hotfix is about to ship during an incident); when the next
  rollout completes the rate drops (the fix works) while the alarm, whose period has
  not yet passed, stays in ALARM: the bake must judge it "recovering";
- `alarm_fires_after_rollout`: the alarm is OK before; when the next rollout
  completes it flips to ALARM with a high rate (the new version breaks).
"""
from __future__ import annotations

from datetime import timedelta

from moto.core.utils import utcnow

from rovn_sandbox import scenarios

ACCOUNT = "123456789012"
ALARM = "rovn-prod-alb-5xx-rate"
HIGH, LOW = 40.0, 2.0     # the 5xx share of requests, per cent
REQUESTS = 1000.0         # per datapoint
_state = {"region": "us-east-2", "pending": set()}


def install(region: str) -> None:
    from rovn_sandbox import ecs_rollout

    _state["region"] = region
    ecs_rollout.on_rollout_completed(__name__, lambda svc: rollout_completed())
    for name in ("incident_5xx", "alarm_fires_after_rollout"):
        scenarios.on_activate(name, lambda name=name: _activated(name))


def _backend():
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[ACCOUNT][_state["region"]]


def _put(rate_pct: float, ages_s: list[int]) -> None:
    """The ALB's RequestCount and target 5xx at `rate_pct` per cent, as the ALB publishes
    them: the alarm is metric math over them (e1 = 100*(FILL(m1,0)+FILL(m3,0))/m2), so both
    move; the load balancer's own 5xx (m3) stay unreported, as ELB leaves a zero count."""
    backend = _backend()
    alarm = backend.alarms[ALARM]
    now = utcnow()
    data: list[dict] = []
    for q in alarm.metric_data_queries or []:
        stat = q.metric_stat
        if stat is None:
            continue
        if stat.metric.metric_name not in ("RequestCount", "HTTPCode_Target_5XX_Count"):
            continue  # the load balancer's own 5xx: none (reported only when nonzero)
        value = REQUESTS if stat.metric.metric_name == "RequestCount" else REQUESTS * rate_pct / 100
        data += [{"MetricName": stat.metric.metric_name, "Value": value, "Timestamp": now - timedelta(seconds=age),
                  "Unit": "Count", "Dimensions": [{"Name": d.name, "Value": d.value} for d in stat.metric.dimensions]}
                 for age in ages_s]
    backend.put_metric_data("AWS/ApplicationELB", data)


def _activated(name: str) -> None:
    _state["pending"].add(name)
    if name == "incident_5xx":
        _put(HIGH, [240, 180, 120, 60, 5])  # the alarm's next evaluation puts it in ALARM


def rollout_completed() -> None:
    """Called by the ECS simulator (install registers it) when a deployment completes; each scenario acts once
    (and not at all once switched off, or after a reset)."""
    pending = _state["pending"] & set(scenarios.current())
    _state["pending"] = pending
    if "incident_5xx" in pending:
        pending.discard("incident_5xx")
        _put(LOW, [0])
    if "alarm_fires_after_rollout" in pending:
        pending.discard("alarm_fires_after_rollout")
        _put(HIGH, [0])  # the alarm's next evaluation (a sandbox minute) puts it in ALARM
