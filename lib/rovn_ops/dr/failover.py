"""dr_failover (§11): move production to the cold standby, through the protocol, two approvers.

The steps, each idempotent (it looks at the world first and does only what is not done)
and journaled by one `dr_failover_step` audit row when it is done, so a re-run of the
same approved command after a kill at any point skips what its rows and the world say is
done and finishes the job:

  1. restore the DB from the newest copied snapshot (RestoreDBInstanceFromDBSnapshot);
  2. wait for it to be available;
  3. point the DB secret's replica at the new host: StopReplicationToReplica promotes the
     replica in the standby (a replica is read-only, and the primary may be gone), then
     PutSecretValue with a ClientRequestToken derived from the plan (AWS: the same token
     and value is a no-op, so a re-run never adds a version);
  4. register the standby task definition (the current one, region-bound ARNs swapped),
     tagged with the plan's key so a re-run finds it;
  5. scale the standby service to the primary's desired count;
  6. wait for a steady state and /health 200 in the standby;
  7. switch DNS: PATCH each gray-cloud record's content to the standby's load balancer;
  8. verify through the public name (the verify step: it writes the `success` row).

RTO is decision (the approval) to traffic (verified through the public name); RPO is the
snapshot's time to the failure's (`failure_at`, else the decision). Both are in the
success row and the manifest's facts. The failback is printed, never executed.

References: RestoreDBInstanceFromDBSnapshot
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBInstanceFromDBSnapshot.html;
StopReplicationToReplica https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_StopReplicationToReplica.html;
PutSecretValue (ClientRequestToken idempotency)
https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html;
Cloudflare PATCH zones/{zone_id}/dns_records/{dns_record_id}
https://developers.cloudflare.com/api/resources/dns/subresources/records/methods/edit/."""
from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from botocore.exceptions import BotoCoreError, ClientError

from rovn_ops.audit import log as audit
from rovn_ops.core import plaintext
from rovn_ops.core.errors import RovnError
from rovn_ops.core.escape import code, markdown as md
from rovn_ops.core.polling import Poller
from rovn_ops.dr.readiness import copied_snapshots
from rovn_ops.dr.standby import Standby, client, dns_client, primary_probe, regional
from rovn_ops.ecs import taskdef, verify
from rovn_ops.protocol import lock as change_lock
from rovn_ops.protocol.change import Plan, authorize, refuse
from rovn_ops.protocol.checks import Checks

ACTION, STEP_ACTION = "dr_failover", "dr_failover_step"
STEPS = (  # name, what it does, expected duration in production (seconds)
    ("restore", "restore the DB from the newest copied snapshot", 900),
    ("db_available", "wait for it to be available", 600),
    ("db_secret", "point the DB secret's replica at the new host", 10),
    ("task_definition", "register the standby task definition", 5),
    ("scale", "scale the standby service to the primary's desired count", 5),
    ("steady", "wait for a steady state and /health 200 in the standby", 300),
    ("dns", "switch DNS (Cloudflare, gray cloud)", 60),
    ("public", "verify through the public name", 120),
)
TAG_PLAN = "rovn:dr-plan"


@dataclass
class Prepared:
    plan: Plan
    checks: Checks
    snapshot: dict
    spec: dict            # the standby task definition to register
    desired: int
    desired_from: str
    db_secret: str        # the standby task's reference: the replica's ARN

    def steps(self) -> str:
        rows = "\n".join(f"| {i} | {md(what)} | ~{secs // 60 if secs >= 60 else secs}{' min' if secs >= 60 else ' s'} |"
                         for i, (_, what, secs) in enumerate(STEPS, 1))
        return f"| step | what | expected |\n|---|---|---|\n{rows}"

    def _repr_markdown_(self) -> str:
        c = self.plan.changes
        records = "\n".join(f"| `{code(n)}` | `{code(t)}` |" for n, t in c["dns"].items())
        return (f"**Fail over to `{code(c['standby'])}`** from snapshot `{code(self.snapshot['id'])}` "
                f"(taken {md(self.snapshot['created'])}), the service at {self.desired} tasks "
                f"({md(self.desired_from)}).\n\n{self.steps()}\n\n| record | will point at |\n|---|---|\n{records}\n")

    __repr__ = plaintext.markdown_repr


