"""Everything triage reads, in one object. A source that cannot be read (Sentry down,
a log group missing) is reported as unavailable, never the end of triage: on-call
still gets the rest within the minute."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from rovn_ops.audit import log as audit_log
from rovn_ops.ecs import service as status
from rovn_ops.triage import alarms, changes, logs, metrics, sentry, traces
from rovn_ops.triage.window import Window

CHANGES_BEFORE_MINUTES = 120  # "just before" the window: a deploy an hour before still counts
SENTRY_HORIZON = timedelta(hours=24)  # "since the last deploy", but no further back than this


@dataclass
class Findings:
    window: Window
    gathered_at: datetime
    service: dict | None = None
    alarms: list = field(default_factory=list)
    transitions: list = field(default_factory=list)
    metrics: object = None  # pandas DataFrame, one row per minute
    health: status.Health | None = None
    health_source: str = ""
    changes: list = field(default_factory=list)
    last_deploy: changes.Change | None = None
    sentry_issues: list = field(default_factory=list)
    logs: logs.Summary | None = None
    traces: list = field(default_factory=list)  # X-Ray trace summaries of the window (§5)
    integrity: list = field(default_factory=list)  # what is wrong with audit_log itself (audit.log.integrity)
    unavailable: dict = field(default_factory=dict)  # source -> why

    def note(self, source: str, error: Exception) -> None:
        self.unavailable[source] = f"{type(error).__name__}: {error}"

    # displays ---------------------------------------------------------------
    def sources(self):
        import pandas as pd

        rows = [{"source": s, "read": s not in self.unavailable, "note": self.unavailable.get(s, "")}
                for s in ("ecs", "alarms", "metrics", "health", "audit_log", "sentry", "logs")]
        return pd.DataFrame(rows, columns=["source", "read", "note"])

    def alarm_table(self):
        return alarms.table(self.alarms, self.transitions)

    def ecs_table(self):
        import pandas as pd

        if not self.service:
            return pd.DataFrame(columns=["service"])
        return status.overview(self.service)

    def deployments(self):
        return status.deployments(self.service) if self.service else None

    def service_events(self, count: int = 10):
        import pandas as pd

        if not self.service:
            return pd.DataFrame(columns=["at", "message"])
        return status.events(self.service, count)

    def health_table(self):
        import pandas as pd

        if self.health is None:
            return pd.DataFrame(columns=["url", "ok"])
        t = self.health.table()
        t.insert(0, "source", self.health_source)
        return t

    def changes_table(self):
        return changes.table(self.changes, self.window)

    def sentry_table(self):
        return sentry.table(self.sentry_issues)

    def trace_table(self):
        """§5 X-Ray: faults and errors by URL path, /admin/* and /audit/* first."""
        return traces.by_path(self.traces)

    def log_table(self, n: int):
        import pandas as pd

        return self.logs.top(n) if self.logs else pd.DataFrame(columns=["count", "message", "first", "last"])


def _source(found: Findings, name: str, fn, *args):
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001 - one source down must not stop triage
        found.note(name, e)
        return None


def gather(ctx, window: Window) -> Findings:
    """Every source at once (each is a few round trips; in sequence they add up):
    clients and the database connection are made first, then the reads run in threads."""
    from concurrent.futures import ThreadPoolExecutor

    p = ctx.params
    found = Findings(window, datetime.now(timezone.utc))
    cw, logs_client, xray = ctx.client("cloudwatch"), ctx.client("logs"), ctx.client("xray")
    ctx.client("ecs"), ctx.client("secretsmanager")
    conn = _source(found, "audit_log", lambda: ctx.db)
    group = p.log_group or f"/ecs/{p.service}"
    with ThreadPoolExecutor(max_workers=6) as pool:
        run = lambda name, fn, *args: pool.submit(_source, found, name, fn, *args)  # noqa: E731
        service = run("ecs", status.describe_service, ctx)
        current = run("alarms", alarms.current, cw, p.alarm_prefix)
        history = run("alarms", alarms.history, cw, p.alarm_prefix, window)
        health = pool.submit(_health, ctx, found)
        log_summary = run("logs", logs.summarise, logs_client, group, window)
        trace_summaries = run("xray", traces.fetch, xray, window)
        audit = pool.submit(_audit_then_sentry, ctx, found, conn)
        found.service = service.result()
        dims = metrics.dimensions(load_balancer=load_balancer(ctx, found.service), rds_instance=p.rds_instance,
                                  cluster=p.cluster, service=p.service)
        raw = run("metrics", metrics.fetch, cw, window, dims)
        found.alarms, found.transitions = current.result() or [], history.result() or []
        found.health, found.health_source = health.result()
        found.logs = log_summary.result()
        found.traces = trace_summaries.result() or []
        audit.result()
        found.metrics = metrics.frame(raw.result() or {}, window)
    return found


def _audit_then_sentry(ctx, found: Findings, conn) -> None:
    """Sentry's baseline is the last deploy, so audit_log is read first."""
    if conn is not None:
        # Up to this moment when the window ends now (it ends at the whole minute): a rollback
        # a few seconds ago is what happened after the suspected change, never to be advised again.
        upto = replace(found.window, end=found.gathered_at) if not ctx.params.window_end else found.window
        found.changes = _source(found, "audit_log", changes.read, conn, upto, CHANGES_BEFORE_MINUTES) or []
        found.last_deploy = _source(found, "audit_log", changes.last_deploy, conn, found.window.end)
        # audit_log is the source of truth (§7): altered rows or a dropped trigger are a §6 data-integrity event
        found.integrity = _source(found, "audit_log", audit_log.integrity, conn) or []
    found.sentry_issues = _source(found, "sentry", _sentry, ctx, found) or []


def load_balancer(ctx, service: dict | None) -> str:
    """The ALB's metric dimension: the parameter, else from the service's target group."""
    if ctx.params.load_balancer or not service or not service.get("loadBalancers"):
        return ctx.params.load_balancer
    tg = service["loadBalancers"][0].get("targetGroupArn")
    if not tg:
        return ""
    arns = ctx.client("elbv2").describe_target_groups(TargetGroupArns=[tg])["TargetGroups"][0]["LoadBalancerArns"]
    return arns[0].split(":loadbalancer/", 1)[-1] if arns else ""


def _health(ctx, found: Findings):
    """The canary's latest finished run when one is named, else /health polled now."""
    p = ctx.params
    if p.canary:
        try:
            runs = ctx.client("synthetics").get_canary_runs(Name=p.canary, MaxResults=20)["CanaryRuns"]
            verdict = canary_health(p.canary, runs)
            if verdict is not None:
                return verdict, "synthetics canary"
            # none finished yet (a new canary's first check is RUNNING): not a failure
            return status.health(p.health_url), f"/health polled now (canary {p.canary} has no finished run yet)"
        except Exception as e:  # noqa: BLE001 - fall back to polling /health ourselves
            found.note("canary", e)
    return status.health(p.health_url), "/health polled now"


def canary_health(name: str, runs: list[dict]) -> status.Health | None:
    """The newest run that finished, PASSED or FAILED; None when none has. A run in
    State RUNNING has no result yet (CanaryRunStatus: RUNNING | PASSED | FAILED,
    https://docs.aws.amazon.com/AmazonSynthetics/latest/APIReference/API_CanaryRunStatus.html),
    so it is neither a pass nor a failure."""
    done = [r for r in runs if r.get("Status", {}).get("State") in ("PASSED", "FAILED")]
    if not done:
        return None
    last = max(done, key=lambda r: r.get("Timeline", {}).get("Completed") or r.get("Timeline", {}).get("Started")
               or datetime.min.replace(tzinfo=timezone.utc))
    ok = last["Status"]["State"] == "PASSED"
    return status.Health(f"canary {name}", ok, None, None, "" if ok else last["Status"].get("StateReason", ""))


def _sentry(ctx, found: Findings):
    p = ctx.params
    if not p.sentry_url:
        raise LookupError("no sentry_url configured")
    if not p.sentry_token_secret:
        raise LookupError("no sentry_token_secret configured")
    from rovn_ops.safety import secret_values

    token = secret_values.read(ctx.client("secretsmanager"), p.sentry_token_secret.removeprefix("secret:"))
    since = max(found.last_deploy.at if found.last_deploy else found.window.start,
                found.window.start - SENTRY_HORIZON)
    return sentry.classify(sentry.fetch(p.sentry_url, p.sentry_org, p.sentry_project, token, since), since)
