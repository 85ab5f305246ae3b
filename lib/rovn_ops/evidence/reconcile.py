"""Reconciliation with the systems of record (issue 27, build 5): every change the world
shows for a period, matched to a run of the suite or marked UNEXPLAINED.

The evidence archive only knows what the suite did; a deploy made with plain boto3, a
migration applied by hand or a secret version put from a laptop leaves no run. So the
population comes from AWS and the database, not from the archive:

- ECS deployments of the service (ListServiceDeployments, createdAt window,
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListServiceDeployments.html):
  ECS creates one when a service is created, updated with force-new-deployment, or updated in
  a property that needs one (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-deployment.html),
  each with its target revision's task definition (DescribeServiceRevisions);
- task-definition revisions of its family registered in the period (ListTaskDefinitions,
  ACTIVE and INACTIVE, newest first, then DescribeTaskDefinition's registeredAt,
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTaskDefinitions.html), and
  every revision number missing from the family (a deleted revision: 289 → 291);
- migrations (schema_migrations.applied_at and its run_id) and audit_log's `migration` rows;
- secret rotations: each secret's versions created in the period (ListSecretVersionIds with
  IncludeDeprecated, CreatedDate,
  https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_ListSecretVersionIds.html).

An item is matched to a run when a change run of the archive (changes.is_change) names it
(service and `family:revision` for a deployment, `family:revision` for a revision, the secret's
name) and was running when it happened; for a migration the run_id the database recorded must be
such a run, naming it and running then (anyone who can write schema_migrations can write a run id)."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rovn_ops.evidence import changes, manifest

SKEW = timedelta(seconds=5)  # AWS's clock and the runner's: a run's window is widened this much
UNEXPLAINED = "UNEXPLAINED"


def item(kind: str, what: str, at: datetime | None, source: str, names: tuple[str, ...] = (), run_id: str = "") -> dict:
    return {"kind": kind, "what": what, "at": at.astimezone(timezone.utc).isoformat(timespec="seconds") if at else "",
            "source": source, "names": list(names), "run_id": run_id or ""}


def deployments(ecs, cluster: str, service: str, start: datetime, end: datetime) -> list[dict]:
    """The service's deployments created in the period, each naming the task definition its
    target revision rolled out (DescribeServiceRevisions): a deployment is explained by the run
    that rolled out that revision, not by any run that touched the service around then (a deploy
    made outside the suite seconds after one of ours would otherwise be claimed by it)."""
    briefs, token = [], None
    while True:
        page = ecs.list_service_deployments(cluster=cluster, service=service,
                                            createdAt={"after": start, "before": end},
                                            **({"nextToken": token} if token else {}))
        briefs += page.get("serviceDeployments", [])
        token = page.get("nextToken")
        if not token:
            break
    targets = target_task_definitions(ecs, [b["targetServiceRevisionArn"] for b in briefs
                                            if b.get("targetServiceRevisionArn")])
    out = []
    for d in briefs:
        td = targets.get(d.get("targetServiceRevisionArn", ""), "")
        out.append(item("ECS deployment", f"{service} {d['serviceDeploymentArn'].rsplit('/', 1)[-1]} "
                        f"→ {td or 'unknown revision'} ({d.get('status', '?')})", d["createdAt"],
                        "ecs:ListServiceDeployments", (service, td)))
    return out


def target_task_definitions(ecs, arns: list[str]) -> dict[str, str]:
    """service-revision ARN → `family:revision` it runs (DescribeServiceRevisions takes at most 20,
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServiceRevisions.html)."""
    out = {}
    for i in range(0, len(arns), 20):
        for r in ecs.describe_service_revisions(serviceRevisionArns=arns[i:i + 20]).get("serviceRevisions", []):
            out[r["serviceRevisionArn"]] = r["taskDefinition"].rsplit("/", 1)[-1]
    return out


def revision_numbers(arns: list[str]) -> list[int]:
    return sorted({int(a.rsplit(":", 1)[-1]) for a in arns})


def gaps(numbers: list[int]) -> list[tuple[int, int]]:
    """(before, after) for each run of missing revision numbers: [289, 291] → [(289, 291)]."""
    return [(a, b) for a, b in zip(numbers, numbers[1:]) if b - a > 1]


def revisions(ecs, family: str, start: datetime, end: datetime) -> tuple[list[dict], list[tuple[int, int]]]:
    arns = []
    for status in ("ACTIVE", "INACTIVE"):
        for page in ecs.get_paginator("list_task_definitions").paginate(familyPrefix=family, status=status):
            arns += [a for a in page["taskDefinitionArns"] if a.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family]
    numbers = revision_numbers(arns)
    out = []
    for n in reversed(numbers):  # newest first; stop at the first one registered before the period
        td = ecs.describe_task_definition(taskDefinition=f"{family}:{n}")["taskDefinition"]
        at = td.get("registeredAt")
        if at is None or at < start:
            break
        if at <= end:
            image = (td.get("containerDefinitions") or [{}])[0].get("image", "?").rsplit(":", 1)[-1]
            out.append(item("task definition", f"{family}:{n} (image {image})", at, "ecs:DescribeTaskDefinition",
                            (f"{family}:{n}",)))
    return out, gaps(numbers)


def migrations(conn, start: datetime, end: datetime) -> list[dict]:
    out = []
    if conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0]:
        for name, at, by, run_id in conn.execute(
                "SELECT name, applied_at, applied_by, run_id FROM schema_migrations "
                "WHERE applied_at BETWEEN %s AND %s ORDER BY applied_at", [start, end]):
            out.append(item("migration", f"{name} (applied by {by})", at, "schema_migrations", (name,), run_id or ""))
    for rid, target, outcome, at, run_id in conn.execute(
            "SELECT id, target, outcome, occurred_at, run_id FROM audit_log WHERE action = 'migration' "
            "AND occurred_at BETWEEN %s AND %s ORDER BY id", [start, end]):
        out.append(item("migration", f"{target} ({outcome}, audit_log row {rid})", at, "audit_log", (target,),
                        run_id or ""))
    return out


def rotations(sm, start: datetime, end: datetime) -> list[dict]:
    out = []
    for page in sm.get_paginator("list_secrets").paginate():
        for s in page["SecretList"]:
            for v in versions(sm, s["ARN"]):
                at = v.get("CreatedDate")
                if at is not None and start <= at <= end:
                    stages = ",".join(v.get("VersionStages") or []) or "no stage"
                    out.append(item("secret version", f"{s['Name']} {v['VersionId'][:8]} ({stages})", at,
                                    "secretsmanager:ListSecretVersionIds", (s["Name"],)))
    return out


def versions(sm, secret_id: str) -> list[dict]:
    found, token = [], None
    while True:
        page = sm.list_secret_version_ids(SecretId=secret_id, IncludeDeprecated=True,
                                          **({"NextToken": token} if token else {}))
        found += page.get("Versions", [])
        token = page.get("NextToken")
        if not token:
            return found


def change_runs(root: Path) -> list[dict]:
    """The archive's change runs: id, window and the text that names what they touched."""
    out = []
    for m in manifest.runs(root):
        if m.get("unreadable") or not changes.is_change(m) or not m.get("started_at"):
            continue
        started = datetime.fromisoformat(m["started_at"])
        ended = datetime.fromisoformat(m.get("ended_at") or m["started_at"])
        text = json.dumps({k: m.get(k) for k in ("targets", "summary", "facts", "plan_changes", "audit_rows",
                                                  "parameters", "runbook")}, default=str)
        out.append({"run_id": m["run_id"], "from": started - SKEW, "to": ended + SKEW, "text": text,
                    "draft": bool(m.get("draft"))})
    return out


