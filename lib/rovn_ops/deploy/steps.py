"""The steps of runbooks/deploy.ipynb: preview (preflight, gates, the plan), execute
(build, gate, migrations, register, roll out), verify (the world), and what to do
on failure. Every step is idempotent: a re-run finds the build, the migrations, the
revision and the deployment it already made."""
from __future__ import annotations

import hashlib
import json
from collections import Counter
import tempfile
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path

from rovn_ops.core.escape import code, markdown as md
from rovn_ops.protocol import lock as change_lock
from rovn_ops.clients import db
from rovn_ops.audit import notify
from rovn_ops.core import paths, plaintext
from rovn_ops.core.errors import BadInput, RovnError
from rovn_ops.migrations import engine, phi
from rovn_ops.protocol.change import Plan, authorize, refuse, webhook
from rovn_ops.ecs.names import short_td
from rovn_ops.ecs import bake, image, preflight, rollback_target, rollout, taskdef, verify
from rovn_ops.deploy import build, provenance, resume, secrets_scan
from rovn_ops.clients import github
from rovn_ops.protocol.checks import Checks
from rovn_ops.deploy.source import Source
from rovn_ops.core import controls

BUILT = "<built from source>"


class DeployFailed(RovnError):
    """The deploy failed after it started changing things; `details` is what it did."""

    def __init__(self, message: str, details: dict):
        super().__init__(message)
        self.details = details


@dataclass
class Prepared:
    service: dict
    current: taskdef.TaskDefinition
    checks: Checks
    plan: Plan
    pending: list[str]
    image_tag: str            # "" while the build is still to come
    build_from: Source | None
    provenance: provenance.Provenance | None = None
    alarms: list = field(default_factory=list)  # the bake alarms as they stand before the deploy
    forced_over: list = field(default_factory=list)  # foreign deployments in flight, gone over with force

    def _repr_markdown_(self) -> str:
        diff = "\n".join(f"| `{code(k)}` | `{code(a)}` | `{code(b)}` |"
                         for k, (a, b) in self.plan.changes["task_definition"]["diff"].items())
        pending = ", ".join(f"`{code(n)}`" for n in self.pending) or "none"
        return (f"**New revision of `{code(self.current.short.split(':')[0])}`** (from `{code(self.current.short)}`), "
                f"only these fields change:\n\n| field | now | new |\n|---|---|---|\n{diff}\n\n"
                f"**Migrations applied before traffic:** {pending}\n\n"
                f"**Rollback target (kept registered):** `{code(self.current.short)}` ({md(self.current.image_tag)})\n\n"
                f"**Bake alarms now** (one in ALARM must recover during the bake; one that fires fails it):\n\n"
                "| alarm | shape | evaluates | state now | reason |\n|---|---|---|---|---|\n"
                + "\n".join(f"| `{code(a.name)}` | {md(a.shape)} | `{code(a.math[:120])}` | {md(a.state)} | "
                             f"{md(a.reason[:80])} |" for a in self.alarms) + "\n")

    __repr__ = plaintext.markdown_repr


@dataclass
class Result:
    previous: taskdef.TaskDefinition
    image_tag: str = ""
    build: build.Build | None = None
    migrations: list[str] = field(default_factory=list)
    snapshot: str | None = None
    new: taskdef.TaskDefinition | None = None
    registered_now: bool = False
    deployment_id: str = ""
    update_started: bool = False
    verdict: rollout.Verdict | None = None
    rollback: dict | None = None
    provenance: dict | None = None
    resumes: list[str] = field(default_factory=list)   # earlier attempts this run finishes
    deployed_at: datetime | None = None                 # update-service: the bake's pre-deploy mark
    alarms: list = field(default_factory=list)          # bake.Alarm, recorded before update-service
    forced_over: list = field(default_factory=list)     # force=true: the foreign deployments gone over

    def details(self) -> dict:
        """What the audit row records of this deploy."""
        return {"previous_task_definition": self.previous.arn, "previous_image_tag": self.previous.image_tag,
                "new_task_definition": self.new.arn if self.new else None, "new_image_tag": self.image_tag or None,
                "build": self.build.id if self.build else None, "migrations": self.migrations,
                "snapshot": self.snapshot, "deployment_id": self.deployment_id or None,
                "deployment": self.verdict.as_dict() if self.verdict else None,
                "rollback": self.rollback, "provenance": self.provenance, "resumes": self.resumes,
                "bake": [a.as_dict() for a in self.alarms],
                "override": {"force": self.forced_over} if self.forced_over else None}

    def __repr__(self) -> str:
        lines = [f"image      {self.image_tag}" + (f"  ({self.build})" if self.build else ""),
                 f"migrations {', '.join(self.migrations) or 'none'}" + (f"  (snapshot {self.snapshot})"
                                                                          if self.snapshot else ""),
                 f"revision   {self.new.short if self.new else '-'}"
                 + (" (registered now)" if self.registered_now else " (registered by an earlier attempt)"),
                 f"rollout    {self.verdict}"]
        return "\n".join(lines)


