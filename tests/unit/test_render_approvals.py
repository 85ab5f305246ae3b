"""The run's HTML header says what an approval rests on (evidence/render.py): signed records,
or names the operator gave, which approve nothing (session 6's auditor sample found
'Approvals: giles at …' on a run the index and the export call NOT APPROVED)."""
from __future__ import annotations

from rovn_ops.evidence import render


def test_a_named_approver_without_a_record_reads_not_approved():
    line = render._approval_line({"approvers": ["giles"], "at": "2026-12-08T00:46:42", "plan_hash": "ab" * 32,
                                  "records": []})
    assert line.startswith("NOT APPROVED: giles named by the operator, no signed approval record")


def test_signed_records_are_named_by_their_audit_log_rows():
    line = render._approval_line({"approvers": ["giles"], "at": "2026-12-08T00:47:50+00:00", "plan_hash": "cd" * 32,
                                  "records": [{"id": 22, "approver": "giles"}]})
    assert line == "giles: signed approval records 22, at 2026-12-08T00:47:50, plan cdcdcdcdcdcd"
