"""§5 X-Ray: the window's trace summaries, faults and errors grouped by URL path, the
paths the overview samples at 100% (/admin/*, /audit/*) first.

GetTraceSummaries is paged with NextToken
(https://docs.aws.amazon.com/xray/latest/api/API_GetTraceSummaries.html); each
TraceSummary carries Http.HttpURL and HasFault / HasError / HasThrottle."""
from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

import pandas as pd

from rovn_ops.safety import personal_data

PRIORITY = ("/admin/", "/audit/")  # §5: 100% sampled, read first
SLOW_SECONDS = 3.0  # a trace answering slower than this counts as slow
COLUMNS = ["path", "faults", "errors", "throttles", "slow", "slowest_s", "traces"]


def fetch(xray, window) -> list[dict]:
    """Every summary in the window, page after page."""
    out, token = [], None
    while True:
        kw = {"StartTime": window.start, "EndTime": window.end, "Sampling": False}
        page = xray.get_trace_summaries(**kw, **({"NextToken": token} if token else {}))
        out.extend(page.get("TraceSummaries", []))
        token = page.get("NextToken")
        if not token:
            return out


def path(summary: dict) -> str:
    """The URL's path, redacted as log lines are: a path can carry an SSN, an email or a
    token (/patients/123-45-6789), and the table is shown, archived and put in the facts.
    The query string is dropped (it is where parameters carry values)."""
    url = (summary.get("Http") or {}).get("HttpURL") or ""
    return personal_data.redact(urlsplit(url).path)[:200] or "(no URL)"


def priority(p: str) -> bool:
    return p.startswith(PRIORITY) or p in ("/admin", "/audit")


def by_path(summaries: list[dict]) -> pd.DataFrame:
    """One row per path with a fault, error, throttle or slow trace (ResponseTime over
    SLOW_SECONDS); /admin and /audit first, then by faults, errors, slow."""
    counts: dict[str, Counter] = {}
    for s in summaries:
        c = counts.setdefault(path(s), Counter())
        c["traces"] += 1
        c["faults"] += bool(s.get("HasFault"))
        c["errors"] += bool(s.get("HasError"))
        c["throttles"] += bool(s.get("HasThrottle"))
        took = float(s.get("ResponseTime") or 0)
        c["slow"] += took > SLOW_SECONDS
        c["slowest_ms"] = max(c["slowest_ms"], round(took * 1000))
    rows = [{"path": p, **{k: c[k] for k in COLUMNS[1:5] + ["traces"]}, "slowest_s": c["slowest_ms"] / 1000}
            for p, c in counts.items() if c["faults"] or c["errors"] or c["throttles"] or c["slow"]]
    rows.sort(key=lambda r: (not priority(r["path"]), -r["faults"], -r["errors"], -r["slow"], r["path"]))
    return pd.DataFrame(rows, columns=COLUMNS)


def facts(table: pd.DataFrame, limit: int = 10) -> list[dict]:
    """The table as the verdict's facts carry it (a few rows, plain ints)."""
    plain = {"path": str, "slowest_s": float}
    return [{k: plain.get(k, int)(v) for k, v in r.items()} for r in table.head(limit).to_dict("records")]
