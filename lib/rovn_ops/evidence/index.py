"""`rovn-ops evidence index`: a static index.html at the evidence root that opens
from disk in a browser, with no server. An auditor answers "what changed, how was it
verified, who approved it, is the evidence intact" without opening a notebook:

- the change-management view: every change (a run that wrote: an approved execution, or any
  audit_log row of a writing action naming it, a draft's too, marked draft) with its ticket,
  what changed (revision and
  image from → to, migrations, secrets rotated, from the summary each run recorded),
  each verification check and its result, the environment, the approvers and plan
  hash, the run's signature and offline verify status, and its audit_log rows (id and
  hash); exported as CSV (the rows shown), the form auditors sample from;
- every run, with free-text search and filters (environment, runbook, outcome, date) kept in
  the URL's #hash, so a filtered view can be shared;
- changes per week, by outcome, one chart per environment (only prod is called production).

Status is words and CSS badges, never emoji (a stock Chromium has no colour-emoji font)."""
from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from pathlib import Path

from rovn_ops.core import escape, identity
from rovn_ops.evidence import approvals, changes, manifest

OUTCOME_COLOURS = {"success": "#2e7d32", "failed": "#c62828", "interrupted": "#ef6c00",
                   "preview": "#90a4ae", "refused": "#6a1b9a"}


def _row(m: dict, root: Path, integrity: dict, keys: tuple = (None, "not checked"), env: str = "sandbox") -> dict:
    rel = Path(m["path"]).relative_to(root)
    files = {f["kind"]: f"{rel}/{f['path']}" for f in m.get("files", [])}
    approvers = sorted({a for ap in m.get("approvals", []) for a in ap.get("approvers", [])})
    op = m.get("operator") or {}
    signature, verified = integrity.get(m["run_id"], ("unsigned", "not in the ledger"))
    approved, approval_check = approvals.check(m.get("approvals", []), keys[0], env, keys[1])
    return {
        "run_id": m["run_id"], "runbook": m.get("runbook", "?"), "started_at": m.get("started_at", ""),
        "date": (m.get("started_at") or "")[:10], "environment": m.get("environment", ""),
        "operator": identity.who(op), "operator_arn": op.get("arn") or "?",
        "ci_run": ((op.get("person") or {}).get("ci") or {}).get("run_url", ""),
        "approvers": approvers, "outcome": m.get("outcome", "?"),
        "target": ", ".join(m.get("targets", [])) or "-", "error": m.get("error", ""),
        "html": files.get("html"), "notebook": files.get("notebook"), "manifest": f"{rel}/manifest.json",
        "artifacts": [f"{rel}/{f['path']}" for f in m.get("files", []) if f["kind"] == "artifact"],
        "audit_log": [f"{a['id']} {a.get('row_hash', '')[:12]}" for a in m.get("audit_log", [])],
        "approvals": m.get("approvals", []), "change": changes.is_change(m),
        "approved": approved, "approval_check": approval_check,
        "draft": bool(m.get("draft")),
        "ticket": (m.get("change_request") or {}).get("ticket", ""),
        "reason": (m.get("change_request") or {}).get("reason", ""),
        "changed": changes.lines(m.get("summary"), m.get("facts"), m.get("plan_changes"), m.get("outcome", "")),
        "verification": m.get("verification", []),
        "plan_hash": m.get("plan_hash") or next((a.get("plan_hash") for a in m.get("approvals", [])), ""),
        "signature": signature, "verified": verified, "retention": retention(m), "duplicate": "",
        "preview_run": "", "preview_html": None,
    }


