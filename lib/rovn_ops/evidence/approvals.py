"""What the index says of a change's approval (issue 27, open point 2): each approval
record the run's manifest carries is checked again, against the approver's key
registered in the committed environment file (approval_signature.problem), as execute
checked it, never taken from the row. A change is called approved only when every
approver it names has a record of that plan whose signature verifies; otherwise the
index says NOT APPROVED and why (a forged or altered record, or a name the operator
gave with no record at all: the sandbox's `approved_by=`).

Online (`evidence index --bucket`), every `approve` row of audit_log is listed too, with
its signature's status and whether a preview produced its plan hash and a run executed
it: an approval of a hash no preview printed is shown as orphaned (open point 5)."""
from __future__ import annotations

from rovn_ops.protocol import approval_signature as signature


def keys(env: str) -> tuple[dict | None, str]:
    """(name → registered public key, "") or (None, why they could not be read)."""
    from rovn_ops.core.errors import RovnError
    from rovn_ops.protocol import approval_records
    from rovn_ops.protocol.authorization import Lists

    try:
        return approval_records.registered_keys(Lists.of(env)), ""
    except RovnError as e:
        return None, str(e)


def check(approvals: list[dict], registered: dict | None, env: str, why_no_keys: str = "") -> tuple[bool, list[str]]:
    """(approved, one line per record): approved only if each approver named has a valid record."""
    if not approvals:
        return False, []
    if registered is None:
        return False, [f"approval keys not readable: {why_no_keys}"]
    lines, approved = [], True
    for ap in approvals:
        valid = set()
        for rec in ap.get("records") or []:
            why = signature.problem(rec, registered, env)
            if not why and rec.get("plan_hash") != ap.get("plan_hash"):
                why = f"a record of plan {str(rec.get('plan_hash'))[:12]}, not this plan"
            who = str(rec.get("approver") or "?")
            key = (rec.get("signature") or {}).get("key_id", "?") if isinstance(rec.get("signature"), dict) else "?"
            lines.append(f"{who}: signature valid (key {key}, record {rec.get('id', '?')})" if not why
                         else f"{who}: INVALID ({why})")
            if not why:
                valid.add(who)
        missing = [a for a in ap.get("approvers") or [] if a not in valid]
        if missing:
            approved = False
            if not ap.get("records"):
                lines.append(f"{', '.join(missing)}: named by the operator, no signed approval record")
    return approved, lines


def ledger(conn, env: str, registered: dict | None, manifests: list[dict]) -> list[dict]:
    """Every approval record in audit_log: its signature's status, the preview that printed its
    plan hash and the run that executed it, from this archive's manifests."""
    previews = {m.get("plan_hash"): m["run_id"] for m in manifests if m.get("outcome") == "preview"}
    executions = {ap.get("plan_hash"): m["run_id"] for m in manifests for ap in m.get("approvals") or []
                  if not m.get("draft")}
    out = []
    for rid, at, details in conn.execute("SELECT id, occurred_at, details FROM audit_log WHERE action = 'approve' "
                                         "AND outcome = 'approved' ORDER BY id"):
        d = details if isinstance(details, dict) else {}
        why = signature.problem(d, registered, env) if registered is not None else "approval keys not readable"
        plan = str(d.get("plan_hash") or "")
        out.append({"id": rid, "at": at.isoformat(timespec="seconds"), "approver": str(d.get("approver") or "?"),
                    "plan_hash": plan, "ticket": str(d.get("ticket") or ""),
                    "signature": "valid" if not why else f"INVALID: {why}",
                    "preview": previews.get(plan, ""), "executed_by": executions.get(plan, ""),
                    "orphaned": plan not in previews})
    return out


def html(records: list[dict] | None) -> str:
    from rovn_ops.core import escape

    head = "<h2 id='approval-records'>Approval records in audit_log</h2>"
    if records is None:
        return head + "<p class='muted'>Not listed: this index was built offline (<code>--bucket</code> lists them).</p>"
    rows = "".join(
        f"<tr data-record='{r['id']}'><td>{r['id']}</td><td>{escape.html(r['at'][:19].replace('T', ' '))}</td>"
        f"<td>{escape.html(r['approver'])}</td><td><code>{escape.html(r['plan_hash'][:12])}</code></td>"
        f"<td>{escape.html(r['ticket'] or '-')}</td><td>"
        + ("<span class='badge signed'>valid</span>" if r["signature"] == "valid"
           else f"<span class='badge bad'>INVALID</span> {escape.html(r['signature'][9:])}")
        + "</td><td>" + (f"<code>{escape.html(r['preview'])}</code>" if r["preview"]
                         else "<span class='badge bad'>ORPHANED</span> no preview printed this plan hash")
        + f"</td><td>{escape.html(r['executed_by'] or '-')}</td></tr>" for r in records)
    return (head + "<table id='approval-records-table'><thead><tr><th>Row</th><th>Signed (UTC)</th><th>Approver</th>"
            "<th>Plan</th><th>Ticket</th><th>Signature</th><th>Preview</th><th>Executed by</th></tr></thead><tbody>"
            + (rows or "<tr><td colspan=8 class=muted>None.</td></tr>") + "</tbody></table>")