class Steps:
    def __init__(self, ctx):
        self.ctx, self.p = ctx, ctx.params
        self.standby = Standby.of(self.p)
        self.sb = lambda svc: client(ctx, self.standby, svc)  # noqa: E731
        self.prepared: Prepared | None = None
        self.decided_at: datetime | None = None
        self.done: dict[str, dict] = {}
        self.facts: dict = {}

    # preview ----------------------------------------------------------------
    def prepare(self) -> Prepared:
        p, sb, ctx = self.p, self.standby, self.ctx
        authorize(ctx, ACTION, sb.region)
        checks = Checks()
        snaps = self._snapshots()
        if not snaps:
            refuse(ctx, ACTION, sb.region, f"dr_failover refused: no available snapshot of {p.rds_instance} in "
                   f"{sb.region} to restore (run dr_readiness)")
        snap = max(snaps, key=lambda s: s["SnapshotCreateTime"])
        snapshot = {"id": snap["DBSnapshotIdentifier"], "arn": snap.get("DBSnapshotArn"),
                    "created": snap["SnapshotCreateTime"].isoformat()}
        checks.add("snapshot to restore", None if snap.get("Encrypted") else f"{snapshot['id']} is not encrypted",
                   f"{snapshot['id']} ({snapshot['created']})", "§11")
        spec, source = self._spec()
        desired, desired_from = self._desired()
        db_secret = next((s["valueFrom"] for c in spec["containerDefinitions"] for s in c.get("secrets", [])
                          if s["name"] == "DATABASE_URL"), "")
        checks.add("the task's DB secret", None if db_secret else "no DATABASE_URL secret in the task definition",
                   _secret_name(db_secret), "§8")
        self._standby_has(checks, spec)
        self._primary_health(checks)
        spec_hash = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
        plan = Plan(ACTION, sb.region, {
            "standby": f"{sb.region} {sb.cluster}/{sb.service}", "snapshot": snapshot,
            "db_instance": sb.db_instance, "db_subnet_group": sb.db_subnet_group,
            "db_secret": _secret_name(db_secret), "task_definition": {
                "family": spec["family"], "image": taskdef.app_container(spec)["image"], "spec_sha256": spec_hash,
                "source": source},
            "desired_count": desired, "dns": {n: sb.load_balancer_dns for n in sb.records},
            "steps": [{"step": n, "what": w, "expected_s": s} for n, w, s in STEPS]},
            (f"restore {snapshot['id']} as {sb.db_instance} in {sb.region}; the service at {desired} tasks; "
             f"{', '.join(sb.records)} → {sb.load_balancer_dns}",),
            approvals_needed=2, approvals_why="a region failover (§11): the riskiest change there is",
            lock=change_lock.service(sb.cluster, sb.service))
        if not checks.ok:
            refuse(ctx, ACTION, sb.region, "dr_failover refused: " + "; ".join(f"{c.name}: {c.detail}"
                                                                            for c in checks.failures))
        self.prepared = Prepared(plan, checks, snapshot, spec, desired, desired_from, db_secret)
        return self.prepared

    def _standby_has(self, checks: Checks, spec: dict) -> None:
        """What the standby's tasks need before anything changes: the image in its ECR and a
        replica of every secret (dr_gap: without them step 6 would wait out its deadline)."""
        image = taskdef.app_container(spec)["image"]
        repo, tag = image.split("/", 1)[-1].rsplit(":", 1)
        try:
            self.sb("ecr").describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])
            checks.add("image in the standby's ECR", None, f"{repo}:{tag}", "§11")
        except ClientError as e:
            checks.add("image in the standby's ECR", f"{repo}:{tag}: {e.response['Error']['Code']} (replicate it "
                       "first: dr_readiness names the gap)", rule="§11")
        missing = []
        for ref in sorted({s["valueFrom"] for c in spec["containerDefinitions"] for s in c.get("secrets", [])}):
            try:
                self.sb("secretsmanager").describe_secret(SecretId=ref)
            except ClientError:
                missing.append(_secret_name(ref))
        checks.add("every task secret has a replica in the standby", [f"missing: {', '.join(missing)}"]
                   if missing else None, f"{self.standby.region}", "§8/§11")

    def _primary_health(self, checks: Checks) -> None:
        """A primary that still answers /health 200 is a warning in the preview: a failover of a
        healthy region is a game day, or a mistake."""
        status, _ = verify.health_version(self.p.health_url) if self.p.health_url else (0, None)
        checks.add("the primary is down", "the primary's /health answers 200: failing over a healthy region"
                   if status == 200 else None, f"/health {status or 'unreachable'}", "§11", warn=True)

    def replan(self) -> Plan:
        return self.prepare().plan

    def _snapshots(self) -> list[dict]:
        return copied_snapshots(self.sb("rds"), self.p.rds_instance)

    def _spec(self) -> tuple[dict, str]:
        """The current task definition, region-bound ARNs swapped; in an outage (the primary
        does not answer) the standby's own newest revision, which readiness keeps a mirror."""
        try:
            ecs = primary_probe(self.ctx, "ecs")
            svc = ecs.describe_services(cluster=self.p.cluster, services=[self.p.service])["services"][0]
            current = taskdef.TaskDefinition.describe(ecs, svc["taskDefinition"])
            return regional(current.spec, self.p.region, self.standby.region), "the primary's current revision"
        except (ClientError, BotoCoreError, IndexError):
            pass
        arns = self.sb("ecs").list_task_definitions(familyPrefix=self.standby.family, status="ACTIVE",
                                                    sort="DESC")["taskDefinitionArns"]
        mine = [taskdef.TaskDefinition.describe(self.sb("ecs"), a) for a in arns[:5]]
        # the newest the suite did not register itself (a resumed run's own revision is the same spec)
        base = next((t for t in mine if TAG_PLAN not in t.tags), mine[0] if mine else None)
        if base is None:
            refuse(self.ctx, ACTION, self.standby.region, f"dr_failover refused: the primary does not answer and "
                   f"{self.standby.region} has no revision of {self.standby.family}")
        return base.spec, "the standby's revision (the primary does not answer)"

    def _desired(self) -> tuple[int, str]:
        try:
            svc = primary_probe(self.ctx, "ecs").describe_services(cluster=self.p.cluster,
                                                                   services=[self.p.service])["services"][0]
            if svc["desiredCount"] > 0:
                return svc["desiredCount"], "the primary's desired count"
        except (ClientError, BotoCoreError, IndexError):
            pass
        return int(self.standby.desired_count), "parameters/<env>.yaml standby.desired_count: the primary does not answer"

    # execute ------------------------------------------------------------------
    def execute(self, prepared: Prepared, approval) -> dict:
        plan_hash = approval.plan_hash
        self.done = self._journal(plan_hash)
        first = min((d["decided_at"] for d in self.done.values() if d.get("decided_at")), default=None)
        self.decided_at = datetime.fromisoformat(first or approval.at)
        for n, (name, what, _) in enumerate(STEPS[:-1], 1):
            if name in self.done:
                print(f"step {n} {what}: done (audit row {self.done[name]['id']})", flush=True)
                continue
            started = time.monotonic()
            facts = getattr(self, f"_step_{name}")(prepared) or {}
            took = round(time.monotonic() - started, 2)
            entry = audit.append(self.ctx.db, actor=str(self.ctx.operator), action=STEP_ACTION,
                                 target=self.standby.region, outcome="done", run_id=self.ctx.run_id,
                                 details={"plan_hash": plan_hash, "step": name, "n": n, "what": what,
                                          "took_s": took, "decided_at": self.decided_at.isoformat(), **facts})
            self.done[name] = {"id": entry.id, "decided_at": self.decided_at.isoformat(), **facts}
            print(f"step {n} {what}: {took:.1f}s", flush=True)
        return self.done

    def _journal(self, plan_hash: str) -> dict[str, dict]:
        rows = self.ctx.db.execute("SELECT id, details FROM audit_log WHERE action = %s AND details->>'plan_hash' = %s "
                                   "ORDER BY id", [STEP_ACTION, plan_hash]).fetchall()
        return {d["step"]: {"id": i, **d} for i, d in rows}

    def _instance(self) -> dict | None:
        try:
            return self.sb("rds").describe_db_instances(DBInstanceIdentifier=self.standby.db_instance)["DBInstances"][0]
        except ClientError as e:
            if e.response["Error"]["Code"] == "DBInstanceNotFound":
                return None
            raise

    def _step_restore(self, prepared: Prepared) -> dict:
        if self._instance() is None:
            self.sb("rds").restore_db_instance_from_db_snapshot(
                DBInstanceIdentifier=self.standby.db_instance, DBSnapshotIdentifier=prepared.snapshot["id"],
                DBSubnetGroupName=self.standby.db_subnet_group, DBInstanceClass=self.standby.db_instance_class,
                MultiAZ=True, Tags=[{"Key": TAG_PLAN, "Value": prepared.plan.hash[:32]}])
        return {"db_instance": self.standby.db_instance, "snapshot": prepared.snapshot["id"]}

    def _step_db_available(self, prepared: Prepared) -> dict:
        for _ in Poller(self.p.deadline_s, self.p.poll_min, self.p.poll_max):
            db = self._instance()
            if db and db["DBInstanceStatus"] == "available" and db.get("Endpoint"):
                return {"endpoint": db["Endpoint"]["Address"], "port": db["Endpoint"]["Port"]}
        raise RovnError(f"{self.standby.db_instance} not available within {self.p.deadline_s:.0f}s")

    def _step_db_secret(self, prepared: Prepared) -> dict:
        from rovn_ops.safety import secret_values

        sm, name = self.sb("secretsmanager"), prepared.db_secret
        db = self._instance()
        host, port = db["Endpoint"]["Address"], db["Endpoint"]["Port"]
        if sm.describe_secret(SecretId=name).get("PrimaryRegion"):  # still a read-only replica
            sm.stop_replication_to_replica(SecretId=name)
        current = secret_values.read(sm, name)
        value = json.loads(current.reveal())
        promoted = False
        if value.get("host") != host or value.get("port") != port:
            token = str(uuid.uuid5(uuid.NAMESPACE_URL, f"rovn-dr:{prepared.plan.hash}:{name}"))
            new = json.dumps({**value, "host": host, "port": port}, sort_keys=True)
            secret_values.wrap(new, _secret_name(name))  # registered for redaction before it travels
            sm.put_secret_value(SecretId=name, SecretString=new, ClientRequestToken=token,
                                VersionStages=["AWSCURRENT"])
            promoted = True
        return {"db_secret": _secret_name(name), "host": host, "written": promoted}

    def _step_task_definition(self, prepared: Prepared) -> dict:
        ecs, key = self.sb("ecs"), prepared.plan.hash[:32]
        found = self._registered(ecs, key)
        if found is None:
            arn = ecs.register_task_definition(**prepared.spec, tags=[
                {"key": TAG_PLAN, "value": key}, {"key": taskdef.TAG_RUN, "value": self.ctx.run_id}])
            found = arn["taskDefinition"]["taskDefinitionArn"]
        return {"task_definition": found}

    def _registered(self, ecs, key: str) -> str | None:
        arns = ecs.list_task_definitions(familyPrefix=self.standby.family, status="ACTIVE", sort="DESC",
                                         maxResults=10)["taskDefinitionArns"]
        for arn in arns:
            if taskdef.TaskDefinition.describe(ecs, arn).tags.get(TAG_PLAN) == key:
                return arn
        return None

    def _task_definition_arn(self) -> str:
        arn = (self.done.get("task_definition") or {}).get("task_definition")
        return arn or self._registered(self.sb("ecs"), self.prepared.plan.hash[:32] if self.prepared else "")

    def _step_scale(self, prepared: Prepared) -> dict:
        ecs, sb = self.sb("ecs"), self.standby
        arn = self._task_definition_arn()
        svc = ecs.describe_services(cluster=sb.cluster, services=[sb.service])["services"][0]
        if svc["taskDefinition"] != arn or svc["desiredCount"] != prepared.desired:
            ecs.update_service(cluster=sb.cluster, service=sb.service, taskDefinition=arn,
                               desiredCount=prepared.desired)
        return {"desired_count": prepared.desired, "task_definition": arn}

    def _step_steady(self, prepared: Prepared) -> dict:
        ecs, sb = self.sb("ecs"), self.standby
        problems = ["not polled"]
        for _ in Poller(self.p.deadline_s, self.p.poll_min, self.p.poll_max):
            svc = ecs.describe_services(cluster=sb.cluster, services=[sb.service])["services"][0]
            problems = verify.running(svc) or ([] if svc["runningCount"] > 0 else ["no task runs"])
            if not problems:
                break
        if problems:
            raise RovnError(f"the standby service is not steady within {self.p.deadline_s:.0f}s: {problems[0]}")
        tag = taskdef.app_container(prepared.spec)["image"].rsplit(":", 1)[-1]
        bad = verify.health(sb.health_url, tag, deadline_s=verify.health_wait(self.p.deadline_s, self.p.poll_max),
                            first=self.p.poll_min, longest=self.p.poll_max)
        if bad:
            raise RovnError(f"the standby's /health: {'; '.join(bad)}")
        return {"running": svc["runningCount"], "health": "200", "image_tag": tag}

    def _step_dns(self, prepared: Prepared) -> dict:
        dns = dns_client(self.ctx, self.standby)
        moved = {}
        for name, target in prepared.plan.changes["dns"].items():
            record = dns.record(name)
            if record is None:
                raise RovnError(f"Cloudflare has no record {name} in {self.standby.dns.get('zone')}")
            if record["content"] != target:
                record = dns.point(record, target)
            moved[name] = {"content": record["content"], "proxied": record.get("proxied")}
        return {"dns": moved}

    # verify -------------------------------------------------------------------
    def verify(self, prepared: Prepared) -> Checks:
        import urllib3

        checks, sb = Checks(), self.standby
        tag = taskdef.app_container(prepared.spec)["image"].rsplit(":", 1)[-1]
        url = str(sb.dns.get("public_url") or "").rstrip("/")
        for name in prepared.plan.changes["dns"]:
            status, version = 0, None
            for _ in Poller(self.p.deadline_s, self.p.poll_min, self.p.poll_max):
                try:
                    resp = urllib3.request("GET", f"{url}/health", headers={"Host": name}, timeout=5, retries=False)
                    status, version = resp.status, json.loads(resp.data or b"{}").get("version")
                except (urllib3.exceptions.HTTPError, ValueError):
                    status = 0
                if status == 200 and version == tag:
                    break
            checks.add(f"{name}/health through the public name", None if status == 200 and version == tag else
                       f"HTTP {status}, version {version!r}, expected 200 with {tag}", f"200 {tag}", "§11")
        if not checks.ok:
            raise RovnError("dr_failover verification failed: " + "; ".join(c.detail for c in checks.failures))
        traffic = datetime.now(timezone.utc)
        failure = datetime.fromisoformat(self.p.failure_at.replace("Z", "+00:00")) if self.p.failure_at \
            else self.decided_at
        snap_at = datetime.fromisoformat(prepared.snapshot["created"])
        self.facts = {"rto_s": round((traffic - self.decided_at).total_seconds(), 1),
                      "rpo_s": round((failure - snap_at).total_seconds(), 1),
                      "rto_target_s": sb.rto_target_s, "rpo_target_s": sb.rpo_target_s,
                      "decided_at": self.decided_at.isoformat(), "traffic_at": traffic.isoformat(),
                      "failure_at": failure.isoformat(), "snapshot": prepared.snapshot,
                      "steps": {n: d.get("id") for n, d in self.done.items()}}
        checks.add("RTO (decision to traffic)", None if self.facts["rto_s"] <= sb.rto_target_s else
                   f"{self.facts['rto_s']:.0f}s, over {sb.rto_target_s:.0f}s", f"{self.facts['rto_s']:.1f}s", "§11",
                   warn=True)
        checks.add("RPO (snapshot to failure)", None if self.facts["rpo_s"] <= sb.rpo_target_s else
                   f"{self.facts['rpo_s'] / 3600:.1f} h, over {sb.rpo_target_s / 3600:.0f} h",
                   f"{self.facts['rpo_s'] / 3600:.2f} h", "§11", warn=True)
        self.ctx.record(facts={"dr_failover": self.facts})
        return checks

    def details(self) -> dict:
        return {**self.facts, "records": (self.done.get("dns") or {}).get("dns"),
                "task_definition": self._task_definition_arn(),
                "db_endpoint": (self.done.get("db_available") or {}).get("endpoint")}