def named(text: str, name: str) -> bool:
    """`family:29` names revision 29, not 291."""
    return re.search(re.escape(name) + r"(?![0-9A-Za-z_-])", text) is not None


def match(items: list[dict], runs: list[dict]) -> list[dict]:
    by_id = {r["run_id"]: r for r in runs}
    for it in items:
        at = datetime.fromisoformat(it["at"])
        if it["run_id"]:  # the database recorded the run: a change run of the archive that names it, then
            it["matched"], it["note"] = _recorded(it, by_id.get(it["run_id"]), at)
            continue
        # an empty name (a deployment whose revision ECS no longer describes) matches no run
        hits = [r for r in runs if _explains(r, it, at)]
        it["matched"], it["note"] = _reviewed(hits[0]) if hits else ("", "")
    return items


def _reviewed(run: dict) -> tuple[str, str]:
    """(matched run id, note): a draft's record of what it did is its own claim, and its code no
    one reviewed, so a draft never explains a change (session 6's attack review, MEDIUM 13:
    reconcile, the detective control for changes outside the protocol, counted one as explained)."""
    if run["draft"]:
        return "", f"made by draft run {run['run_id']} (not a committed runbook: its change is its own claim)"
    return run["run_id"], ""


def _explains(run: dict, it: dict, at: datetime) -> bool:
    """The run was running when the item happened and names each of its names."""
    return run["from"] <= at <= run["to"] and all(n and named(run["text"], n) for n in it["names"])


