"""dr_readiness (§11): is the cold standby ready to take the traffic? Read-only.

Each item is present and correct, or names what is missing:

- the newest RDS snapshot copied to the standby, encrypted there with the declared key,
  and its age: the RPO a failover would give now;
- the current `prod-*` image in the standby's ECR by the same digest, and the ECR
  replication rule that keeps it so;
- every secret the task definition references replicated and in sync (the same
  AWSCURRENT version id in both regions);
- the standby task definition mirroring the current one except for region-bound ARNs;
- the service at desired 0; the KMS key, the DB subnet group, the DNS records.

A missing piece a failover needs is NOT READY; a piece that is there but off (an old
snapshot, a drifted task definition, the service not at 0) is DEGRADED. The verdict is
the run's outcome: READY success (exit 0); DEGRADED and NOT READY `attention` (exit 4),
an audit_log `dr_readiness` row either way, and a Slack post when not READY.

References: DescribeDBSnapshots (Encrypted, KmsKeyId, SnapshotCreateTime)
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBSnapshots.html;
DescribeSecret (VersionIdsToStages, PrimaryRegion, ReplicationStatus)
https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DescribeSecret.html;
DescribeRegistry (replicationConfiguration)
https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeRegistry.html."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from botocore.exceptions import BotoCoreError, ClientError

from rovn_ops.core import plaintext
from rovn_ops.core.escape import markdown as md
from rovn_ops.dr.standby import Standby, client, primary_probe, regional
from rovn_ops.ecs import taskdef
from rovn_ops.protocol.checks import FAIL, PASS, WARN, Checks

READY, DEGRADED, NOT_READY = "READY", "DEGRADED", "NOT READY"


@dataclass
class Report:
    standby: Standby
    checks: Checks = field(default_factory=Checks)
    rpo_s: float | None = None
    snapshot: dict | None = None
    primary: taskdef.TaskDefinition | None = None

    @property
    def verdict(self) -> str:
        kinds = {c.verdict for c in self.checks.items}
        return NOT_READY if FAIL in kinds else DEGRADED if WARN in kinds else READY

    @property
    def gaps(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks.items if c.verdict != PASS]

    def as_dict(self) -> dict:
        return {"verdict": self.verdict, "standby_region": self.standby.region, "rpo_s": self.rpo_s,
                "snapshot": self.snapshot, "checks": self.checks.as_dicts(), "gaps": self.gaps}

    def _repr_markdown_(self) -> str:
        rpo = f"{self.rpo_s / 3600:.1f} h" if self.rpo_s is not None else "unknown (no copied snapshot)"
        return (f"**Standby {md(self.standby.region)}: {self.verdict}** · RPO now {rpo}\n\n"
                + self.checks._repr_markdown_())

    __repr__ = plaintext.markdown_repr


def _error(e: Exception) -> str:
    if isinstance(e, ClientError):
        err = e.response.get("Error", {})
        return f"{err.get('Code') or e.response.get('ResponseMetadata', {}).get('HTTPStatusCode')}: " \
               f"{(err.get('Message') or '')[:160]}"
    return type(e).__name__


class Readiness:
    def __init__(self, ctx):
        self.ctx, self.p = ctx, ctx.params
        self.standby = Standby.of(self.p)
        self.report = Report(self.standby)
        self.sb = lambda svc: client(ctx, self.standby, svc)  # noqa: E731

    def run(self) -> Report:
        for step in (self._primary, self._snapshot, self._image, self._secrets, self._task_definition,
                     self._service, self._subnet_group, self._dns):
            try:
                step()
            except (ClientError, BotoCoreError) as e:
                self.report.checks.add(step.__name__.strip("_").replace("_", " "), f"cannot read: {_error(e)}")
        self.ctx.record(facts={"dr_readiness": self.report.as_dict()})
        return self.report

    # the items ------------------------------------------------------------
    def _primary(self) -> None:
        """The primary's current task definition: what the standby must mirror."""
        try:
            ecs = primary_probe(self.ctx, "ecs")
            svc = ecs.describe_services(cluster=self.p.cluster, services=[self.p.service])["services"][0]
            self.report.primary = taskdef.TaskDefinition.describe(ecs, svc["taskDefinition"])
        except (ClientError, BotoCoreError, IndexError) as e:
            self.report.checks.add("primary answers", f"the primary's ECS in {self.p.region} does not answer "
                                   f"({_error(e)}): compared with the standby's own task definition", warn=True)

    def _key_arn(self) -> str | None:
        try:
            return self.sb("kms").describe_key(KeyId=self.standby.kms_key_alias)["KeyMetadata"]["Arn"]
        except ClientError:
            return None

    def _snapshot(self) -> None:
        key = self._key_arn()
        self.report.checks.add("KMS key for snapshot copies", None if key else
                               f"no key {self.standby.kms_key_alias} in {self.standby.region}", key or "")
        snaps = copied_snapshots(self.sb("rds"), self.p.rds_instance)
        if not snaps:
            return self.report.checks.add("snapshot copied", f"no available snapshot of {self.p.rds_instance} in "
                                          f"{self.standby.region}: nothing to restore", rule="§11")
        newest = max(snaps, key=lambda s: s["SnapshotCreateTime"])
        age = (datetime.now(timezone.utc) - newest["SnapshotCreateTime"]).total_seconds()
        self.report.rpo_s = round(age, 1)
        self.report.snapshot = {"id": newest["DBSnapshotIdentifier"], "arn": newest.get("DBSnapshotArn"),
                                "created": newest["SnapshotCreateTime"].isoformat(), "age_s": round(age, 1),
                                "kms_key": newest.get("KmsKeyId")}
        enc = newest.get("Encrypted") and (key is None or newest.get("KmsKeyId") == key)
        self.report.checks.add("snapshot copied, encrypted there", None if enc else
                               f"{newest['DBSnapshotIdentifier']} is not encrypted with {self.standby.kms_key_alias}",
                               f"{newest['DBSnapshotIdentifier']} ({newest.get('KmsKeyId')})", "§11")
        self.report.checks.add("snapshot age (the RPO now)", None if age <= self.standby.rpo_target_s else
                               f"{age / 3600:.1f} h old, over the {self.standby.rpo_target_s / 3600:.0f} h target",
                               f"{age / 3600:.1f} h", "§11", warn=True)

    def _current(self) -> taskdef.TaskDefinition | None:
        return self.report.primary

    def _image(self) -> None:
        current = self._current()
        if current is None:
            return
        repo, tag = self.standby.repository, current.image_tag
        primary = primary_probe(self.ctx, "ecr")
        want = primary.describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])["imageDetails"][0]
        try:
            have = self.sb("ecr").describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])["imageDetails"][0]
        except ClientError as e:
            return self.report.checks.add("image replicated", f"{repo}:{tag} is not in {self.standby.region}'s ECR "
                                          f"({e.response.get('Error', {}).get('Code')})", rule="§11")
        self.report.checks.add("image replicated", None if have["imageDigest"] == want["imageDigest"] else
                               f"{repo}:{tag} in {self.standby.region} is {have['imageDigest']}, the primary's "
                               f"{want['imageDigest']}", f"{tag} {want['imageDigest'][:19]}…", "§11")
        rules = primary.describe_registry().get("replicationConfiguration", {}).get("rules", [])
        covered = any(any(d["region"] == self.standby.region for d in r.get("destinations", []))
                      and any(repo.startswith(f["filter"]) for f in r.get("repositoryFilters", [])) or
                      not r.get("repositoryFilters") for r in rules)
        self.report.checks.add("ECR replication rule", None if covered else
                               f"no replication rule sends {repo} to {self.standby.region}: the next image "
                               "will not be there", f"{repo} → {self.standby.region}", "§11", warn=True)

    def _secrets(self) -> None:
        current = self._current()
        if current is None:
            return
        refs = sorted({s["valueFrom"] for c in current.spec["containerDefinitions"] for s in c.get("secrets", [])})
        primary, standby = primary_probe(self.ctx, "secretsmanager"), self.sb("secretsmanager")
        missing, stale = [], []
        for arn in refs:
            name = arn.split(":secret:", 1)[1].rsplit("-", 1)[0] if ":secret:" in arn else arn
            want = _current_version(primary.describe_secret(SecretId=name))
            try:
                have = _current_version(standby.describe_secret(SecretId=name))
            except ClientError:
                missing.append(name)
                continue
            if have != want:
                stale.append(f"{name} (standby {have}, primary {want})")
        problems = ([f"not replicated to {self.standby.region}: {', '.join(missing)}"] if missing else []) + \
                   ([f"out of sync: {', '.join(stale)}"] if stale else [])
        self.report.checks.add("secrets replicated and in sync", problems,
                               f"{len(refs)} secrets, the same AWSCURRENT version id", "§8/§11")

    def _standby_taskdef(self, ecs) -> taskdef.TaskDefinition | None:
        arns = ecs.list_task_definitions(familyPrefix=self.standby.family, status="ACTIVE", sort="DESC",
                                         maxResults=1)["taskDefinitionArns"]
        return taskdef.TaskDefinition.describe(ecs, arns[0]) if arns else None

    def _task_definition(self) -> None:
        ecs = self.sb("ecs")
        mine = self._standby_taskdef(ecs)
        if mine is None:
            return self.report.checks.add("standby task definition", f"no ACTIVE revision of {self.standby.family} "
                                          f"in {self.standby.region}", rule="§11")
        current = self._current()
        if current is None:
            return self.report.checks.add("standby task definition", None, mine.short, "§11")
        want = regional(current.spec, self.p.region, self.standby.region)
        drift = taskdef.diff(want, mine.spec)
        self.report.checks.add("standby task definition mirrors the current one",
                               [f"{k}: standby {b!r}, expected {a!r}" for k, (a, b) in list(drift.items())[:4]],
                               f"{mine.short} = {current.short} but for region-bound ARNs", "§11", warn=True)

    def _service(self) -> None:
        ecs = self.sb("ecs")
        found = ecs.describe_services(cluster=self.standby.cluster, services=[self.standby.service])
        svc = next((s for s in found["services"] if s.get("status") == "ACTIVE"), None)
        if svc is None:
            return self.report.checks.add("standby service", f"no service {self.standby.cluster}/"
                                          f"{self.standby.service} in {self.standby.region}", rule="§11")
        self.report.checks.add("standby service at desired 0 (cold)", None if svc["desiredCount"] == 0 else
                               f"desired {svc['desiredCount']}: the standby is not cold (who scaled it?)",
                               f"{self.standby.cluster}/{self.standby.service}", "§11", warn=True)

    def _subnet_group(self) -> None:
        try:
            self.sb("rds").describe_db_subnet_groups(DBSubnetGroupName=self.standby.db_subnet_group)
            self.report.checks.add("DB subnet group", None, self.standby.db_subnet_group, "§11")
        except ClientError as e:
            self.report.checks.add("DB subnet group", f"{self.standby.db_subnet_group}: {_error(e)}", rule="§11")

    def _dns(self) -> None:
        from rovn_ops.clients import cloudflare
        from rovn_ops.dr.standby import dns_client

        try:
            dns = dns_client(self.ctx, self.standby)
            found = {n: dns.record(n) for n in self.standby.records}
        except cloudflare.CloudflareError as e:
            return self.report.checks.add("DNS records that move", f"Cloudflare: {e}", rule="§4", warn=True)
        missing = [n for n, r in found.items() if r is None]
        proxied = [n for n, r in found.items() if r and r.get("proxied")]
        self.report.checks.add("DNS records that move", ([f"missing: {', '.join(missing)}"] if missing else []) +
                               ([f"orange-cloud (proxied): {', '.join(proxied)}; §4 keeps PHI off the edge"]
                                if proxied else []),
                               ", ".join(f"{n} → {r['content']}" for n, r in found.items() if r), "§4")


