"""`rovn-ops scheduled NAME`: what a scheduled ECS task runs. It takes the committed
entry of parameters/schedules.yaml (the image's, never a copy held in AWS), runs it,
and when it ends badly pages as the entry says (§5): P1 to Slack, P0 to PagerDuty.
Nobody watches a scheduled run; a failure nobody hears of is the failure to avoid."""
from __future__ import annotations

from rovn_ops.audit import notify
from rovn_ops.core import aws
from rovn_ops.core.errors import BadInput
from rovn_ops.core.environment import prepare_environment
from rovn_ops.core import paths
from rovn_ops.protocol.authorization import committed_file
from rovn_ops.safety import params, secret_values
from rovn_ops.safety.schedules_file import Entry, entry

PAGED = {1: "failed", 2: "bad input", 3: "refused", 4: "needs attention"}


def _verify_bucket(env: str) -> tuple[int, str]:
    from rovn_ops.evidence import archive, verify

    settings = archive.Settings.of(env)
    bucket = verify.Bucket(aws.client("s3", env=env, region=settings.region), settings.bucket)
    report = verify.verify(bucket, env=env, conn=archive.connect(env), bucket=bucket)
    print(report, flush=True)
    return (0 if report.ok else 1), f"evidence verify --bucket: {'OK' if report.ok else 'FAILED'}"


def _reconcile(env: str) -> tuple[int, str]:
    """The last 24 h of AWS and the database against the archive of record (pulled to a
    scratch directory): anything unexplained, or a new revision gap, pages."""
    import tempfile
    from datetime import datetime, timedelta, timezone
    from pathlib import Path

    from rovn_ops.core import escape
    from rovn_ops.evidence import archive, pull, reconcile

    settings = archive.Settings.of(env)
    now = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory() as scratch, archive.connect(env) as conn:
        pull.pull(aws.client("s3", env=env, region=settings.region), settings.bucket, Path(scratch))
        report = reconcile.reconcile(Path(scratch), env, now - timedelta(days=1), now, conn)
    print("\n".join(escape.terminal(line) for line in reconcile.lines(report)), flush=True)
    bad = report["unexplained"] or report["new_gaps"]
    return (1 if bad else 0), (f"evidence reconcile: {report['unexplained']} unexplained change(s), "
                               f"{len(report['new_gaps'])} new revision gap(s)")


def _page(e: Entry, env: str, code: int, what: str) -> notify.Delivery:
    defaults = params.environment_defaults(env)
    sm = aws.client("secretsmanager", env=env, region=defaults["region"])

    def url(name: str):
        value = defaults.get(name, "")
        return secret_values.read(sm, value.removeprefix("secret:")) if value.startswith("secret:") else value

    text = f"[{e.page}] scheduled {e.name} ({env}): {what}, exit code {code} ({PAGED.get(code, 'error')})"
    if e.page == "P0":
        key = defaults.get("pagerduty_routing_key", "")
        return notify.pagerduty(url("pagerduty_webhook_url"), text, source=f"rovn-ops scheduled {e.name}",
                                dedup_key=f"rovn-scheduled-{e.name}",
                                routing_key=url("pagerduty_routing_key") if key else "")
    return notify.slack(url("slack_webhook_url"), text)


def run(name: str, env: str) -> int:
    from rovn_ops.run import runner

    e = entry(name)
    # the reviewed file: in a checkout, as committed; in the suite's image, as built from main
    committed_file(paths.parameters() / "schedules.yaml", env, "schedules", outside_git_ok=True)
    prepare_environment(env)
    if e.runbook:
        try:
            result = runner.run(e.runbook, env=env, assignments=e.assignments())
            code, what = result.exit_code, f"{e.runbook} run {result.run_id}: {result.outcome}"
            print(f"run {result.run_id}: {result.outcome}", flush=True)
        except BadInput as bad:  # the committed entry no longer fits its runbook: nothing ran, and someone must know
            code, what = 2, f"{e.runbook} refused its parameters: {bad}"
            print(what, flush=True)
    elif e.command[:2] == ["evidence", "reconcile"]:
        code, what = _reconcile(env)
    else:
        code, what = _verify_bucket(env)
    if code:
        print(f"scheduled {name}: {_page(e, env, code, what)}", flush=True)
    return code
