"""The deploy's preflight (who deploys, §10, is protocol.authorize): whether someone else's rollout is in flight
(the service being unhealthy never blocks: a rollback or a hotfix mends it), which
migrations the source brings (§3), and which manual snapshots outlived their 90
days. Each adds a row to the checks table; a failed row refuses the deploy."""
from __future__ import annotations

from pathlib import Path

from rovn_ops.migrations import engine, lint, phi, snapshot
from rovn_ops.ecs.names import short_td
from rovn_ops.protocol.checks import Checks


def foreign_in_flight(service: dict) -> str | None:
    """The one check of "a deployment this change did not start is in flight" (issue 20,
    class 8): deploy and rollback ask it at the preview and again at execute, under the
    change lock (execute re-derives the plan there). A deploy resuming its own rollout
    does not ask (resume.py knows that deployment as ours). None when the service has one
    deployment, PRIMARY and COMPLETED; else the deployments, in one line."""
    deps = in_flight(service)
    return ("a deployment is in flight: " + ", ".join(
        f"{d['status']} {short_td(d['taskDefinition'])} {d.get('rolloutState', '')}" for d in deps)) if deps else None


def in_flight(service: dict) -> list[dict]:
    """The deployments of a rollout under way: all of them unless the service has one
    PRIMARY deployment and it COMPLETED."""
    deps = service["deployments"]
    if len(deps) == 1 and deps[0]["status"] == "PRIMARY" and deps[0].get("rolloutState") == "COMPLETED":
        return []
    return deps


def suite_deployments(conn) -> set[str]:
    """Deployment ids the suite started, as audit_log records them (any outcome: a killed
    or failed run's deployment is still ours to take over or to replace)."""
    rows = conn.execute(
        "SELECT DISTINCT x FROM (SELECT details->>'deployment_id' AS x FROM audit_log UNION ALL "
        "SELECT details->'deployment'->>'deployment_id' FROM audit_log) d WHERE x IS NOT NULL").fetchall()
    return {r[0] for r in rows}


def stable(checks: Checks, service: dict, *, ours: set[str] = frozenset(), force: bool = False,
           what: str = "deploy") -> list[dict]:
    """Two rows. A rollout in flight that the suite did not start blocks (someone else is
    changing the service), unless `force` (two approvers, recorded). An unhealthy service
    (running below desired) does not: a rollback or a hotfix is what mends it, and the row
    says so. Returns the foreign deployments in flight (forced over, or refused)."""
    deps = service["deployments"]
    flight = in_flight(service)
    primary = next((d for d in flight if d["status"] == "PRIMARY"), None)
    # A PRIMARY of ours (what it replaces still draining) is our own rollout, taken over.
    foreign = [] if primary and primary["id"] in ours else [d for d in flight if d["id"] not in ours]
    listed = ", ".join(f"{d['status']} {short_td(d['taskDefinition'])} {d.get('rolloutState', '')} ({d['id']})"
                       for d in foreign)
    name = "no deployment in flight that the suite did not start"
    if foreign and force:
        checks.add(f"{name}: FORCED (two approvers, recorded in audit_log)",
                   [f"going over {listed}"], rule="§10", warn=True)
    elif foreign:
        checks.add(name, [f"a deployment is in flight: {listed}; wait for it to finish (rovn-ops run "
                          "service_status), or, reviewed by two approvers, -p force=true"], rule="§10")
    else:
        checks.add(name, None, ", ".join(f"{d['status']} {short_td(d['taskDefinition'])} {d.get('rolloutState', '')}"
                                         for d in deps), "§10")
    if service["runningCount"] < service["desiredCount"]:
        checks.add("service health", [f"UNHEALTHY: running {service['runningCount']} of {service['desiredCount']} "
                                      f"desired; the {what} goes ahead: it is the remedy"], rule="§7", warn=True)
    else:
        checks.add("service health", None, f"{short_td(service['taskDefinition'])}: {service['runningCount']}/"
                                           f"{service['desiredCount']} running", "§7")
    return foreign


def forced_over(deployments: list[dict]) -> list[dict]:
    """What a forced plan names of the deployments it goes over (and its audit row keeps)."""
    return [{"deployment_id": d["id"], "status": d["status"], "task_definition": short_td(d["taskDefinition"]),
             "rollout_state": d.get("rolloutState")} for d in deployments]


def multi_az(checks: Checks, ec2, rds, service: dict, instance: str) -> None:
    """§11 "multi-AZ active", and §2's rolling deploy "across AZs": refused on one AZ."""
    from rovn_ops.core import availability

    found = availability.check(ec2, rds, service, instance)
    checks.add("multi-AZ: service subnets in 2+ AZs, RDS Multi-AZ", found.problems, found.summary(), "§11")


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