def integrity(root: Path, env: str = "sandbox", store=None, conn=None) -> dict[str, tuple[str, str]]:
    """Each run's signature (its ledger entry against the environment's pinned key) and its
    verify status, as of this build: offline (this directory's chain, manifest and file hashes),
    or, given the bucket's `store` (`evidence index --bucket`), the archive of record's, online
    (issue 27, finding 10: a run whose bucket manifest was overwritten read "signed intact")."""
    from rovn_ops.core.errors import RovnError
    from rovn_ops.evidence import ledger, signing, verify

    local = verify.Local(root)
    store = store or local
    try:
        key = signing.trusted(env, None, store.exported_key("") or local.exported_key(""))
    except RovnError:
        key = None  # verify names why; every run shows it
    problems: dict[str, str] = {}
    bucket = store if isinstance(store, verify.Bucket) else None
    for run, message in verify.verify(store, env=env, conn=conn, bucket=bucket).problems:
        problems.setdefault(run, message)
    return {e["run_id"]: ("signed" if key is not None and ledger.signature_ok(e, key) else
                          "BAD SIGNATURE" if key is not None else "key not trusted",
                          "NOT OK: " + problems[e["run_id"]] if e["run_id"] in problems else "intact")
            for e in ledger.read(root) if "run_id" in e}


def rows(root: Path, env: str = "sandbox", store=None, conn=None) -> list[dict]:
    from rovn_ops.evidence import ledger

    checked = integrity(root, env, store, conn)
    keys = approvals.keys(env)
    where = {e["run_id"]: e.get("path") for e in ledger.read(root) if "run_id" in e}
    runs = [m for m in manifest.runs(root) if not m.get("unreadable")]
    seen = Counter(m["run_id"] for m in runs)
    out = [_row(m, root, checked, keys, env) for m in reversed(runs)]
    for r, m in zip(out, reversed(runs)):
        copy = copied(m, root, where.get(m["run_id"]), seen[m["run_id"]])
        if copy:
            r["verified"], r["duplicate"] = f"NOT OK: {copy}", copy
    link_previews(out)
    return out


def copied(m: dict, root: Path, ledger_path: str | None, times: int) -> str:
    """Why this directory is not the ledger's copy of its run, or "" (issue 27, finding 10: a
    run directory copied under a new id showed as a second "signed intact" change)."""
    rel = Path(m["path"]).relative_to(root).as_posix()
    if Path(m["path"]).name != m["run_id"]:
        return f"directory {rel} holds run {m['run_id']}: a copy (the ledger's is {ledger_path or 'none'})"
    if ledger_path and rel != ledger_path:
        return f"run {m['run_id']} in {rel}, but the ledger's copy is {ledger_path}: a duplicate"
    if times > 1 and not ledger_path:  # no ledger entry to tell the original from its copies
        return f"run {m['run_id']} appears {times} times in this directory: a duplicate"
    return ""


def link_previews(data: list[dict]) -> None:
    """Each execution names the preview that printed its plan hash (the newest before it),
    and each such preview the execution, so an auditor walks from one to the other."""
    previews: dict[str, list[dict]] = {}
    for r in data:
        if r["outcome"] == "preview" and r["plan_hash"]:
            previews.setdefault(r["plan_hash"], []).append(r)
    for r in data:
        if r["outcome"] == "preview" or not r["plan_hash"] or not r["approvals"]:
            continue
        earlier = [p for p in previews.get(r["plan_hash"], []) if p["started_at"] <= r["started_at"]]
        if earlier:
            first = max(earlier, key=lambda p: p["started_at"])
            r["preview_run"], r["preview_html"] = first["run_id"], first["html"]
            first.setdefault("executed_by", []).append(r["run_id"])


def retention(m: dict) -> str:
    """How long the archive of record keeps this run (Object Lock), or that it has no copy."""
    a = m.get("archive") or {}
    if not a.get("bucket"):
        return "no bucket copy (this machine only)"
    return f"{a.get('mode', '?')} until {str(a.get('retain_until', '?'))[:10]} ({a.get('retention_days', '?')} days)"


def env_label(env: str) -> str:
    """What the page calls an environment: only prod is production (issue 27, finding 7)."""
    return "production" if env == "prod" else f"{env or 'unknown environment'} (not production)"


