"""Triage's inputs as AWS states them (issue 29, point 1), on made-up findings: a
canary run still RUNNING, CRITICAL/FATAL levels, PHI-shaped lines, the ALB's own 5xx,
an alarm's own label. The scenarios (tests/scenarios/test_triage_fidelity.py) run the
same against the sandbox.

CanaryRunStatus: https://docs.aws.amazon.com/AmazonSynthetics/latest/APIReference/API_CanaryRunStatus.html
ALB metrics: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from rovn_ops.safety import personal_data
from rovn_ops.triage import classify, logs, metrics
from rovn_ops.triage.gather import canary_health
from tests.unit.test_triage import END, WINDOW, _findings, _params


def _run(state: str, minutes_ago: int, done: bool = True) -> dict:
    started = END - timedelta(minutes=minutes_ago)
    return {"Id": f"r{minutes_ago}", "Name": "c", "Status": {"State": state},
            "Timeline": {"Started": started, **({"Completed": started + timedelta(seconds=30)} if done else {})}}


def test_a_running_canary_run_is_no_result():
    assert canary_health("c", [_run("RUNNING", 0, done=False)]) is None
    assert canary_health("c", [_run("RUNNING", 0, done=False), _run("PASSED", 1)]).ok
    assert not canary_health("c", [_run("PASSED", 5), _run("FAILED", 1), _run("RUNNING", 0, done=False)]).ok


def test_the_albs_own_5xx_count_in_the_share():
    at = [WINDOW.start + timedelta(minutes=m) for m in range(3)]
    raw = {"requests": (at, [1084, 1000, 0]), "target_5xx": (at, [0, 10, 0]), "elb_5xx": (at, [1084, 0, 40])}
    rate = metrics.frame(raw, WINDOW)["error_rate_pct"]
    assert rate.iloc[0] == pytest.approx(100) and rate.iloc[1] == pytest.approx(1) and rate.iloc[2] == 100


@pytest.mark.parametrize("line, error", [
    ('{"level": "CRITICAL", "message": "m"}', True), ('{"levelname": "fatal", "message": "m"}', True),
    ('{"severity": "ERROR", "message": "m"}', True), ('{"level": "WARNING", "message": "m"}', False),
    ("FATAL worker exited", True), ("all good", False)])
def test_critical_and_fatal_are_errors(line, error):
    assert (logs._message(line) is not None) is error


@pytest.mark.parametrize("text, kinds", [
    ("provider NPI 1234567893 rejected", {"npi"}),
    ("provider NPI 1234567890 rejected", set()),   # check digit wrong: not an NPI
    ("request ts=1765084800 npi lookup", set()),   # a timestamp, not an NPI
    ('{"ssn": "219-09-9999"}', {"ssn"}),
    ("patient_name=Maria Delgado dob=1984-07-19", {"dob with name"}),
    ("dob=1984-07-19 parse failed", set()),        # a DOB alone is no one's
    ("invalid name given", set())])
def test_phi_shapes(text, kinds):
    assert personal_data.phi_kinds(text) == kinds
    for value in ("1234567893", "219-09-9999", "Maria Delgado", "1984-07-19"):
        assert value not in personal_data.redact(text)


def test_a_phi_line_is_p0_and_names_kinds_only():
    f = _findings()
    f.logs = logs.Summary("/ecs/x")
    f.logs.saw_phi({"npi"}, END - timedelta(minutes=3))
    v = classify.classify(_params(), f)
    assert v.severity == "P0" and v.rule.startswith("suspected PHI exposure: 1 log line(s) in /ecs/x")
    assert v.onset("phi") == END - timedelta(minutes=3)


def test_an_alarms_own_label_agrees_or_is_explained():
    # The real shape: a metric-math rate alarm, its namespace in its Metrics, none at the top
    stat = lambda name: {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": name}, "Period": 60, "Stat": "Sum"}
    alarm = {"AlarmName": "rovn-prod-alb-5xx-rate", "StateValue": "ALARM", "StateReason": "r",
             "Metrics": [{"Id": "m1", "MetricStat": stat("HTTPCode_Target_5XX_Count"), "ReturnData": False},
                         {"Id": "m2", "MetricStat": stat("RequestCount"), "ReturnData": False},
                         {"Id": "e1", "Expression": "100*m1/m2", "ReturnData": True}],
             "AlarmDescription": "ALB 5xx > 1% over 5 minutes (P0)",
             "StateUpdatedTimestamp": END - timedelta(minutes=3)}
    degraded = classify.classify(_params(), _findings(error=lambda m: 4.0 if m >= -17 else 0.1, alarms=[alarm]))
    [note] = degraded.label_notes
    assert degraded.severity == "P1" and "labelled P0" in note and "5xx above 1%" in note
    assert "Alarm labels:" in degraded._repr_markdown_()
    outage = classify.classify(_params(), _findings(error=lambda m: 60.0 if m >= -10 else 0.1, alarms=[alarm]))
    assert outage.severity == "P0" and outage.label_notes == ()
