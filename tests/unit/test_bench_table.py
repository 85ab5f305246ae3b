"""bench/table.py: every bench row judged against its own target, the same way."""
from __future__ import annotations

import importlib.util
import json
from datetime import datetime, timezone
from pathlib import Path

_spec = importlib.util.spec_from_file_location("bench_table", Path(__file__).parents[2] / "bench" / "table.py")
table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(table)


def test_each_kind_of_target_is_judged_on_the_figure_it_names():
    assert table.passed({"name": "m", "ratio": 2.9, "target": "ratio <= 3"}) is True
    assert table.passed({"name": "m", "ratio": 3.1, "target": "ratio <= 3"}) is False
    assert table.passed({"name": "e", "throughput_ratio": 0.4, "target": ">= 0.5"}) is False
    # seconds: the median, not the ratio beside it
    assert table.passed({"name": "i", "median_s": 0.2, "ratio": 9.0, "target": "<= 0.3 s"}) is True
    assert table.passed({"name": "d", "median_s": 301, "ratio": 1.0, "target": "< 300s (§7 RTO)"}) is False
    assert table.passed({"name": "g", "ratio": 1.4, "target": "~1 (independent of archive size)"}) is True
    assert table.passed({"name": "g", "ratio": 1.6, "target": "~1"}) is False
    assert table.passed({"name": "g", "ratio": 0.6, "target": "~1"}) is False
    assert table.passed({"name": "r", "peak_rss_mib": 300, "target": "report"}) is None
    assert table.passed({"name": "x", "ratio": 5, "target": "ratio <= 1", "ok": True}) is True  # the bench's own word


def test_the_table_has_one_line_per_row_and_the_json_keeps_every_row(tmp_path, monkeypatch):
    monkeypatch.setattr(table, "RESULTS", tmp_path)
    rows = [table.normalize({"name": "migrations verify", "median_s": 0.1, "baseline_median_s": 0.05,
                             "ratio": 2.0, "target": "ratio <= 3"}),
            table.normalize({"name": "peak RSS", "peak_rss_mib": 300, "target": "report"})]
    text = table.render(rows)
    assert text.splitlines()[0].split() == ["measure", "value", "baseline", "ratio", "target", "pass/fail"]
    assert "migrations verify" in text and "2.00" in text and "pass" in text and text.count("\n") == 3
    path = table.write(rows, datetime(2026, 12, 7, 10, 0, 5, tzinfo=timezone.utc))
    assert path.name == "2026-12-07T100005Z.json"
    assert [r["pass"] for r in json.loads(path.read_text())["rows"]] == [True, None]
