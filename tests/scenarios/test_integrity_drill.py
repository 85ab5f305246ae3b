"""A data-integrity incident drill (§6: "P0 definition: … data-integrity event"): audit_log,
§7's source of truth, broken by a superuser (scenario audit_tampered, sandbox/audit_tamper.py:
the UPDATE/DELETE trigger dropped, a deploy row's approvers rewritten). On-call runs
incident_triage, which must name it P0 with the row and print the commands that show it;
each of those names the same row. The drill prints its time to detection against §7's
3-minute RTO, measured as the other drills are (sandbox/drills.py). PostgreSQL's trigger
catalog: https://www.postgresql.org/docs/current/catalog-pg-trigger.html."""
from __future__ import annotations

import psycopg

from rovn_sandbox import control, drills


def _tampered_row(sandbox) -> int:
    with psycopg.connect(sandbox["database_url"]) as conn:
        return conn.execute("SELECT max(id) FROM audit_log WHERE action = 'deploy'").fetchone()[0]


def test_audit_log_tampered_is_p0_named_by_triage_within_the_rto(fresh, evidence_dir):
    drill = drills.run(fresh, "audit_tampered")
    print(drill.line())
    summary = drill.triage["summary"]
    row = _tampered_row(fresh)
    assert drill.triage["exit_code"] == 4 and summary["severity"] == "P0", summary
    assert summary["cause"] == "audit_log"
    assert summary["headline"].startswith(f"P0 · data-integrity event: audit_log chain broken at id {row}: "
                                          "row_hash does not match"), summary["headline"]
    assert summary["next_command"] == "rovn-ops audit verify" and summary["next_command"] in summary["headline"]
    assert "deploy and roll back nothing" in summary["explanation"]
    verify = drill.steps[1]
    assert verify.command == "rovn-ops audit verify" and verify.exit_code == 1
    assert verify.outcome.startswith(f"audit_log chain broken at id {row}"), verify
    assert drill.health == (200, drills.GOOD)  # the service itself never went down
    assert drill.detected_s <= drills.RTO_S, drill.line()
    pages = [p for p in control.posts(fresh) if p["channel"] == "pagerduty"]
    assert pages and "data-integrity event" in str(pages[-1]["payload"]), pages  # P0 pages on-call (§5, §6)


def test_a_disabled_trigger_alone_is_a_data_integrity_event(fresh, evidence_dir):
    """No row changed, the chain intact: a trigger that exists but is disabled protects
    nothing, and the app role (no UPDATE grant) cannot try, so triage reads the catalog."""
    with psycopg.connect(fresh["admin_database_url"], autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete")
    summary = drills._json(drills.cli("run", "incident_triage", "--json", "--quiet"))["summary"]
    assert summary["severity"] == "P0" and summary["cause"] == "audit_log", summary
    assert "audit_log has no enabled trigger refusing UPDATE, DELETE" in summary["headline"], summary["headline"]


def test_an_intact_audit_log_adds_no_signal(fresh, evidence_dir):
    summary = drills._json(drills.cli("run", "incident_triage", "--json", "--quiet"))["summary"]
    assert summary["severity"] == "none" and "data-integrity" not in summary["headline"], summary
