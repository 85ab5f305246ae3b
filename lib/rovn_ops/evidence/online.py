"""verify's cross-checks against what no single insider controls alongside the archive:
audit_log (ordered, append-only for the runtime role) and the Object Lock bucket.
Each one holds the others' heads, in the way CloudTrail's digest files do."""
from __future__ import annotations

from rovn_ops.audit import log as audit
from rovn_ops.evidence import anchor, bucket as bucket_mod

SANDBOX_SEED_RUNS = ("sandbox-seed",)


def check_audit(conn, env: str, manifest_of, current: list[dict], entries: list[dict], report, partial: bool) -> None:
    chain = anchor.chain_id(conn)
    authoritative = anchor.entries(conn, chain, (current[0]["seq"] - 1) if partial and current else 0) \
        if chain else []
    _compare(authoritative, current, report)
    chain_report = audit.verify(conn)
    if not chain_report.ok:
        report.add("audit_log", str(chain_report))
    _check_head(conn, current, report)
    have = {e.get("run_id"): e for e in entries}
    if not partial:
        for run_id, ids in anchor.runs_named(conn, env).items():
            if env == "sandbox" and run_id in SANDBOX_SEED_RUNS:
                continue
            if run_id not in have:
                report.add(run_id, f"audit_log rows {ids} name this run, which has no evidence (a forged row, or "
                                   "a run still in flight or killed: the next rovn-ops invocation archives a "
                                   "killed run)")
            elif unlisted := _unlisted(ids, manifest_of(have[run_id])):
                report.add(run_id, f"audit_log rows {unlisted} name this run, but its manifest does not list "
                                   "them: rows the run never wrote (forged after the fact)")
    for e in current:
        report.problems += _check_rows(conn, manifest_of(e))


def _unlisted(ids: list[int], m: dict | None) -> list[int]:
    """Rows naming a run that its manifest does not list (every row a run writes is recorded)."""
    if not m:
        return []
    listed = {r["id"] for r in m.get("audit_log", [])}
    return [i for i in ids if i not in listed]


def _compare(authoritative: list[dict], current: list[dict], report) -> None:
    """audit_log's evidence rows and this archive's chain must be one and the same."""
    mine = {e.get("seq"): e for e in current}
    theirs = {e.get("seq"): e for e in authoritative}
    for seq, e in theirs.items():
        if seq not in mine:
            report.add(e.get("run_id", "?"), f"audit_log holds ledger entry {seq} for this run, which the archive "
                                             "lacks (removed, or not pulled: `rovn-ops evidence pull`)")
        elif mine[seq].get("hash") != e.get("hash"):
            report.add(e.get("run_id", "?"), f"ledger entry {seq} differs from audit_log's copy")
    for seq, e in mine.items():
        if seq not in theirs:
            report.add(e.get("run_id", "?"), f"ledger entry {seq} has no evidence row in audit_log "
                                             "(audit_log's tail was deleted, or the entry was forged)")


def _check_head(conn, current: list[dict], report) -> None:
    """The latest checkpoint fixes audit_log's head: every row up to it, through the hash
    chain. A superuser who edits a row and recomputes every later hash changes it."""
    if not current:
        return
    cp = current[-1].get("checkpoint") or {}
    found = audit.content_hashes(conn, [cp.get("audit_log_id")])
    row = found.get(cp.get("audit_log_id"))
    if row is None:
        report.add(current[-1].get("run_id", "?"), f"audit_log row {cp.get('audit_log_id')}, the head the latest "
                                                   "checkpoint recorded, is gone (audit_log's tail was deleted)")
    elif row[1] != cp.get("audit_log_hash") or row[0] != row[1]:
        report.add(current[-1].get("run_id", "?"),
                   f"audit_log row {cp.get('audit_log_id')} no longer hashes to what the latest checkpoint "
                   "recorded: audit_log was rewritten and its chain recomputed")


def _check_rows(conn, m: dict | None) -> list[tuple[str, str]]:
    """The audit_log rows a run's manifest names are present and hash as they did then."""
    if not m:
        return []
    rows = m.get("audit_log", [])
    found = audit.content_hashes(conn, [r["id"] for r in rows])
    problems = []
    for r in rows:
        if r["id"] not in found:
            problems.append((m["run_id"], f"audit_log row {r['id']} is missing"))
            continue
        recomputed, stored = found[r["id"]]
        if recomputed != r["row_hash"] or stored != r["row_hash"]:
            problems.append((m["run_id"], f"audit_log row {r['id']} was altered since the run wrote it"))
    return problems


def check_bucket(store, current: list[dict], entries: list[dict], report, partial: bool = False) -> None:
    """partial (`--last N`): the window is the newest N entries, so a run older than its
    first one is out of scope (the full verify, nightly, checks every run), not missing."""
    listing = store.listing
    by_run = {e.get("run_id"): e for e in entries}
    problems, report.written_again = listing.problems(store.s3, store.name)
    for key, problem in problems:
        report.add(_run_of(key, current) or key, f"s3://{store.name}/{key} {problem}")
    since = min((r for r in by_run if r), default="") if partial else ""
    for run in sorted(r for r in listing.run_ids() - set(by_run) if r > since):
        report.add(run, f"s3://{store.name}/{bucket_mod.RUNS_PREFIX}{run}/ is in the bucket but not in the ledger")
    if not current:
        return
    keys = [k for k in listing.keys(bucket_mod.LEDGER_PREFIX + current[-1]["chain"][:16] + "/")]
    tip = current[-1]
    if bucket_mod.ledger_key(tip) not in keys:
        report.add(tip.get("run_id", "?"), f"ledger entry {tip.get('seq')} is not in the bucket")
    later = [k for k in keys if k > bucket_mod.ledger_key(tip)]
    if later:
        lost = [store.read(k) for k in later]
        import json

        runs = [json.loads(b).get("run_id", "?") for b in lost if b]
        report.add(runs[0] if runs else "?", f"the bucket's ledger goes on past entry {tip.get('seq')} "
                                             f"({len(later)} more: {', '.join(runs)}): runs were removed from "
                                             "this archive (or it is not pulled: `rovn-ops evidence pull`)")


def check_approval_anchors(conn, store, report) -> None:
    """Every approve row anchored in the bucket (run/approval.py) is in audit_log and hashes as it
    did: an approval or refusal deleted or rewritten by a database superuser is named."""
    import json

    keys = store.listing.keys(bucket_mod.APPROVALS_PREFIX)
    anchors = [json.loads(store.read(k) or b"{}") for k in keys]
    found = audit.content_hashes(conn, [a.get("audit_log_id") for a in anchors if a.get("audit_log_id")])
    for key, a in zip(keys, anchors):
        row = found.get(a.get("audit_log_id"))
        where = f"s3://{store.name}/{key}"
        if row is None:
            report.add("audit_log", f"audit_log row {a.get('audit_log_id')}, an approve row anchored in {where}, "
                                    "is gone (deleted by a database superuser?)")
        elif row[0] != a.get("row_hash") or row[1] != a.get("row_hash"):
            report.add("audit_log", f"audit_log row {a.get('audit_log_id')} no longer hashes to what {where} "
                                    "recorded: the approve row was rewritten")


def _run_of(key: str, entries: list[dict]) -> str | None:
    if key.startswith(bucket_mod.RUNS_PREFIX):
        return key[len(bucket_mod.RUNS_PREFIX):].split("/", 1)[0]
    return None
