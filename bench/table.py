"""One table of every bench row: measure, baseline, ratio, target, pass/fail (issue 24,
build 5), printed and written as JSON under bench/results/.

Each bench keeps its own row (what it measured, in its own words); this module reads
the common parts: the ratio against the baseline measured in the same run, and the
target, a short rule such as `ratio <= 3`, `>= 0.5` (a throughput ratio), `<= 5 s` (a
median in seconds, shown with its ratio) or `~1` (flat: within 1.5x either way).
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
_RULE = re.compile(r"^\s*(?:ratio\s*)?(<=|>=|<|>|~)\s*([0-9.]+)\s*(s|x)?\b")
FLAT = 1.5  # `~1`: neither side more than 1.5x the other


def ratio(row: dict) -> float | None:
    value = row.get("ratio", row.get("throughput_ratio"))
    return None if value is None else float(value)


def baseline(row: dict) -> str:
    """What the ratio is against, in a few words."""
    if row.get("baseline"):
        return str(row["baseline"])
    if "sha256sum_seconds" in row:
        return f"sha256sum {row['sha256sum_seconds']:.2f}s"
    if "baseline_median_s" in row:
        return f"{row['baseline_median_s']:.3f}s"
    if "small_ms" in row:
        return f"{row['small_ms']:.1f} ms at {row['small_runs']} runs"
    return "-"


def measured(row: dict) -> str:
    for key, fmt in (("median_s", "{:.3f}s"), ("seconds", "{:.2f}s"), ("grown_ms", "{:.1f} ms"),
                     ("ours", "{}"), ("peak_rss_mib", "{} MiB")):
        if key in row:
            return fmt.format(row[key])
    return "-"


def passed(row: dict) -> bool | None:
    """The row against its target; None when the target only asks for a report."""
    if "ok" in row:
        return bool(row["ok"])
    rule = _RULE.match(str(row.get("target", "")))
    if not rule:
        return None
    op, limit, unit = rule.group(1), float(rule.group(2)), rule.group(3)
    value = row.get("median_s") if unit == "s" else ratio(row)
    if value is None:
        return None
    if op == "~":
        return limit / FLAT <= value <= limit * FLAT
    return {"<=": value <= limit, ">=": value >= limit, "<": value < limit, ">": value > limit}[op]


def normalize(row: dict) -> dict:
    r = ratio(row)
    return {"measure": row["name"], "value": measured(row), "baseline": baseline(row),
            "ratio": None if r is None else round(r, 3), "target": str(row.get("target", "-")),
            "pass": passed(row), "row": row}


def render(rows: list[dict]) -> str:
    header = ("measure", "value", "baseline", "ratio", "target", "pass/fail")
    body = [(n["measure"], n["value"], n["baseline"], "-" if n["ratio"] is None else f"{n['ratio']:.2f}",
             n["target"], {True: "pass", False: "FAIL", None: "report"}[n["pass"]]) for n in rows]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), fmt.format(*("-" * w for w in widths)),
                      *(fmt.format(*line) for line in body)])


def write(rows: list[dict], now: datetime | None = None) -> Path:
    """bench/results/<date>T<time>Z.json: two runs in a day both kept."""
    now = now or datetime.now(timezone.utc)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{now:%Y-%m-%dT%H%M%SZ}.json"
    path.write_text(json.dumps({"at": now.isoformat(timespec="seconds"), "rows": rows}, indent=2, default=str) + "\n")
    return path


def summarize(raw: list[dict]) -> tuple[str, Path]:
    rows = [normalize(r) for r in raw]
    return render(rows), write(rows)