def week_charts(data: list[dict]) -> str:
    """One chart of changes per week for each environment, each titled by its environment."""
    envs = sorted({r["environment"] or "" for r in data if r["change"]}, key=lambda e: (e != "prod", e))
    if not envs:
        return "<h2>Changes per week</h2><p class='muted'>No changes yet.</p>"
    return "".join(f"<h2 class='chart' data-env='{escape.html(e)}'>Changes per week: {escape.html(env_label(e))}</h2>"
                   + week_chart([r for r in data if (r["environment"] or "") == e], env_label(e)) for e in envs)


def week_chart(data: list[dict], label: str = "production") -> str:
    """Changes per ISO week, stacked by outcome, as inline SVG."""
    counts = Counter()
    for r in data:
        if r["change"]:
            y, w, _ = datetime.fromisoformat(r["started_at"]).isocalendar()
            counts[(f"{y}-W{w:02d}", r["outcome"])] += 1
    weeks = sorted({w for w, _ in counts})[-12:]
    if not weeks:
        return "<p class='muted'>No changes yet.</p>"
    peak = max(sum(counts[(w, o)] for o in OUTCOME_COLOURS) for w in weeks)
    bar, gap, height = 40, 16, 160
    parts = []
    for i, w in enumerate(weeks):
        x, y = 40 + i * (bar + gap), height
        for o, colour in OUTCOME_COLOURS.items():
            n = counts[(w, o)]
            if n:
                h = n / peak * (height - 20)
                y -= h
                parts.append(f"<rect x='{x}' y='{y:.1f}' width='{bar}' height='{h:.1f}' fill='{colour}'>"
                             f"<title>{w}: {n} {o}</title></rect>")
        parts.append(f"<text x='{x + bar / 2}' y='{height + 14}' text-anchor='middle'>{w}</text>")
    width = 40 + len(weeks) * (bar + gap)
    legend = " ".join(f"<span class='chip' style='background:{c}'>{o}</span>" for o, c in OUTCOME_COLOURS.items())
    return (f"<svg role='img' aria-label='{escape.html(label)}: changes per week by outcome' width='{width}' "
            f"height='{height + 20}'>{''.join(parts)}</svg><div>{legend}</div>")


def build(root: Path, env: str = "sandbox", store=None, conn=None, reconciliation: dict | None = None,
          cloudtrail=None) -> Path:
    """env: whose pinned key the signatures are checked against; store: the bucket's
    (verify.Bucket), to take each run's status from the archive of record, online;
    reconciliation: reconcile.reconcile's report (None: built offline, and the page says so);
    cloudtrail: a client, online, to name a role session's source identity (sources.py)."""
    from rovn_ops.evidence import reconcile, sources

    data = rows(root, env, store, conn)
    if cloudtrail is not None:
        sources.fill(data, cloudtrail)
    source = (f"the bucket s3://{escape.html(store.name)} and audit_log (online: the archive of record)"
              if store is not None else "this directory only (offline; not the archive of record: build it with "
              "<code>rovn-ops evidence index --bucket</code>)")
    parts = {"CHART": week_charts(data), "SOURCE": source, "RECONCILIATION": reconcile.html(reconciliation),
             "GENERATED": escape.html(datetime.now().astimezone().isoformat(timespec="seconds")),
             "APPROVALS": approvals.html(None if conn is None else approvals.ledger(
                 conn, env, approvals.keys(env)[0], [m for m in manifest.runs(root) if not m.get("unreadable")])),
             "DATA": escape.script_json(data)}
    # one pass: a value from the world (a secret named __DATA__) is never searched for a marker
    page = with_policy(re.sub(r"__(CHART|SOURCE|RECONCILIATION|APPROVALS|GENERATED|DATA)__", lambda m: parts[m.group(1)],
                              TEMPLATE))
    out = root / "index.html"
    out.write_text(page)
    from rovn_ops.evidence import controls_page

    (root / "controls.html").write_text(controls_page.page(data))
    return out


