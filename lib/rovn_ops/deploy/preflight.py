"""The deploy's preflight (who deploys, §10, is protocol.authorize): whether the service is steady, which
migrations the source brings (§3), and which manual snapshots outlived their 90
days. Each adds a row to the checks table; a failed row refuses the deploy."""
from __future__ import annotations

from pathlib import Path

from ..migrations import engine, lint, phi, snapshot
from ..status import short_td
from .checks import Checks


def foreign_in_flight(service: dict) -> str | None:
    """The one check of "a deployment this change did not start is in flight" (issue 20,
    class 8): deploy and rollback ask it at the preview and again at execute, under the
    change lock (execute re-derives the plan there). A deploy resuming its own rollout
    does not ask (resume.py knows that deployment as ours). None when the service has one
    deployment, PRIMARY and COMPLETED; else the deployments, in one line."""
    deps = service["deployments"]
    primary = next((d for d in deps if d["status"] == "PRIMARY"), None)
    if len(deps) == 1 and primary and primary.get("rolloutState") == "COMPLETED":
        return None
    return "a deployment is in flight: " + ", ".join(
        f"{d['status']} {short_td(d['taskDefinition'])} {d.get('rolloutState', '')}" for d in deps)


def stable(checks: Checks, service: dict) -> None:
    problems = []
    foreign = foreign_in_flight(service)
    if foreign:
        problems.append(foreign)
    elif service["runningCount"] != service["desiredCount"]:
        problems.append(f"running {service['runningCount']} of {service['desiredCount']} desired")
    checks.add("service stable, no deployment in flight", problems,
               f"{short_td(service['taskDefinition'])}: {service['runningCount']}/{service['desiredCount']} running")


def migrations(checks: Checks, conn, directory: Path, registry: dict) -> engine.Report:
    report = engine.verify(conn, directory)
    checks.add("migrations integrity", report.problems, str(report), "§3")
    by_name = {m.name: m for m in report.files}
    pending = [by_name[n] for n in report.pending]
    lint_problems = [p for m in pending for p in lint.check(m)]
    checks.add("pending migrations idempotent", lint_problems,
               ", ".join(report.pending) + " (applied before traffic)" if pending else "none pending", "§3")
    touching = {m.name: sorted(phi.touched(m, registry)) for m in pending}
    touching = {k: v for k, v in touching.items() if v}
    if touching:
        checks.add("PHI migrations", [f"{n} touches PHI ({', '.join(c)}): needs two approvers other than the "
                                      "executor" for n, c in touching.items()], rule="§3", warn=True)
    return report


def snapshots(checks: Checks, rds, instance: str) -> None:
    old = snapshot.expired(rds, instance)
    checks.add(f"manual snapshots within {snapshot.RETENTION_DAYS} days",
               [f"{s['snapshot']} (created {s['created']:%Y-%m-%d})" for s in old]
               + (["the suite's own are deleted by `rovn-ops run snapshot_retention`"] if old else []),
               "none expired", "§3", warn=True)
