"""The §5 metrics, per minute, in one GetMetricData read: ALB requests, target and
ELB 5xx, target p95 latency; RDS CPU and connections; ECS running and desired tasks.

CloudWatch's metric math would give the 5xx rate; moto has none, so the rate is
computed here, per minute: (HTTPCode_Target_5XX_Count + HTTPCode_ELB_5XX_Count) over
the requests. The load balancer's own 5xx are the outage's: with every task down the
targets answer nothing (target 5xx 0) and the ALB answers 503 to everyone. RequestCount
may leave out requests the ALB rejected before choosing a target, so the share is over
the larger of RequestCount and the 5xx count, never above 100%.
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
"""
from __future__ import annotations

from dataclasses import dataclass

from rovn_ops.triage.window import Window

PERIOD = 60


@dataclass(frozen=True)
class Series:
    column: str
    namespace: str
    metric: str
    stat: str
    scope: str  # which dimensions: alb, rds or ecs


SERIES = (
    Series("requests", "AWS/ApplicationELB", "RequestCount", "Sum", "alb"),
    Series("target_5xx", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", "alb"),
    Series("elb_5xx", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum", "alb"),
    Series("p95_latency_s", "AWS/ApplicationELB", "TargetResponseTime", "p95", "alb"),
    Series("rds_cpu_pct", "AWS/RDS", "CPUUtilization", "Average", "rds"),
    Series("rds_connections", "AWS/RDS", "DatabaseConnections", "Average", "rds"),
    Series("ecs_running", "ECS/ContainerInsights", "RunningTaskCount", "Average", "ecs"),
    Series("ecs_desired", "ECS/ContainerInsights", "DesiredTaskCount", "Average", "ecs"),
)
COLUMNS = [s.column for s in SERIES] + ["error_rate_pct"]


def dimensions(*, load_balancer: str, rds_instance: str, cluster: str, service: str) -> dict[str, list[dict]]:
    return {"alb": [{"Name": "LoadBalancer", "Value": load_balancer}],
            "rds": [{"Name": "DBInstanceIdentifier", "Value": rds_instance}],
            "ecs": [{"Name": "ClusterName", "Value": cluster}, {"Name": "ServiceName", "Value": service}]}


def queries(dims: dict[str, list[dict]]) -> list[dict]:
    return [{"Id": f"m{i}", "Label": s.column, "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": s.namespace, "MetricName": s.metric, "Dimensions": dims[s.scope]},
        "Period": PERIOD, "Stat": s.stat}} for i, s in enumerate(SERIES) if dims[s.scope][0]["Value"]]


def fetch(cloudwatch, window: Window, dims: dict[str, list[dict]]) -> dict[str, tuple[list, list]]:
    """{column: (timestamps, values)}, every page of one GetMetricData request."""
    by_id = {f"m{i}": s.column for i, s in enumerate(SERIES)}
    out: dict[str, tuple[list, list]] = {}
    kwargs = {"MetricDataQueries": queries(dims), "StartTime": window.start, "EndTime": window.end,
              "ScanBy": "TimestampAscending"}
    if not kwargs["MetricDataQueries"]:
        return out
    while True:
        page = cloudwatch.get_metric_data(**kwargs)
        for r in page["MetricDataResults"]:
            ts, vs = out.setdefault(by_id[r["Id"]], ([], []))
            ts.extend(r["Timestamps"])
            vs.extend(r["Values"])
        if not page.get("NextToken"):
            return out
        kwargs["NextToken"] = page["NextToken"]


def frame(raw: dict[str, tuple[list, list]], window: Window):
    """One row per minute of the window (missing minutes are NaN), plus the 5xx rate."""
    import numpy as np
    import pandas as pd

    index = pd.date_range(window.start, window.end, freq="1min", inclusive="left", name="minute")
    df = pd.DataFrame(index=index, columns=COLUMNS, dtype="float64")
    for column, (ts, vs) in raw.items():
        if ts:
            s = pd.Series(vs, index=pd.DatetimeIndex(ts).tz_convert("UTC").floor("min"), dtype="float64")
            s = s.groupby(level=0).last()
            df[column] = s.reindex(index)
    errors = df[["target_5xx", "elb_5xx"]].sum(axis=1, min_count=1)
    # ELB reports a 5xx count only when nonzero: a minute with requests and neither count had none
    errors = errors.mask(errors.isna() & df["requests"].notna(), 0.0)
    served = np.fmax(df["requests"], errors)
    with np.errstate(divide="ignore", invalid="ignore"):
        df["error_rate_pct"] = (errors / served.where(served > 0)) * 100
    return df


def sustained(mask, minutes: int):
    """Runs of at least `minutes` consecutive True minutes: [(start, end, length)]."""
    runs, start, prev, length = [], None, None, 0
    for at, on in mask.items():
        if on:
            start = at if start is None else start
            length += 1
            prev = at
        else:
            if start is not None and length >= minutes:
                runs.append((start, prev, length))
            start, length = None, 0
    if start is not None and length >= minutes:
        runs.append((start, prev, length))
    return runs


def summary(df):
    """A small table: per metric, the window's median, peak and last value."""
    import pandas as pd

    rows = []
    for col in COLUMNS:
        s = df[col].dropna()
        rows.append({"metric": col, "points": len(s),
                     "median": round(float(s.median()), 3) if len(s) else None,
                     "peak": round(float(s.max()), 3) if len(s) else None,
                     "last": round(float(s.iloc[-1]), 3) if len(s) else None})
    return pd.DataFrame(rows, columns=["metric", "points", "median", "peak", "last"])