def with_policy(page: str) -> str:
    """A Content-Security-Policy that lets only the page's own script run (by its hash):
    should a value ever escape its escaping, the browser still runs none of it."""
    import base64
    import hashlib

    script = page.split("<script>", 1)[1].split("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = (f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; img-src data:; "
              "base-uri 'none'; form-action 'none'")
    return page.replace('<meta charset="utf-8">', f'<meta charset="utf-8">\n'
                        f'<meta http-equiv="Content-Security-Policy" content="{policy}">', 1)


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rōvn runbook evidence</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;width:100%;margin:8px 0 24px}
th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5} .muted{color:#777} code{font-size:12px}
.outcome{font-weight:600} .success{color:#2e7d32} .failed{color:#c62828} .interrupted{color:#ef6c00}
.preview{color:#607d8b} .chip{color:#fff;padding:1px 6px;border-radius:8px;font-size:12px}
.badge{display:inline-block;padding:0 6px;border-radius:8px;font-size:12px;font-weight:600;color:#fff;background:#607d8b}
.badge.pass,.badge.signed,.badge.intact{background:#2e7d32} .badge.FAIL,.badge.bad{background:#c62828}
.badge.warn{background:#ef6c00}
#filters label{margin-right:16px} #f-text{width:22em}
</style></head><body>
<h1>Rōvn runbook evidence</h1>
<p><a id="controls-link" href="controls.html">Control matrix</a>: each overview rule, the check that enforces it,
the tests that prove it, the latest production runs.</p>
<p class="muted">Generated __GENERATED__. Every run here is in the signed ledger: check it with
<code>rovn-ops evidence verify</code>. Signature and verify status below are as of this build, checked against
<strong id="status-source">__SOURCE__</strong>: ledger chain, signatures, manifest and file hashes; a run
directory that is not the ledger's copy is flagged. Retention is the Object Lock each run's bucket copy
carries.</p>
__CHART__
<div id="filters">
<label>Search <input type="search" id="f-text" placeholder="run id, revision, image, approver, check…"></label>
<label>Environment <select id="f-env"><option value="">all</option></select></label>
<label>Runbook <select id="f-runbook"><option value="">all</option></select></label>
<label>Outcome <select id="f-outcome"><option value="">all</option></select></label>
<label>From <input type="date" id="f-from"></label>
<label>To <input type="date" id="f-to"></label>
<span id="count" class="muted"></span>
</div>
<h2>Change management: every write, by environment</h2>
<p class="muted">Each change (a draft that wrote too, marked draft): its environment (only prod is production), what changed, how it was verified, who approved which plan, and its
evidence's integrity. <button id="csv" type="button">Download CSV</button> (the rows shown)</p>
<table id="changes"><thead><tr><th>When (UTC)</th><th>Runbook</th><th>Environment</th><th>Target</th>
<th>Ticket / reason</th><th>What changed</th><th>How verified</th><th>Operator</th><th>Approved by</th><th>Plan hash</th><th>Outcome</th>
<th>Signature / verify</th><th>audit_log (id, hash)</th><th>Evidence</th></tr></thead><tbody></tbody></table>
__RECONCILIATION__
__APPROVALS__
<h2>Runs</h2>
<table id="runs"><thead><tr><th>Started (UTC)</th><th>Runbook</th><th>Environment</th><th>Outcome</th><th>Target</th>
<th>Operator</th><th>Approvers</th><th>Signature / verify</th><th>Run</th><th>Links</th></tr></thead><tbody></tbody></table>
<script>
const RUNS = __DATA__;
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));
const link = (href, text) => href ? `<a href="${esc(href)}">${text}</a>` : "";
const when = (r) => r.started_at.replace("T", " ").slice(0, 19);
const badge = (word, cls) => `<span class="badge ${esc(cls || word)}">${esc(word)}</span>`;
const checks = (r) => r.verification.map((c) => `${c.verdict}: ${c.check}${c.detail ? " (" + c.detail + ")" : ""}`);
const verified = (r) => r.verification.length ? checks(r) : [r.outcome === "success" ? "verified" : `${r.outcome}: ${r.error}`];
const integrity = (r) => badge(r.signature, r.signature === "signed" ? "signed" : "bad") + " " +
  badge(r.verified.startsWith("NOT OK") ? r.verified : "intact", r.verified === "intact" ? "intact" : "bad");
const who = (r) => esc(r.operator) + (r.ci_run ? " " + link(r.ci_run, "CI run") : "");
const approvedCell = (r) => (r.approved ? esc(r.approvers.join(", ")) + " " + badge("signature valid", "signed")
  : r.approvals.length ? badge("NOT APPROVED", "bad") + " " + esc(r.approvers.length ? "claimed: " + r.approvers.join(", ") : "")
  : esc(r.draft ? "none: a draft is not approved" : "none"))
  + `<br><span class="muted">${esc(((r.approvals[0] || {}).at || "").slice(0, 19))}</span>`
  + r.approval_check.map((c) => `<br><span class="muted approval-check">${esc(c)}</span>`).join("");
const ticketCell = (r) => (/^https:\\/\\//.test(r.ticket) ? link(r.ticket, esc(r.ticket)) : esc(r.ticket || "none"))
  + `<br><span class="muted">${esc(r.reason || "no reason given")}</span>`;
const haystack = (r) => [r.run_id, r.ticket, r.reason, r.runbook, r.draft ? "draft" : "", r.environment, r.outcome, r.target, r.operator, r.approvers.join(" "),
  r.error, r.changed.join(" "), checks(r).join(" "), r.plan_hash, r.audit_log.join(" "), r.signature, r.verified]
  .join(" ").toLowerCase();
function fill(select, values) {
  [...new Set(values)].sort().forEach((v) => select.insertAdjacentHTML("beforeend", `<option>${esc(v)}</option>`));
}
const FILTERS = ["text", "env", "runbook", "outcome", "from", "to"];
function shownRuns() {
  const f = Object.fromEntries(FILTERS.map((k) => [k, $("f-" + k).value]));
  const words = f.text.toLowerCase().split(/\\s+/).filter(Boolean);
  return [f, RUNS.filter((r) => (!f.env || r.environment === f.env) && (!f.runbook || r.runbook === f.runbook) && (!f.outcome || r.outcome === f.outcome)
    && (!f.from || r.date >= f.from) && (!f.to || r.date <= f.to) && words.every((w) => haystack(r).includes(w)))];
}
function render() {
  const [f, shown] = shownRuns();
  $("runs").tBodies[0].innerHTML = shown.map((r) => `<tr data-run="${esc(r.run_id)}">
    <td>${esc(when(r))}</td><td>${esc(r.runbook)}${r.draft ? " " + badge("draft") : ""}</td><td>${esc(r.environment)}</td>
    <td class="outcome ${esc(r.outcome)}">${esc(r.outcome)}</td><td>${esc(r.target)}</td><td class="operator">${who(r)}</td>
    <td>${esc(r.approvers.join(", ") || "-")}${r.approvals.length && !r.approved ? " " + badge("NOT APPROVED", "bad") : ""}</td><td>${integrity(r)}<br><span class="muted retention">${esc(r.retention)}</span></td><td><code>${esc(r.run_id)}</code>${(r.executed_by || []).length ? "<br>executed by " + r.executed_by.map(esc).join(", ") : ""}</td>
    <td>${link(r.html, "notebook")} ${link(r.notebook, ".ipynb")} ${link(r.manifest, "manifest")}
    ${(r.artifacts || []).map((a) => link(a, esc(a.split("/").pop()))).join(" ")}</td></tr>`).join("");
  $("changes").tBodies[0].innerHTML = shown.filter((r) => r.change).map((r) => `<tr data-run="${esc(r.run_id)}">
    <td>${esc(when(r))}</td><td>${esc(r.runbook)}${r.draft ? " " + badge("draft", "warn") : ""}</td><td>${esc(r.environment)}</td><td>${esc(r.target)}</td>
    <td class="ticket">${ticketCell(r)}</td>
    <td class="changed">${r.changed.map(esc).join("<br>") || "-"}</td>
    <td class="verification">${verified(r).map(esc).join("<br>")}</td>
    <td class="operator">${who(r)}</td>
    <td class="approved">${approvedCell(r)}</td>
    <td><code>${esc(r.plan_hash.slice(0, 12))}</code></td><td class="outcome ${esc(r.outcome)}">${esc(r.outcome)}</td>
    <td>${integrity(r)}</td><td>${esc(r.audit_log.join(", "))}</td>
    <td>${link(r.html, "notebook")} ${link(r.manifest, "manifest")}
    ${r.preview_run ? "<br>" + (link(r.preview_html, "preview") || "preview") + ` <code>${esc(r.preview_run)}</code>` : ""}
    <br><span class="muted retention">${esc(r.retention)}</span></td></tr>`).join("")
    || "<tr><td colspan=14 class=muted>No changes match.</td></tr>";
  $("count").textContent = `${shown.length} of ${RUNS.length} runs`;
  const hash = new URLSearchParams(Object.entries(f).filter(([, v]) => v)).toString();
  history.replaceState(null, "", hash ? "#" + hash : location.pathname);
}
function csvCell(value) {
  let text = String(value ?? "");
  if (/^[=+\\-@\\t\\r]/.test(text)) text = "'" + text;  // a spreadsheet must not run a cell as a formula
  return '"' + text.replace(/"/g, '""') + '"';
}
function downloadCsv() {
  const head = ["when_utc", "runbook", "draft", "environment", "target", "ticket", "reason", "what_changed", "how_verified", "approved_by",
    "approved_at", "approval_signatures", "plan_hash", "outcome", "signature", "verify", "audit_log", "operator", "operator_arn", "ci_run", "run_id", "preview_run", "retention", "evidence"];
  const lines = shownRuns()[1].filter((r) => r.change).map((r) => [when(r), r.runbook, r.draft ? "draft" : "", r.environment, r.target,
    r.ticket, r.reason, r.changed.join("; "), verified(r).join("; "), r.approved ? r.approvers.join(", ") : "", (r.approvals[0] || {}).at || "", r.approval_check.join("; "),
    r.plan_hash, r.outcome, r.signature, r.verified, r.audit_log.join("; "), r.operator, r.operator_arn, r.ci_run, r.run_id, r.preview_run, r.retention, r.html || ""]);
  const csv = [head, ...lines].map((row) => row.map(csvCell).join(",")).join("\\r\\n") + "\\r\\n";
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([csv], {type: "text/csv"}));
  a.download = `rovn-change-management-${new Date().toISOString().slice(0, 10)}.csv`;
  document.body.appendChild(a);
  a.click();
  a.remove();
}
fill($("f-env"), RUNS.map((r) => r.environment));
fill($("f-runbook"), RUNS.map((r) => r.runbook));
fill($("f-outcome"), RUNS.map((r) => r.outcome));
function fromHash() {
  const wanted = new URLSearchParams(location.hash.slice(1));
  for (const k of FILTERS) $("f-" + k).value = wanted.get(k) || "";
  render();
}
for (const k of FILTERS) $("f-" + k).addEventListener(k === "text" ? "input" : "change", render);
$("csv").addEventListener("click", downloadCsv);
window.addEventListener("hashchange", fromHash);
fromHash();
</script></body></html>
"""