class Steps:
    def __init__(self, ctx):
        self.ctx, p = ctx, ctx.params
        self.p = p
        self.calls: Counter = Counter()
        self.ecs = ctx.client("ecs")
        # Every ECS call counted (DescribeServices per deploy is a benchmark figure).
        self.ecs.meta.events.register("before-call.ecs.*", self._count, unique_id=f"rovn-count-{id(self)}")
        self.source = Source.open(paths.project_path(p.source), _environment_source(p.env)) if p.source else None
        self.resuming: resume.Unfinished | None = None
        self.earlier: dict[str, str] = {}
        self.result: Result | None = None
        self.checked: Checks | None = None
        # The service as the latest prepare read it: execute's replan reads it under the change
        # lock, and the rollout starts from that read (one DescribeServices per phase, issue 24).
        self.live_service: dict | None = None

    def _count(self, model, **_):
        self.calls[model.name] += 1

    @cached_property
    def conn(self):
        return db.connect(db.migration_url())

    @property
    def migrations_dir(self):
        found = self.source.migrations_dir if self.source else None
        return found or paths.project_path(self.p.migrations_dir)

    @property
    def say(self):
        return lambda line: print(line, flush=True)

    # preview -------------------------------------------------------------------
    def prepare(self) -> Prepared:
        p, ctx = self.p, self.ctx
        checks = Checks()
        checks.add("identity on the deployers allow-list", None, authorize(ctx, "deploy", p.service), "§10")
        service = self.live_service = rollout.describe(self.ecs, p.cluster, p.service)
        live = taskdef.TaskDefinition.describe(self.ecs, service["taskDefinition"])
        self.resuming = resume.unfinished(self.conn, self.ecs, live)
        current = self.resuming.base if self.resuming else live
        if self.resuming:  # our own rollout may be in flight: it is taken over, not refused
            checks.add("an unfinished deploy, resumed", None, str(self.resuming), "§10")
            forced = []
        else:
            forced = preflight.stable(checks, service, ours=preflight.suite_deployments(self.conn), force=p.force)
        preflight.multi_az(checks, ctx.client("ec2"), ctx.client("rds"), service, p.rds_instance)
        report = preflight.migrations(checks, self.conn, self.migrations_dir, self._registry())
        self.earlier = resume.earlier_migrations(self.conn)
        planned_migrations = [m.name for m in report.files if m.name in report.pending or m.name in self.earlier]
        preflight.snapshots(checks, ctx.client("rds"), p.rds_instance)
        build_from = None if p.image_tag else self.source
        tag, prov = p.image_tag, None
        if build_from is None and not tag:
            checks.add("an image to deploy", "neither image_tag nor source is given")
        elif build_from is not None:
            prov = self._source_gates(checks, build_from)
            tag = self._built_before(build_from)
        else:
            prov = self._tag_gates(checks, tag)
            scan = image.scan(ctx.client("ecr"), p.repository, tag)
            checks.add(f"image scan below {p.severity_threshold}", scan.problems(p.severity_threshold),
                       scan.summary(), "§9")
            if scan.warnings():
                checks.add("image scan current", scan.warnings(), rule="§9", warn=True)
        spec = self.render(current, tag or BUILT)  # a source built before: its image, so a no-op shows
        for name, problems in taskdef.problems(spec).items():
            checks.add(f"task definition: {name}", problems, "", "§8" if "secret" in name else "§9")
        changed = taskdef.diff(current.spec, spec)
        checks.add("a new task definition revision", None if changed else force_new_only(current),
                   f"{len(changed)} field(s) change", "§2")
        # The plan names a build by its source, never by a tag an earlier attempt produced,
        # so a re-run after a crash has the very plan (and hash) that was approved.
        planned = taskdef.diff(current.spec, self.render(current, p.image_tag or BUILT))
        alarms = bake.states(ctx.client("cloudwatch"), p.bake_alarms)
        firing = [a.name for a in alarms if a.state == "ALARM"]
        checks.add("bake alarms before the deploy", [f"{', '.join(firing)} already in ALARM: the bake will require "
                   "its metric to recover against the pre-deploy window"] if firing else None,
                   "none in ALARM", "§5", warn=True)
        plan = self._plan(current, planned, planned_migrations, build_from, prov, forced)
        if not checks.ok:
            refuse(ctx, "deploy", p.service, checks.refusal(), {"checks": checks.as_dicts(), "plan": plan.changes})
        return Prepared(service, current, checks, plan, planned_migrations, p.image_tag, build_from, prov, alarms,
                        plan.changes.get("forced_over", []))

    def _source_gates(self, checks: Checks, source: Source, built_by: str = "") -> provenance.Provenance:
        """§2's provenance, §9's Dockerfile and lockfile rules and §8's secret scan, on the
        source to build or the source an image was built from."""
        prov = replace(provenance.check(checks, source, github.connect(self.ctx), self.ctx.env), build=built_by)
        self.ctx.record(facts={"provenance": prov.as_dict()})
        for name, problems in source.hygiene().items():
            checks.add(f"source: {name}", problems, _HYGIENE_OK.get(name, ""), "§9")
        files = source.scanned_files()
        checks.add("source: no secrets (detect-secrets)", secrets_scan.problems(source.root, files),
                   f"{len(files)} files scanned", "§8")
        return prov

    def _tag_gates(self, checks: Checks, tag: str) -> provenance.Provenance | None:
        """An image deployed by tag passes the gates a build from source does, on the
        source its CodeBuild build read (the zip carries the commit: an S3 source has no
        resolvedSourceVersion). No build of the project pushed it: not deployable."""
        p, ctx = self.p, self.ctx
        made = build.producer(ctx.client("codebuild"), p.codebuild_project, tag, p.repository)
        if made is None:
            raise BadInput(f"parameter 'image_tag': no successful build of CodeBuild project {p.codebuild_project} "
                           f"pushed {tag} to {p.repository}; only an image CodeBuild built from a commit on main "
                           "deploys (§2): deploy from source (-p source=…) instead")
        body, why = build.source_zip(ctx.client("s3"), made)
        if body is None:  # its provenance cannot be shown: prod refuses, elsewhere it warns
            checks.add("image: the source its build read", why, rule="§2", warn=ctx.env != "prod")
            return provenance.Provenance(repository=github.connect(ctx).repository, build=made["id"])
        zipped = Path(tempfile.mkdtemp(prefix="rovn-built-")) / "source.zip"
        zipped.write_bytes(body)
        checks.add("image: built by CodeBuild", None, f"{tag} pushed by build {made['id']}", "§2")
        return self._source_gates(checks, Source.open(str(zipped)), built_by=made["id"])

    def replan(self) -> Plan:
        """The plan again from the live state (the service, the source as it is now, the
        migrations), for protocol.Change.execute to compare with the approved one."""
        if self.p.source:  # a commit made since the preview is a new plan
            self.source = Source.open(paths.project_path(self.p.source))
        return self.prepare().plan

    def _built_before(self, source: Source) -> str:
        """The tag of an earlier successful build of this very source, or ""."""
        found = build.previous(self.ctx.client("codebuild"), self.p.codebuild_project, source.sha256,
                               self.p.repository)
        return found.tag if found and found.status == "SUCCEEDED" else ""

    def _registry(self) -> dict:
        return phi.load_registry(paths.project_path(self.p.phi_registry))

    def render(self, current: taskdef.TaskDefinition, tag: str) -> dict:
        p = self.p
        repo_uri = current.image.rsplit(":", 1)[0].rsplit("/", 1)[0] + "/" + p.repository
        env = dict(a.split("=", 1) for a in p.set_env)
        return taskdef.render(current, f"{repo_uri}:{tag}", p.cpu, p.memory, env)

    def _plan(self, current, changed: dict, pending: list[str], build_from: Source | None,
              prov: provenance.Provenance | None = None, forced: list[dict] = ()) -> Plan:
        p = self.p
        image_change = {"from": current.image_tag, "to": p.image_tag or BUILT}
        if build_from is not None:
            image_change["build"] = {"source_sha256": build_from.sha256, "project": p.codebuild_project,
                                     "commit": prov.commit if prov else "", "tags": prov.tags if prov else []}
        elif prov is not None:  # the build that made the tag, and the commit it was built from
            image_change["built_by"] = {"build": prov.build, "commit": prov.commit}
        changes = {"service": f"{p.cluster}/{p.service}", "from_task_definition": current.arn,
                   "image": image_change, "task_definition": {"diff": changed}, "migrations": pending,
                   "severity_threshold": p.severity_threshold}
        summary = (f"service {p.cluster}/{p.service}: {current.short} → a new revision of {current.spec['family']}",
                   f"image {current.image_tag} → {p.image_tag or 'built from source ' + build_from.sha256[:12]}",
                   f"migrations before traffic: {', '.join(pending) or 'none'}",
                   f"rollout watched by deployment id for up to {p.deadline_s:.0f}s, then {p.bake_s:.0f}s of bake")
        touching = self._phi(pending)
        why = [f"PHI migrations ({', '.join(touching)}), §3"] if touching else []
        if forced:  # the approved plan names what it goes over: another deployment, another hash
            changes["forced_over"] = preflight.forced_over(forced)
            why.append("force: over a deployment in flight the suite did not start")
        return Plan("deploy", p.service, changes, summary, 2 if why else 1, "; ".join(why),
                    signed_only=bool(touching), lock=change_lock.service(p.cluster, p.service))

    def _phi(self, pending: list[str]) -> list[str]:
        """The pending migrations that touch a PHI column: the deploy needs two approvers."""
        from rovn_ops.migrations import files

        by_name = {m.name: m for m in files.discover(self.migrations_dir)}
        return [n for n in pending if n in by_name and phi.touched(by_name[n], self._registry())]

    # execute -------------------------------------------------------------------
    def execute(self, prepared: Prepared, approval) -> Result:
        result = self.result = Result(previous=prepared.current, forced_over=prepared.forced_over,
                                      provenance=prepared.provenance.as_dict() if prepared.provenance else None)
        result.resumes = sorted({*self.earlier.values(), *([self.resuming.run_id] if self.resuming else [])})
        try:
            self._image(prepared, result)
            self._migrate(result, approval.approvers, prepared.pending)
            self._register(prepared, result)
            self._roll_out(result)
        except KeyboardInterrupt as e:  # the protocol logs `interrupted` with what was done
            e.details = result.details()
            raise
        except Exception as e:
            self._failed(result, e)
        self.ctx.record(facts=self._facts(result))
        return result

    def _image(self, prepared: Prepared, result: Result) -> None:
        p, ctx = self.p, self.ctx
        if prepared.build_from is None:
            result.image_tag = prepared.image_tag
        else:
            result.build = self._build(prepared.build_from)
            result.image_tag = result.build.tag
        scan = image.scan(ctx.client("ecr"), p.repository, result.image_tag, deadline_s=min(600.0, p.deadline_s),
                          pause=p.poll_max)
        problems = scan.problems(p.severity_threshold)
        self.say(f"  image gate: {scan.summary()}")
        if problems:
            raise RovnError("image gate (§9): " + "; ".join(problems) + ": nothing was deployed")

    def _build(self, source: Source) -> build.Build:
        p, ctx = self.p, self.ctx
        cb = ctx.client("codebuild")
        found = build.previous(cb, p.codebuild_project, source.sha256, p.repository)
        if found is None:
            key = build.upload(ctx.client("s3"), p.source_bucket, p.repository, source.archive, source.sha256)
            self.say(f"  source s3://{p.source_bucket}/{key} ({len(source.archive)} bytes, sha256 {source.sha256[:12]})")
            found = build.start(cb, p.codebuild_project, p.source_bucket, key, p.repository,
                                image.new_tag(p.tag_suffix), source.sha256)
        self.say(f"  {found}")
        return build.wait(cb, found, deadline_s=max(p.deadline_s, 1800), first=p.poll_min, longest=p.poll_max,
                          say=self.say)

    def _migrate(self, result: Result, approvers: list[str], planned: list[str]) -> None:
        p, op = self.p, self.ctx.operator
        applied = engine.apply(self.conn, self.migrations_dir, actor=engine.Actor(op.arn, op.local_user, self.ctx.run_id),
                               approvers=approvers, registry=self._registry(), rds=self.ctx.client("rds"),
                               rds_instance=p.rds_instance, lock_wait=p.lock_wait)
        result.migrations = [n for n in planned if n in self.earlier] + applied.names  # this deploy's, all attempts
        result.snapshot = applied.snapshot.id if applied.snapshot else None
        self.say(f"  migrations: {applied!r}; {applied.report}")

    def _register(self, prepared: Prepared, result: Result) -> None:
        spec = self.render(prepared.current, result.image_tag)
        if not taskdef.diff(prepared.current.spec, spec):
            raise RovnError(force_new_only(prepared.current))
        key = deploy_key(self.p, prepared.current.arn, spec)
        family = prepared.current.spec["family"]
        found = taskdef.find_registered(self.ecs, family, prepared.current.revision, key)
        result.new = found or taskdef.register(self.ecs, spec, key, self.ctx.run_id, prepared.current.arn)
        result.registered_now = found is None
        self.say(f"  task definition {result.new.short} " + ("registered" if found is None else
                                                               "found (registered by an earlier attempt)")
                 + f", deploy key {key}")

    def _roll_out(self, result: Result) -> None:
        p, cw = self.p, self.ctx.client("cloudwatch")
        result.deployed_at = datetime.now(timezone.utc)
        result.alarms = bake.before(cw, p.bake_alarms, result.deployed_at)  # before update-service
        if self.resuming is None and result.new.tags.get(taskdef.TAG_RUN) != self.ctx.run_id:
            # A reused revision names a finished run: mark it as ours first, so a kill
            # after update-service leaves an unfinished deploy for the re-run to resume.
            result.new = taskdef.mark_rollout(self.ecs, result.new, self.ctx.run_id)
        began = rollout.start(self.ecs, p.cluster, p.service, result.new.arn, self.live_service)
        result.deployment_id, started = began.deployment_id, began.now
        if not started:  # an earlier attempt's deployment: its own start is the pre-deploy mark
            result.deployed_at = began.created_at or result.deployed_at
            result.alarms = bake.before(cw, p.bake_alarms, result.deployed_at)
        self.ctx.record(facts=self._facts(result))  # the deployment id, should the run be killed now
        result.update_started = True  # now or by an earlier attempt: either way the service moved
        self.say(f"  update-service: deployment {result.deployment_id} of {result.new.short}"
                 + ("" if started else " (started by an earlier attempt; watching it)"))
        # UpdateService's answer is the first poll; a taken-over deployment is read afresh.
        result.verdict = rollout.watch(self.ecs, p.cluster, p.service, result.deployment_id,
                                       deadline_s=p.deadline_s, first=p.poll_min, longest=p.poll_max, say=self.say,
                                       fresh=began.service if started else None)
        if not result.verdict.ok:
            raise RovnError(f"rollout {result.verdict.state}: {result.verdict.reason}")

    # verify --------------------------------------------------------------------
    def verify(self, result: Result) -> Checks:
        p = self.p
        try:
            # The poll that gave the verdict is the service now (read moments ago); the bake's
            # alarms, running tasks < desired among them, watch it from here on.
            service = (result.verdict.service if result.verdict and result.verdict.service
                       else rollout.describe(self.ecs, p.cluster, p.service))
            checks = verify.world(health_url=p.health_url, tag=result.image_tag, service=service,
                                  cloudwatch=self.ctx.client("cloudwatch"), alarms=result.alarms,
                                  deployed_at=result.deployed_at, bake_s=p.bake_s, deadline_s=p.deadline_s,
                                  first=p.poll_min, longest=p.poll_max, say=self.say)
            self.checked = checks
            if not checks.ok:
                raise RovnError("verification failed: " + "; ".join(f"{c.name}: {c.detail}" for c in checks.failures))
        except KeyboardInterrupt as e:
            e.details = result.details()
            raise
        except Exception as e:
            self._failed(result, e)
        self.ctx.record(facts=self._facts(result))
        return checks

    def details(self) -> dict:
        """The success row's details, written by the verify step itself."""
        return {**details(self.result), "verification": self.checked.as_dicts() if self.checked else []}

    # failure -------------------------------------------------------------------
    def _failed(self, result: Result, error: Exception):
        """§7 and §9 of the issue: roll back only if no migration ran; else page."""
        p = self.p
        message = str(error) if isinstance(error, RovnError) else f"{type(error).__name__}: {error}"
        if result.update_started and result.migrations:
            result.rollback = {"done": False, "why": "a migration ran in this deploy (§7)"}
            nxt = self._migration_next_step(result)
            page = notify.pagerduty(webhook(self.ctx, "pagerduty_webhook_url"),
                                    f"[{self.ctx.env}] deploy of {p.service} failed after migrations "
                                    f"{', '.join(result.migrations)}: {message}", source=p.service,
                                    dedup_key=f"deploy-{self.ctx.run_id}")
            result.rollback["paged"] = page.ok
        elif result.update_started and p.auto_rollback:
            result.rollback = self._roll_back(result)
            nxt = ("the service is back on " + result.previous.short if result.rollback["ok"] else
                   self._page_failed_rollback(result, message))
        elif result.update_started:
            result.rollback = {"done": False, "why": "auto_rollback=False"}
            nxt = f"roll back by hand: {self.rollback_command(result)}"
        else:
            nxt = "nothing reached the service; fix the cause and deploy again"
        self.ctx.record(facts=self._facts(result))
        raise DeployFailed(f"deploy FAILED: {message.rstrip('.')}. Next: {nxt}", result.details()) from None

    def _roll_back(self, result: Result) -> dict:
        p = self.p
        self.say(f"  auto rollback to {result.previous.short} (no migration ran in this deploy)")
        v = rollout.to_revision(self.ecs, p.cluster, p.service, result.previous.arn, deadline_s=p.deadline_s,
                                 first=p.poll_min, longest=p.poll_max, say=self.say)
        wait = verify.health_wait(p.deadline_s, p.poll_max)
        health = verify.health(p.health_url, result.previous.image_tag, deadline_s=wait,
                               first=p.poll_min, longest=p.poll_max) if v.ok else []
        return {"done": True, "ok": v.ok and not health, "to": result.previous.arn, "deployment": v.as_dict(),
                "health": health or "reports " + result.previous.image_tag}

    def _page_failed_rollback(self, result: Result, message: str) -> str:
        """The automatic rollback did not verify: nobody is watching a broken service. P0 (§6)."""
        p = self.p
        state = self.service_state()
        page = notify.pagerduty(webhook(self.ctx, "pagerduty_webhook_url"),
                                f"P0 [{self.ctx.env}] {p.service}: deploy failed ({message}) and the automatic "
                                f"rollback to {result.previous.short} did not verify. Now: {state}",
                                source=p.service, severity="critical", dedup_key=f"deploy-{self.ctx.run_id}")
        result.rollback.update(paged=page.ok, service_state=state)
        return (f"the automatic rollback to {result.previous.short} did NOT verify; PagerDuty "
                f"{'was paged (P0)' if page.ok else 'could NOT be paged (' + str(page) + '): call on-call now'}. "
                f"The service now: {state}. Check it (rovn-ops run service_status) and act: "
                f"{self.rollback_command(result)}")

    def service_state(self) -> str:
        """What the service is doing right now, in one line (for a page, and the operator)."""
        p = self.p
        try:
            svc = rollout.describe(self.ecs, p.cluster, p.service)
            status, version = verify.health_version(p.health_url) if p.health_url else (0, None)
        except Exception as e:  # noqa: BLE001 - a page goes out even when AWS does not answer
            return f"unknown ({type(e).__name__} reading it)"
        deps = ", ".join(f"{d['status']} {short_td(d['taskDefinition'])} {d.get('rolloutState', '')} "
                         f"{d['runningCount']}/{d['desiredCount']}" for d in svc["deployments"])
        return (f"runs {short_td(svc['taskDefinition'])}, {svc['runningCount']}/{svc['desiredCount']} tasks running; "
                f"deployments: {deps}; /health answered {status or 'nothing'} with version {version!r}")

    def _migration_next_step(self, result: Result) -> str:
        names = ", ".join(result.migrations)
        return (f"do NOT roll back the task alone: migration(s) {names} ran (§7). Check whether "
                f"{result.previous.short} ({result.previous.image_tag}) can read the new schema; if it cannot, "
                f"reverse first (rovn-ops run migration_reversal --env {self.ctx.env} -p migration=<file>), "
                f"then {self.rollback_command(result)}. Snapshot: {result.snapshot}. PagerDuty was paged.")

    def _facts(self, result: Result) -> dict:
        return {**result.details(), "ecs_calls": dict(self.calls)}

    def rollback_command(self, result: Result) -> str:
        """The rollback on-call would run: to the revision this deploy replaced if it can
        still run (ACTIVE, image in ECR, scan clean), else the newest verified one that can
        (a hotfix over an expired image replaced a revision with no image)."""
        running = result.new.arn if result.new else ""
        try:
            to = rollback_target.destination(self.ecs, self.ctx.client("ecr"), self.conn, result.previous, running,
                                             self.p.severity_threshold)
        except Exception:  # noqa: BLE001 - a failure message still needs its command
            to = None
        if to is None:
            return (f"rovn-ops run rollback --env {self.ctx.env}   # {result.previous.short} cannot run and no "
                    "verified revision passes: deploy a fix instead")
        return f"rovn-ops run rollback --env {self.ctx.env} -p to_revision={to.target.short}"