def _recorded(it: dict, run: dict | None, at: datetime) -> tuple[str, str]:
    """A run id the database holds is a claim anyone who can write schema_migrations can make:
    it explains the item only if that run names it and was running when it happened."""
    if run is None:
        return "", f"run {it['run_id']} is not a change run of the archive"
    if not _explains(run, it, at):
        return "", f"run {it['run_id']} the database names did not apply it then (a recorded run id is a claim)"
    return _reviewed(run)


def reconcile(root: Path, env: str, start: datetime, end: datetime, conn=None, clients=None) -> dict:
    """The period's changes from AWS and the database, each matched or UNEXPLAINED, and the
    family's revision gaps. clients: {"ecs": …, "secretsmanager": …} (default: the env's)."""
    from rovn_ops.core import aws
    from rovn_ops.safety import params

    p = params.environment_defaults(env)
    region, cluster, service = p.get("region", "us-east-2"), p["cluster"], p["service"]
    clients = clients or {}
    ecs = clients.get("ecs") or aws.client("ecs", env=env, region=region)
    sm = clients.get("secretsmanager") or aws.client("secretsmanager", env=env, region=region)
    live = ecs.describe_services(cluster=cluster, services=[service])["services"]
    family = live[0]["taskDefinition"].rsplit("/", 1)[-1].rsplit(":", 1)[0] if live else service
    items = deployments(ecs, cluster, service, start, end)
    revs, holes = revisions(ecs, family, start, end)
    recent = {int(i["names"][0].rsplit(":", 1)[-1]) for i in revs}
    items += revs + (migrations(conn, start, end) if conn is not None else []) + rotations(sm, start, end)
    items, seeded = _without_the_seed(env, items)
    items = sorted(match(items, change_runs(root)), key=lambda i: i["at"])
    unexplained = [i for i in items if not i["matched"]]
    return {"period": {"from": start.isoformat(timespec="seconds"), "to": end.isoformat(timespec="seconds"),
                       "environment": env},
            "items": items, "unexplained": len(unexplained), "sandbox_seed": seeded,
            "gaps": [gap_line(family, a, b) for a, b in holes],
            # a gap just before a revision of the period is news; older ones were reported when they were
            "new_gaps": [gap_line(family, a, b) for a, b in holes if b in recent],
            "database": "schema_migrations and audit_log" if conn is not None else "not checked (no database)"}


def _without_the_seed(env: str, items: list[dict]) -> tuple[list[dict], int]:
    """In the sandbox only: what its seed made (every revision, secret version and migration of
    the world, written before its world began, `world_since` in its state file) is no change of
    anyone's. Left in, it buried the real UNEXPLAINED lines under hundreds (session 6's auditor
    sample: 325 of 326). Production has no seed: every item stays."""
    from rovn_ops.core import sandbox_address

    since = (sandbox_address.state() or {}).get("world_since") if env == "sandbox" else None
    if not since:
        return items, 0
    began = datetime.fromtimestamp(float(since), timezone.utc)
    kept = [i for i in items if datetime.fromisoformat(i["at"]) > began]
    return kept, len(items) - len(kept)


