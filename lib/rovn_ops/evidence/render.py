"""The archive's second stage: the HTML copy of an executed notebook (nbconvert), made
from the scrubbed notebook (archive.py runs the stages).

It opens with a summary header, so an auditor learns in seconds who ran what, when,
who approved which plan, how it was verified and how it ended; the notebook follows.
Outcomes and verdicts are CSS badges with words, never emoji (a stock Chromium has
no colour-emoji font: they render as empty boxes).

nbconvert's `basic` template (cells and outputs, no page chrome) in a small page of
our own: a fraction of the `lab` template's render time and ~300 KB of CSS less per
run, and it still opens from disk in any browser.
"""
from __future__ import annotations

import sys
from pathlib import Path

from rovn_ops.core import escape, identity

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">
<title>{title}</title>
<style>
body{{font:14px system-ui,sans-serif;max-width:1200px;margin:24px auto;padding:0 16px;color:#222}}
.jp-InputArea-editor,.input_area,pre{{background:#f6f8fa;border:1px solid #e1e4e8;border-radius:4px;padding:6px;
  overflow-x:auto;font:12px ui-monospace,monospace}}
.jp-InputPrompt,.jp-OutputPrompt,.prompt{{display:none}}
.jp-Cell,.cell{{margin:12px 0}} .jp-RenderedText pre,.output_text pre{{background:none;border:none}}
table{{border-collapse:collapse;margin:6px 0;font-size:12px}} th,td{{border:1px solid #ddd;padding:3px 6px;text-align:left}}
th{{background:#f5f5f5}} .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"] pre,
.output_error pre{{background:#fdecea;border:1px solid #f5c2c0}}
#run-summary{{border:1px solid #ccc;border-radius:6px;padding:8px 16px;margin-bottom:24px;background:#fafafa}}
#run-summary th{{width:11em;background:none;border:none;vertical-align:top}} #run-summary td{{border:none}}
.badge{{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;font-weight:600;color:#fff;background:#607d8b}}
.badge.success,.badge.pass{{background:#2e7d32}} .badge.failed,.badge.FAIL{{background:#c62828}}
.badge.refused{{background:#6a1b9a}} .badge.interrupted,.badge.attention,.badge.warn{{background:#ef6c00}}
</style></head><body>
{header}
<p style="color:#777">Executed notebook: {title}. The signed original is the .ipynb beside this file.</p>
{body}
</body></html>
"""


_EXPORTER: list = []


def exporter():
    """One exporter per process, its templates compiled through jinja's bytecode cache
    (jinja's own private per-user directory): a run renders with what an earlier run compiled."""
    if not _EXPORTER:
        import jinja2
        from nbconvert import HTMLExporter
        from nbconvert.exporters.templateexporter import TemplateExporter

        class Exporter(HTMLExporter):
            def from_notebook_node(self, nb, resources=None, **kw):
                """HTMLExporter's, without its BeautifulSoup pass over the page (half the render
                time, to give images a placeholder alt text and cells a tabindex)."""
                from nbconvert.filters.highlight import Highlight2HTML
                from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

                info = nb.metadata.get("language_info", {})
                lexer = info.get("pygments_lexer", info.get("name"))
                resources = self._init_resources(resources)
                self.register_filter("highlight_code", self.filters.get(
                    "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
                self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                    notebook_metadata=self._nb_metadata, parent=self, resources=resources))
                return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

        e = Exporter(template_name="basic")
        e.environment.bytecode_cache = jinja2.FileSystemBytecodeCache()
        _EXPORTER.append(e)
    return _EXPORTER[0]


def prewarm() -> None:
    """Build the exporter and load its templates ahead of time (the runner does it
    while the kernel works)."""
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    sample = new_notebook(cells=[new_markdown_cell("# a *step*"), new_code_cell("x = 1", outputs=[
        new_output("execute_result", {"text/plain": "1", "text/html": "<b>1</b>"}, execution_count=1)])],
        metadata={"language_info": {"name": "python", "pygments_lexer": "ipython3"}})
    exporter().from_notebook_node(sample)  # templates, lexers and markdown, loaded here


def stage(notebook: Path, header: dict) -> Path | None:
    """The run's HTML copy beside its scrubbed notebook, or None: without a notebook there
    is nothing to copy, and a failed copy is a warning (the notebook itself is the evidence).
    `header`: header_facts, redacted as the notebook was."""
    try:
        return html(notebook, header) if notebook.exists() else None
    except Exception as e:  # noqa: BLE001 - the notebook itself is the evidence
        print(f"rovn-ops: warning: HTML copy failed: {type(e).__name__}: {e}", file=sys.stderr)
        return None


def html(notebook: Path, header: dict | None = None) -> Path:
    import nbformat

    body, _ = exporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    out = notebook.with_suffix(".html")
    out.write_text(PAGE.format(title=escape.html(notebook.name), body=body,
                               header=summary_header(header) if header else ""))
    return out


def header_facts(*, run_id: str, runbook: str, parameters: dict, operator: dict, mode: str, started,
                 outcome: str, error: str, result: dict) -> dict:
    """What the header shows, from what the run recorded (before the manifest is built)."""
    from datetime import datetime, timezone

    from rovn_ops.evidence import changes
    from rovn_ops.evidence.report import split_next

    final = result.get("outcome") if outcome == "success" and result.get("outcome") else outcome
    approvals = result.get("approvals", [])
    changed = changes.lines(result.get("summary"), result.get("facts"), result.get("plan_changes"), final)
    return {"run_id": run_id, "runbook": runbook, "environment": parameters.get("env"), "mode": mode,
            "who": f"{identity.who(operator)}, {operator.get('arn')}"
                   + (f", {run}" if (run := ((operator.get("person") or {}).get("ci") or {}).get("run_url")) else ""),
            "when": f"{started:%Y-%m-%d %H:%M:%S} → {datetime.now(timezone.utc):%H:%M:%S} UTC",
            "targets": list(dict.fromkeys(result.get("targets", []))), "changed": changed,
            "approvals": [_approval_line(a) for a in approvals],
            "plan_hash": result.get("plan_hash"), "verification": result.get("verification", []),
            "ticket": parameters.get("ticket") or "", "reason": parameters.get("reason") or "",
            "writes": "ticket" in parameters, "outcome": final, "error": split_next(error)[0],
            "audit_log": [f"{a['id']} ({a['row_hash'][:12]})" for a in result.get("audit_log", [])]}


def _approval_line(a: dict) -> str:
    """One approval as the header shows it, saying what it rests on: approvers' signed records
    (evidence verify and the index check each signature), or only names the operator gave, which
    approve nothing (the auditor sample: 'Approvals: giles' read as approved beside an index and
    export that said NOT APPROVED)."""
    names, plan = ", ".join(a.get("approvers", [])), str(a.get("plan_hash", ""))[:12]
    records = a.get("records") or []
    if not records:
        return f"NOT APPROVED: {names} named by the operator, no signed approval record (plan {plan})"
    ids = ", ".join(str(r.get("id", "?")) for r in records)
    return f"{names}: signed approval records {ids}, at {str(a.get('at', ''))[:19]}, plan {plan}"


def _badge(word: str) -> str:
    return f'<span class="badge {escape.html(word)}">{escape.html(word)}</span>'


def summary_header(f: dict) -> str:
    e = escape.html
    checks = "<br>".join(f"{_badge(c.get('verdict', '?'))} {e(c.get('check', ''))}: {e(str(c.get('detail', '')))}"
                         for c in f["verification"])
    rows = [("Outcome", _badge(f["outcome"]) + (f" {e(f['error'])}" if f["error"] else "")),
            ("Runbook", f"{e(f['runbook'])} ({e(str(f['environment']))}, {e(f['mode'])})"),
            ("Who", e(f["who"])), ("When", e(f["when"])),
            ("Target", e(", ".join(f["targets"]) or "-")),
            *([("Ticket", f"{e(f['ticket']) or 'none'} · {e(f['reason']) or 'no reason given'}")] if f.get("writes") else []),
            ("What changed", "<br>".join(map(e, f["changed"])) or ("nothing (preview only)"
                                                                  if f["outcome"] == "preview" else "-")),
            ("Approvals", "<br>".join(map(e, f["approvals"])) or "none"),
            ("Verification", checks or "-"),
            ("audit_log", e(", ".join(f["audit_log"]) or "no row")),
            ("Run id", f"<code>{e(f['run_id'])}</code>")]
    if f.get("plan_hash"):
        rows.insert([k for k, _ in rows].index("Approvals"), ("Plan hash", f"<code>{e(f['plan_hash'])}</code>"))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<section id="run-summary"><h2>Run summary</h2><table>{body}</table></section>'

