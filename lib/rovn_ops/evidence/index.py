"""`rovn-ops evidence index`: a static index.html at the evidence root that opens
from disk in a browser, with no server: one row per run with filters (runbook,
outcome, date; kept in the URL's #hash so a filtered view can be shared), the
change-management view of every production write, and changes per week."""
from __future__ import annotations

import html
import json
from collections import Counter
from datetime import datetime
from pathlib import Path

from . import manifest

OUTCOME_COLOURS = {"success": "#2e7d32", "failed": "#c62828", "interrupted": "#ef6c00",
                   "preview": "#90a4ae", "refused": "#6a1b9a"}


def _row(m: dict, root: Path) -> dict:
    rel = Path(m["path"]).relative_to(root)
    files = {f["kind"]: f"{rel}/{f['path']}" for f in m.get("files", [])}
    approvers = sorted({a for ap in m.get("approvals", []) for a in ap.get("approvers", [])})
    op = m.get("operator") or {}
    return {
        "run_id": m["run_id"], "runbook": m.get("runbook", "?"), "started_at": m.get("started_at", ""),
        "date": (m.get("started_at") or "")[:10], "environment": m.get("environment", ""),
        "operator": f"{(op.get('arn') or '?').rsplit('/', 1)[-1]} ({op.get('local_user', '?')})",
        "approvers": approvers, "outcome": m.get("outcome", "?"),
        "target": ", ".join(m.get("targets", [])) or "-", "error": m.get("error", ""),
        "html": files.get("html"), "notebook": files.get("notebook"), "manifest": f"{rel}/manifest.json",
        "artifacts": [f"{rel}/{f['path']}" for f in m.get("files", []) if f["kind"] == "artifact"],
        "audit_log_ids": m.get("audit_log_ids", []), "approvals": m.get("approvals", []),
        "change": bool(m.get("approvals")),
    }


def rows(root: Path) -> list[dict]:
    return [_row(m, root) for m in reversed(manifest.runs(root)) if not m.get("unreadable")]


def week_chart(data: list[dict]) -> str:
    """Production changes per ISO week, stacked by outcome, as inline SVG."""
    counts = Counter()
    for r in data:
        if r["change"]:
            y, w, _ = datetime.fromisoformat(r["started_at"]).isocalendar()
            counts[(f"{y}-W{w:02d}", r["outcome"])] += 1
    weeks = sorted({w for w, _ in counts})[-12:]
    if not weeks:
        return "<p class='muted'>No production changes yet.</p>"
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
    return (f"<svg role='img' aria-label='production changes per week by outcome' width='{width}' "
            f"height='{height + 20}'>{''.join(parts)}</svg><div>{legend}</div>")