def copied_snapshots(rds, instance: str) -> list[dict]:
    """The standby's available snapshots of the primary instance (a copy keeps its
    DBInstanceIdentifier), every page."""
    return [s for page in rds.get_paginator("describe_db_snapshots").paginate(DBInstanceIdentifier=instance)
            for s in page["DBSnapshots"] if s.get("Status") == "available"]


def _current_version(described: dict) -> str | None:
    return next((v for v, stages in (described.get("VersionIdsToStages") or {}).items() if "AWSCURRENT" in stages),
                None)


@dataclass(frozen=True)
class Verdict:
    verdict: str
    gaps: tuple[str, ...]
    slack: str

    def __repr__(self) -> str:
        return "\n".join([f"verdict: {self.verdict}", *(f"  - {g}" for g in self.gaps), f"slack: {self.slack}"])

    def _repr_markdown_(self) -> str:
        gaps = "".join(f"\n- {md(g)}" for g in self.gaps)
        return f"### {md(self.verdict)}" + (f"\n\nGaps:{gaps}" if gaps else "") + f"\n\nSlack: {md(self.slack)}"


def verdict(ctx, report: Report) -> Verdict:
    """The run's end: the audit row, the Slack post when not READY, the outcome (exit code)."""
    from rovn_ops.audit import log as audit, notify

    v = report.verdict
    audit.append(ctx.db, actor=str(ctx.operator), action="dr_readiness", target=report.standby.region,
                 outcome={READY: "ready", DEGRADED: "degraded"}.get(v, "not_ready"), run_id=ctx.run_id,
                 details=report.as_dict())
    slack = "not posted: READY"
    if v != READY:
        text = f"DR standby {report.standby.region}: {v}. " + "; ".join(report.gaps)[:2500]
        d = notify.slack(ctx.webhook("slack_webhook_url"), text)
        slack = "posted" if d.ok else str(d)
    ctx.record(outcome="success" if v == READY else "attention",
               summary={"verdict": v, "problems": report.gaps, "rpo_s": report.rpo_s,
                        "next_step": None if v == READY else "close each gap named, then run dr_readiness again"})
    return Verdict(v, tuple(report.gaps), slack)