def gap_line(family: str, a: int, b: int) -> str:
    return (f"{family}:{a} → {family}:{b}: revision(s) {', '.join(map(str, range(a + 1, b)))} missing "
            "(deleted, or registered elsewhere)")


def default_period(root: Path, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The archive's span: from its first run (at most 90 days back, what ECS keeps of a
    service's deployments) to now."""
    now = now or datetime.now(timezone.utc)
    starts = [datetime.fromisoformat(m["started_at"]) for m in manifest.runs(root) if m.get("started_at")]
    return max(min(starts, default=now - timedelta(days=1)) - SKEW, now - timedelta(days=90)), now


def lines(report: dict) -> list[str]:
    """The report for a terminal (escaped by the caller): one line per item, then gaps."""
    out = [f"reconciliation {report['period']['from']} → {report['period']['to']} ({report['period']['environment']}): "
           f"{len(report['items'])} change(s) in AWS and the database, {report['unexplained']} unexplained, "
           f"{len(report['gaps'])} revision gap(s)"
           + (f" ({report['sandbox_seed']} made by the sandbox's seed left out)" if report.get("sandbox_seed") else "")]
    for i in report["items"]:
        out.append(f"  {i['at']}  {i['kind']:<16} {i['what']}  "
                   + (f"run {i['matched']}" + (f" ({i['note']})" if i["note"] else "") if i["matched"]
                      else UNEXPLAINED + (f": {i['note']}" if i.get("note") else "")))
    out += [f"  GAP  {g}" for g in report["gaps"]]
    return out


def failed(env: str, start: datetime, end: datetime, why: str) -> dict:
    """A reconciliation that could not run: the index says so instead of showing none."""
    return {"period": {"from": start.isoformat(timespec="seconds"), "to": end.isoformat(timespec="seconds"),
                       "environment": env}, "items": [], "unexplained": 0, "gaps": [], "new_gaps": [],
            "error": why}


def html(report: dict | None) -> str:
    """The index's section: each item matched to its run or UNEXPLAINED, then the gaps."""
    from rovn_ops.core import escape

    head = "<h2 id='reconciliation'>Reconciliation with AWS and the database</h2>"
    if report is None:
        return (head + "<p class='muted'>Not run: this index was built offline. Build it with "
                "<code>rovn-ops evidence index --bucket</code>, or run <code>rovn-ops evidence reconcile</code>.</p>")
    p = report["period"]
    if report.get("error"):
        return head + f"<p><span class='badge bad'>NOT RECONCILED</span> {escape.html(report['error'])}</p>"
    rows = "".join(
        f"<tr data-kind='{escape.html(i['kind'])}'><td>{escape.html(i['at'][:19].replace('T', ' '))}</td>"
        f"<td>{escape.html(i['kind'])}</td><td>{escape.html(i['what'])}</td><td>{escape.html(i['source'])}</td><td>"
        + (f"<code>{escape.html(i['matched'])}</code>" + (f" {escape.html(i['note'])}" if i["note"] else "")
           if i["matched"] else f"<span class='badge bad'>{UNEXPLAINED}</span> {escape.html(i.get('note', ''))}")
        + "</td></tr>" for i in report["items"])
    gaps = "".join(f"<li class='gap'><span class='badge bad'>GAP</span> {escape.html(g)}</li>" for g in report["gaps"])
    return (head + f"<p>{escape.html(p['from'])} → {escape.html(p['to'])} ({escape.html(p['environment'])}): "
            f"{len(report['items'])} change(s) found in AWS and {escape.html(report['database'])}, "
            f"<strong id='unexplained-count'>{report['unexplained']} unexplained</strong>.</p>"
            "<table id='reconciliation-table'><thead><tr><th>When (UTC)</th><th>Kind</th><th>What</th><th>Source</th>"
            f"<th>Run</th></tr></thead><tbody>{rows or '<tr><td colspan=5 class=muted>None.</td></tr>'}</tbody></table>"
            + (f"<ul id='revision-gaps'>{gaps}</ul>" if gaps else "<p class='muted'>No revision gaps.</p>"))
