"""The §5 alarms and their state changes in the window (DescribeAlarmHistory)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from rovn_ops.ecs import cloudwatch_alarms
from rovn_ops.triage.window import Window, utc


@dataclass(frozen=True)
class Transition:
    alarm: str
    at: datetime
    old: str
    new: str
    reason: str


def current(cloudwatch, prefix: str) -> list[dict]:
    """Every alarm under the prefix as DescribeAlarms holds it: metric alarms (plain,
    metric math, anomaly bands) and composites (cloudwatch_alarms names each shape)."""
    pages = cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix,
                                                                 AlarmTypes=cloudwatch_alarms.BOTH)
    return [a for page in pages for a in (page.get("MetricAlarms") or []) + (page.get("CompositeAlarms") or [])]


def history(cloudwatch, prefix: str, window: Window) -> list[Transition]:
    """State changes of the prefix's alarms within the window, oldest first."""
    items = []
    pages = cloudwatch.get_paginator("describe_alarm_history").paginate(
        HistoryItemType="StateUpdate", StartDate=window.start, EndDate=window.end, ScanBy="TimestampAscending")
    for page in pages:
        items += [i for i in page["AlarmHistoryItems"] if i["AlarmName"].startswith(prefix)]
    out = []
    for i in items:
        data = json.loads(i.get("HistoryData") or "{}")
        out.append(Transition(i["AlarmName"], utc(i["Timestamp"]), (data.get("oldState") or {}).get("stateValue", "?"),
                              (data.get("newState") or {}).get("stateValue", "?"),
                              (data.get("newState") or {}).get("stateReason", i.get("HistorySummary", ""))))
    return sorted(out, key=lambda t: t.at)


def table(alarms: list[dict], transitions: list[Transition]):
    import pandas as pd

    changed = {}
    for t in transitions:
        changed.setdefault(t.alarm, []).append(f"{t.at:%H:%M} {t.old}→{t.new}")
    return pd.DataFrame([{"alarm": a["AlarmName"], "state": a["StateValue"], "shape": cloudwatch_alarms.shape(a),
                          "since": utc(a["StateUpdatedTimestamp"]).strftime("%Y-%m-%d %H:%M"),
                          "changes in window": "; ".join(changed.get(a["AlarmName"], [])) or "-",
                          "description": a.get("AlarmDescription", "")} for a in alarms],
                        columns=["alarm", "state", "shape", "since", "changes in window", "description"])