_HYGIENE_OK = {"base image pinned by digest": "FROM python:3.11-slim@sha256:…",
               "non-root USER": "the final stage sets a non-root USER", "lockfile committed": "found and pinned"}


@controls.enforces('§2 new revision')
def force_new_only(current: taskdef.TaskDefinition) -> str:
    return (f"{current.image_tag} already runs on {current.short} and nothing else changes: force-new-deployment "
            "alone is a no-op; every prod deploy registers a new task definition revision (§2)")


def deploy_key(p, base_arn: str, spec: dict) -> str:
    """The idempotency key of a deploy: the same service, base revision and new spec."""
    body = json.dumps({"service": f"{p.cluster}/{p.service}", "base": base_arn, "spec": spec}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:24]


def details(result: Result | None) -> dict:
    return result.details() if result else {}


def summary(ctx, change, prepared: Prepared, steps: Steps):
    """The last cell: the outcome, the run id, the rollback command."""
    change.finish()
    if not change.approval.executed:
        return plaintext.Note(f"### Preview only: nothing was deployed\n\nNext: get the plan reviewed, then run the "
                        f"command above with the approvers' names.\n\nrun id: `{ctx.run_id}`")
    r = change.result
    ctx.record(summary={"revision_from": r.previous.short, "revision_to": r.new.short,
                        "image_from": r.previous.image_tag, "image_to": r.image_tag,
                        "build_id": r.build.id if r.build else None, "migrations": r.migrations,
                        "rollback_command": steps.rollback_command(r)})
    return plaintext.Note(
        f"### Deployed: `{ctx.params.service}` runs `{r.new.short}` ({r.image_tag})\n\n"
        f"Was `{r.previous.short}` ({r.previous.image_tag}), kept registered as the rollback target. "
        f"Migrations: {', '.join(r.migrations) or 'none'}.\n\n"
        f"To roll this deploy back:\n\n```sh\n{steps.rollback_command(r)}\n```\n\nrun id: `{ctx.run_id}`")


def _environment_source(env: str) -> str:
    """parameters/<env>.yaml's source, as a refusal names it (resolved like the run's)."""
    from rovn_ops.safety.params import environment_defaults

    value = environment_defaults(env).get("source") or ""
    return str(paths.project_path(value)) if value else ""
