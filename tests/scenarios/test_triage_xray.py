"""§5 X-Ray in triage, against the sandbox's X-Ray answering as AWS documents it
(https://docs.aws.amazon.com/xray/latest/api/API_GetTraceSummaries.html: TraceSummaries
paged with NextToken; each TraceSummary carries Http.HttpURL, HasFault/HasError and
ResponseTime in seconds). Scenario xray_admin_faults writes 5xx on /admin/* and /audit/*
and slow /api/search traces; triage lists /admin and /audit first and the slow path."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rovn_sandbox import control
from tests.scenarios.test_incident_triage import ALWAYS_OPEN, _manifest, rovn_ops


def test_sandbox_pages_trace_summaries_with_aws_shapes(fresh, aws):
    control.scenario(fresh, "xray_admin_faults")
    xray = aws("xray")
    now = datetime.now(timezone.utc)
    pages = list(xray.get_paginator("get_trace_summaries").paginate(StartTime=now - timedelta(minutes=30),
                                                                      EndTime=now + timedelta(minutes=1)))
    assert len(pages) >= 2 and "NextToken" in pages[0]  # 25 traces, 20 a page
    every = [t for p in pages for t in p["TraceSummaries"]]
    admin = [t for t in every if t["Http"].get("HttpURL", "").endswith("/admin/users")]
    assert len(admin) == 3 and all(t["HasFault"] and t["Http"]["HttpStatus"] == 500 for t in admin)
    slow = [t for t in every if t["Http"]["HttpURL"].endswith("/api/search")]
    assert slow and all(abs(t["ResponseTime"] - 4.5) < 0.01 for t in slow)
    ok = [t for t in every if t["Http"]["HttpStatus"] == 200 and t["Http"]["HttpURL"].endswith("/api/notes")]
    assert ok and not any(t["HasFault"] or t["HasError"] for t in ok)


def test_triage_lists_admin_and_audit_faults_first_and_the_slow_path(fresh, evidence_dir):
    control.scenario(fresh, "xray_admin_faults")
    run = rovn_ops("run", "incident_triage", "--quiet", *ALWAYS_OPEN)
    assert run.returncode in (0, 4), run.stdout + run.stderr  # X-Ray informs; it does not page
    rows = _manifest(evidence_dir)["facts"]["triage"]["xray"]
    paths = [r["path"] for r in rows]
    assert paths[:2] == ["/admin/users", "/audit/export"], rows
    notes = next(r for r in rows if r["path"] == "/api/notes")
    assert notes["faults"] == 5  # 1 steady + 4 from the scenario, across both pages
    search = next(r for r in rows if r["path"] == "/api/search")
    assert search["slow"] == 2 and search["slowest_s"] == 4.5
