"""`rovn-ops evidence export --from WHEN --to WHEN [--env prod] [--bucket] --format csv|json`
(issue 27, build 6): the whole population of a period, the form an auditor samples from.

Every run in the period (previews, refusals, failures and drafts too), each with a `change`
flag, then a completeness statement: the ledger's sequence range for the period (from the
ledger, not from the directories found, so a run whose evidence is gone is still counted),
whether it has gaps, the checkpoint hash that covers its last entry, every run that is not
intact, and the command that verifies it. The statement is `complete: false` (and the
command exits 1) when anything in the range is missing or not intact; with `--bucket` the
statuses are the bucket's (index.rows with the bucket's store)."""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from rovn_ops.evidence import index, ledger
from rovn_ops.evidence.period import Period, run_time

FIELDS = ("run_id", "started_at", "environment", "runbook", "outcome", "change", "draft", "ticket", "reason",
          "target", "operator", "operator_arn", "source_identity", "ci_run", "approvers", "approved", "approval_check", "plan_hash", "preview_run", "changed",
          "verified", "signature", "retention", "audit_log")


def population(root: Path, env: str, period: Period, store=None, conn=None, cloudtrail=None) -> dict:
    """cloudtrail: a client, online, to name each role session's source identity (sources.py)."""
    from rovn_ops.evidence import sources

    everything = index.rows(root, env, store, conn)
    runs = [{k: r.get(k) for k in FIELDS} for r in reversed(everything)
            if period.holds(run_time(r["run_id"], r.get("started_at") or "")) and (r["environment"] or env) == env]
    if cloudtrail is not None:
        sources.fill(runs, cloudtrail)
    return {"period": {"from": period.given_from, "to": period.given_to, "environment": env}, "runs": runs,
            "completeness": completeness(root, env, period, runs, store)}


def completeness(root: Path, env: str, period: Period, runs: list[dict], store=None) -> dict:
    entries = [e for e in ledger.read(root) if "run_id" in e and period.holds(run_time(e["run_id"]))]
    seqs = sorted(int(e["seq"]) for e in entries)
    gaps = [n for n in range(seqs[0], seqs[-1] + 1) if n not in set(seqs)] if seqs else []
    shown = {r["run_id"]: r for r in runs}
    problems = [f"ledger entry {e['seq']} (run {e['run_id']}): no evidence in the export" for e in entries
                if e["run_id"] not in shown]
    problems += [f"run {r['run_id']}: {r['verified']}" for r in runs if r["verified"] != "intact"]
    problems += [f"run {r['run_id']}: not in the ledger" for r in runs
                 if r["run_id"] not in {e["run_id"] for e in entries}]
    problems += [f"ledger sequence {n} is missing from the range" for n in gaps]
    last = max(entries, key=lambda e: int(e["seq"])) if entries else None
    return {"complete": not problems, "runs": len(runs), "changes": sum(1 for r in runs if r["change"]),
            "ledger_seq_from": seqs[0] if seqs else None, "ledger_seq_to": seqs[-1] if seqs else None,
            "gaps": gaps, "checkpoint_hash": (last.get("checkpoint") or {}).get("hash") if last else None,
            "statuses_from": f"s3://{store.name} and audit_log" if store is not None else "this directory only",
            "problems": problems,
            "verify": f"rovn-ops evidence verify --bucket --env {env} (and rovn-ops evidence export --from "
                      f"{period.given_from} --to {period.given_to} --env {env} --bucket again from an empty directory)"}


RUN_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-")


def attest(data: dict, report) -> dict:
    """The statement says what `evidence verify` says of the same store (attack review, LOW 3: a
    local export said complete while verify said NOT OK): its problems of the period's runs, and
    those of no run (audit_log rows, approval records, the chain), make the period incomplete."""
    shown = {r["run_id"] for r in data["runs"]}
    c = data["completeness"]
    found = [f"evidence verify: {run}: {msg}" for run, msg in report.problems
             if run in shown or not RUN_ID.match(str(run))]
    c["problems"] = c["problems"] + [f for f in found if f not in c["problems"]]
    c["complete"] = not c["problems"]
    return data


def render(data: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2, default=str) + "\n"
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(FIELDS)
    for r in data["runs"]:
        w.writerow([_cell(r[k]) for k in FIELDS])
    w.writerow([])
    c = data["completeness"]
    for key in ("complete", "runs", "changes", "ledger_seq_from", "ledger_seq_to", "gaps", "checkpoint_hash",
                "statuses_from", "problems", "verify"):
        w.writerow([f"# completeness.{key}", _cell(c[key])])
    return out.getvalue()


def _cell(value) -> str:
    """A CSV cell; one a spreadsheet would run as a formula is quoted with a leading '."""
    text = "; ".join(map(str, value)) if isinstance(value, list) else "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