def _secret_name(ref: str) -> str:
    """A secret's name from its ARN (Secrets Manager appends a hyphen and six characters)."""
    return ref.split(":secret:", 1)[1].rsplit("-", 1)[0] if ":secret:" in ref else ref


def failback(ctx, standby: Standby) -> plaintext.Note:
    """The way back, printed for a person to plan: never executed by this runbook."""
    p = ctx.params
    steps = [
        f"wait until {p.region} is healthy again (service_status against it; AWS Health for the region)",
        f"take a snapshot of {standby.db_instance} in {standby.region}; copy it to {p.region}, encrypted",
        f"restore it in {p.region} beside {p.rds_instance}; re-point the primary DB secret at it; re-enable "
        f"replication of the promoted secrets to {standby.region} (ReplicateSecretToRegions)",
        f"deploy the standby's revision in {p.region} (deploy) and check /health there",
        f"switch {', '.join(standby.records)} back to {standby.primary_load_balancer_dns} (Cloudflare), verify",
        f"scale {standby.cluster}/{standby.service} back to 0; delete {standby.db_instance} after a final snapshot; "
        "run dr_readiness until READY",
    ]
    body = "\n".join(f"{i}. {md(s)}" for i, s in enumerate(steps, 1))
    return plaintext.Note(f"### Failback plan (printed, never executed here)\n\nEach step is its own reviewed "
                          f"change, with its own approvals:\n\n{body}\n")


def summary(ctx, change, prepared: Prepared, steps: Steps):
    change.finish()
    if not change.approval.executed:
        return plaintext.Note(f"### Preview only: nothing failed over\n\nrun id: `{ctx.run_id}`")
    f = steps.facts
    ctx.record(summary={"standby": steps.standby.region, "rto_s": f.get("rto_s"), "rpo_s": f.get("rpo_s"),
                        "approvers": change.approval.approvers})
    return plaintext.Note(
        f"### Failed over: `{md(', '.join(steps.standby.records))}` serve from `{steps.standby.region}`\n\n"
        f"RTO {f.get('rto_s')}s (decision to traffic); RPO {f.get('rpo_s')}s (snapshot to failure). Approved by "
        f"{md(', '.join(change.approval.approvers))}.\n\nNext: `rovn-ops run service_status` against the standby; "
        f"plan the failback below.\n\nrun id: `{ctx.run_id}`")