def build(root: Path) -> Path:
    data = rows(root)
    page = TEMPLATE.replace("__DATA__", json.dumps(data).replace("</", "<\\/"))
    page = page.replace("__CHART__", week_chart(data))
    page = page.replace("__GENERATED__", html.escape(datetime.now().astimezone().isoformat(timespec="seconds")))
    out = root / "index.html"
    out.write_text(page)
    return out


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rōvn runbook evidence</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;width:100%;margin:8px 0 24px}
th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5} .muted{color:#777} code{font-size:12px}
.outcome{font-weight:600} .success{color:#2e7d32} .failed{color:#c62828} .interrupted{color:#ef6c00}
.preview{color:#607d8b} .chip{color:#fff;padding:1px 6px;border-radius:8px;font-size:12px}
#filters label{margin-right:16px}
</style></head><body>
<h1>Rōvn runbook evidence</h1>
<p class="muted">Generated __GENERATED__. Every run here is in the signed ledger: check it with
<code>rovn-ops evidence verify</code>.</p>
<h2>Production changes per week</h2>
__CHART__
<h2>Runs</h2>
<div id="filters">
<label>Runbook <select id="f-runbook"><option value="">all</option></select></label>
<label>Outcome <select id="f-outcome"><option value="">all</option></select></label>
<label>From <input type="date" id="f-from"></label>
<label>To <input type="date" id="f-to"></label>
<span id="count" class="muted"></span>
</div>
<table id="runs"><thead><tr><th>Started (UTC)</th><th>Runbook</th><th>Outcome</th><th>Target</th>
<th>Operator</th><th>Approvers</th><th>Run</th><th>Links</th></tr></thead><tbody></tbody></table>
<h2>Change management: every production write</h2>
<p class="muted">Each executed change with its approval (who, when, which plan) and its verification.</p>
<table id="changes"><thead><tr><th>When (UTC)</th><th>Runbook</th><th>Target</th><th>Approved by</th>
<th>Approved at</th><th>Plan hash</th><th>Verification</th><th>audit_log</th><th>Evidence</th></tr></thead>
<tbody></tbody></table>
<script>
const RUNS = __DATA__;
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));
const link = (href, text) => href ? `<a href="${esc(href)}">${text}</a>` : "";
function fill(select, values) {
  [...new Set(values)].sort().forEach((v) => select.insertAdjacentHTML("beforeend", `<option>${esc(v)}</option>`));
}
function renderRuns() {
  const f = {runbook: $("f-runbook").value, outcome: $("f-outcome").value, from: $("f-from").value, to: $("f-to").value};
  const shown = RUNS.filter((r) => (!f.runbook || r.runbook === f.runbook) && (!f.outcome || r.outcome === f.outcome)
    && (!f.from || r.date >= f.from) && (!f.to || r.date <= f.to));
  $("runs").tBodies[0].innerHTML = shown.map((r) => `<tr data-run="${esc(r.run_id)}">
    <td>${esc(r.started_at.replace("T", " ").slice(0, 19))}</td><td>${esc(r.runbook)}</td>
    <td class="outcome ${esc(r.outcome)}">${esc(r.outcome)}</td><td>${esc(r.target)}</td><td>${esc(r.operator)}</td>
    <td>${esc(r.approvers.join(", ") || "-")}</td><td><code>${esc(r.run_id)}</code></td>
    <td>${link(r.html, "notebook")} ${link(r.notebook, ".ipynb")} ${link(r.manifest, "manifest")}
    ${(r.artifacts || []).map((a) => link(a, esc(a.split("/").pop()))).join(" ")}</td></tr>`).join("");
  $("count").textContent = `${shown.length} of ${RUNS.length} runs`;
  const hash = new URLSearchParams(Object.entries(f).filter(([, v]) => v)).toString();
  history.replaceState(null, "", hash ? "#" + hash : location.pathname);
}
function renderChanges() {
  $("changes").tBodies[0].innerHTML = RUNS.filter((r) => r.change).map((r) => {
    const a = r.approvals[0] || {};
    const verified = r.outcome === "success" ? "verified" : `${r.outcome}: ${r.error}`;
    return `<tr><td>${esc(r.started_at.replace("T", " ").slice(0, 19))}</td><td>${esc(r.runbook)}</td>
      <td>${esc(r.target)}</td><td>${esc(r.approvers.join(", "))}</td><td>${esc((a.at || "").slice(0, 19))}</td>
      <td><code>${esc((a.plan_hash || "").slice(0, 12))}</code></td><td class="outcome ${esc(r.outcome)}">${esc(verified)}</td>
      <td>${esc(r.audit_log_ids.join(", "))}</td><td>${link(r.html, "notebook")} ${link(r.manifest, "manifest")}</td></tr>`;
  }).join("") || "<tr><td colspan=9 class=muted>No production writes yet.</td></tr>";
}
fill($("f-runbook"), RUNS.map((r) => r.runbook));
fill($("f-outcome"), RUNS.map((r) => r.outcome));
const FILTERS = ["runbook", "outcome", "from", "to"];
function fromHash() {
  const wanted = new URLSearchParams(location.hash.slice(1));
  for (const k of FILTERS) $("f-" + k).value = wanted.get(k) || "";
  renderRuns();
}
for (const k of FILTERS) $("f-" + k).addEventListener("change", renderRuns);
window.addEventListener("hashchange", fromHash);
fromHash();
renderChanges();
</script></body></html>
"""
