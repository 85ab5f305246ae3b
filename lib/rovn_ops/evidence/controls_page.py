"""The control matrix page of the index (issue 27, build 8): each overview rule (§2–§11) from
the registry (core/controls.py) with the checks that enforce it (module and function), the
tests that prove it with the last CI result found (a JUnit XML report, `$ROVN_CI_RESULTS` or
test-artifacts/junit.xml), and the latest production runs of the runbooks that exercise it.
Rules no code enforces are listed as gaps."""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET  # noqa: S405 - our own CI's report, not input from the world
from pathlib import Path

from rovn_ops.core import controls, escape, paths


def ci_results() -> dict[str, str]:
    """{test file: "N passed, M failed"} from the last JUnit report, or {}."""
    report = Path(os.environ.get("ROVN_CI_RESULTS") or paths.root() / "test-artifacts" / "junit.xml")
    try:
        cases = ET.parse(report).getroot().iter("testcase")
    except (OSError, ET.ParseError):
        return {}
    tally: dict[str, list[int]] = {}
    for case in cases:
        name = case.get("classname", "").rsplit(".", 1)[0].replace(".", "/") + ".py"
        failed = any(child.tag in ("failure", "error") for child in case)
        tally.setdefault(name, [0, 0])[failed] += 1
    return {k: f"{p} passed, {f} failed" for k, (p, f) in tally.items()}


def page(data: list[dict]) -> str:
    e = escape.html
    results = ci_results()
    rows = []
    for rule in controls.RULES:
        prod = [r for r in data if r.get("environment") == "prod" and r["runbook"] in rule.runbooks][:3]
        checks = "<br>".join(f"<code>{e(c)}</code>" for c in rule.checks) or "<span class='badge bad'>gap</span> " \
            "no code enforces it"
        tests = "<br>".join(f"<code>{e(t)}</code>: {e(results.get(t, 'no CI result recorded here'))}"
                            for t in rule.tests) or "-"
        runs = "<br>".join(f"<code>{e(r['run_id'])}</code> {e(r['outcome'])}" for r in prod) or "none in prod"
        rows.append(f"<tr data-rule='{e(rule.id)}'><td>{e(rule.id)}</td><td>{e(rule.text)}</td><td>{checks}</td>"
                    f"<td>{tests}</td><td>{runs}</td></tr>")
    gaps = ", ".join(e(r.id) for r in controls.gaps()) or "none"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rōvn control matrix</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>body{{font:14px system-ui,sans-serif;margin:24px}} table{{border-collapse:collapse;width:100%}}
th,td{{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}} th{{background:#f5f5f5}}
.badge{{padding:0 6px;border-radius:8px;color:#fff;background:#c62828;font-size:12px}}</style></head><body>
<h1>Control matrix</h1>
<p><a href="index.html">Back to the index</a>. Each rule of the deployment overview, declared once in
<code>lib/rovn_ops/core/controls.py</code>; each check names its rule (<code>@controls.enforces</code>), and a
test fails when the two disagree. Gaps: {gaps}.</p>
<table id="controls"><thead><tr><th>Rule</th><th>What it says</th><th>Enforced by</th><th>Proved by (last CI)</th>
<th>Latest production runs</th></tr></thead><tbody>{''.join(rows)}</tbody></table></body></html>
"""
