"""Triage reads the world as CloudWatch writes it (issue 29, point 1): a canary in its
first RUNNING check, log lines at CRITICAL and FATAL and lines carrying PHI, the
ALB's own 5xx with every task down, and an alarm's own P0/P1 label.

References: CanaryRunStatus (State RUNNING | PASSED | FAILED)
https://docs.aws.amazon.com/AmazonSynthetics/latest/APIReference/API_CanaryRunStatus.html ;
ALB metrics (HTTPCode_ELB_5XX_Count is the load balancer's own, not the targets')
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
"""
from __future__ import annotations

import json

import psycopg

from rovn_sandbox import control, incidents
from tests.scenarios.test_incident_triage import ALWAYS_OPEN, _incident_rows, _manifest, _outputs, _posts, _triage


def test_a_canary_still_running_its_first_check_is_not_a_failure(fresh, evidence_dir):
    control.scenario(fresh, "canary_first_run")
    _triage(*ALWAYS_OPEN, "-p", f"canary={incidents.CANARY}", code=0)  # no incident: exit 0
    m = _manifest(evidence_dir)
    assert m["facts"]["triage"]["severity"] == "none", m["facts"]["triage"]
    assert f"canary {incidents.CANARY} has no finished run yet" in _outputs(m)
    assert _posts(fresh, "pagerduty") == []


def test_critical_and_fatal_lines_count_and_phi_in_a_log_line_is_p0_never_echoed(fresh, evidence_dir):
    control.scenario(fresh, "phi_logged")
    _triage(*ALWAYS_OPEN)
    m = _manifest(evidence_dir)
    triage, out = m["facts"]["triage"], _outputs(m)
    assert triage["severity"] == "P0" and "suspected PHI exposure" in triage["rule"]
    assert "npi" in triage["rule"] and "ssn" in triage["rule"] and "dob with name" in triage["rule"]
    # CRITICAL and FATAL lines are errors: the log table counts them
    assert "audit writer queue full" in out and "worker cannot reach the KMS key" in out
    [page] = _posts(fresh, "pagerduty")
    # the PHI itself is nowhere: not in the archive, the posts or audit_log
    files = [(m["dir"] / f["path"]).read_text() for f in m["files"]]
    with psycopg.connect(fresh["database_url"]) as conn:
        rows = json.dumps([r[0] for r in conn.execute("SELECT details FROM audit_log")])
    for text in files + [json.dumps(control.posts(fresh)), rows]:
        for value in incidents.PHI.values():
            assert value not in text
    assert "PHI" in page["payload"]["payload"]["summary"]


def test_every_task_down_the_albs_own_5xx_are_the_share(fresh, evidence_dir):
    control.scenario(fresh, "tasks_crashing")
    _triage()
    m = _manifest(evidence_dir)
    [artifact] = [f for f in m["files"] if f["kind"] == "artifact"]
    draft = (m["dir"] / artifact["path"]).read_text()
    assert "Peak 5xx share in the window: 100.0% of requests." in draft, draft
    [row] = _incident_rows(fresh["database_url"])
    assert any("5xx above 25% of requests" in s for s in row["signals"]), row["signals"]


def test_an_alarm_labelled_p0_when_triage_finds_p1_says_why(fresh, evidence_dir):
    control.scenario(fresh, "bad_deploy")
    _triage(*ALWAYS_OPEN)
    triage = _manifest(evidence_dir)["facts"]["triage"]
    assert triage["severity"] == "P1"
    # the 5xx rate alarm's note (the composite over it, labelled P0 too, has its own)
    [note] = [n for n in triage["alarm_labels"] if n.startswith("alarm rovn-prod-alb-5xx-rate ")]
    assert "rovn-prod-alb-5xx-rate is labelled P0" in note and "triage finds P1" in note and "5xx above 1%" in note
