"""The real §5 5xx alarm (metric math: e1 = 100*(FILL(m1,0)+FILL(m3,0))/m2 over
HTTPCode_Target_5XX_Count, the load balancer's own HTTPCode_ELB_5XX_Count and RequestCount, no
Namespace at the top) stops a bake and triggers the automatic rollback.
Shapes: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricAlarm.html ;
the ALB reports each 5xx count only when nonzero, hence FILL:
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html"""
from __future__ import annotations

from rovn_ops.ecs import cloudwatch_alarms
from rovn_sandbox import control
from tests.scenarios.test_deploy import _manifest, _service, preview_then_execute

RATE = "rovn-prod-alb-5xx-rate"


def test_the_sandbox_holds_the_5xx_alarm_as_metric_math_and_a_composite(fresh, aws):
    found = {a.name: a for a in cloudwatch_alarms.describe(aws("cloudwatch"), prefix="rovn-prod-")}
    assert "Namespace" not in found[RATE].raw and found[RATE].kind == cloudwatch_alarms.MATH
    assert "e1 = 100*(FILL(m1,0)+FILL(m3,0))/m2" in found[RATE].math and "RequestCount" in found[RATE].math
    assert "HTTPCode_ELB_5XX_Count" in found[RATE].math  # the load balancer's own 503s count
    assert found["rovn-prod-ecs-running-below-desired"].kind == cloudwatch_alarms.MATH
    assert found["rovn-prod-rds-cpu-high"].kind == cloudwatch_alarms.METRIC
    assert found["rovn-prod-service-unhealthy"].kind == cloudwatch_alarms.COMPOSITE


def test_the_metric_math_5xx_alarm_in_alarm_stops_the_bake_and_rolls_back(fresh, aws, evidence_dir):
    control.scenario(fresh, "alarm_fires_after_rollout")
    run = preview_then_execute("-p", "bake_alarms=rovn-prod-alb-5xx-rate,rovn-prod-service-unhealthy")
    assert run.returncode == 1 and f"alarm {RATE} fired during the bake" in run.stdout, run.stdout + run.stderr
    m = _manifest(evidence_dir)
    bake = {b["alarm"]: b for b in m["facts"]["bake"]}
    assert bake[RATE]["shape"] == "metric math" and "100*(FILL(m1,0)+FILL(m3,0))/m2" in bake[RATE]["math"]
    assert bake["rovn-prod-service-unhealthy"]["shape"] == "composite"  # judged by its state, no crash
    assert m["facts"]["rollback"]["ok"] is True and _service(aws)["taskDefinition"].endswith(":288")
