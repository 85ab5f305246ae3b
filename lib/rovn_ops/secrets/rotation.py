"""The secret rotation runbook's flow (§8, §10): the audit (inventory, drift), then one
secret's rotation through preview → confirm → execute → verify → log.

Execute walks AWS's four steps (steps.py) with the secret's class strategy, rolls the
service's tasks when its task definition takes the secret, then retires the old
value. Every step's outcome is an audit_log row (`secret_rotation_step`, never a
value); those rows are also the journal a re-run reads to resume (the deployment it
started). A failure pages; every rotation and failure goes to the security channel."""
from __future__ import annotations

from dataclasses import dataclass, field

from rovn_ops.audit import log as audit, notify
from rovn_ops.protocol import lock as change_lock
from rovn_ops.protocol.checks import Checks
from rovn_ops.core.errors import BadInput, Refused, RovnError
from rovn_ops.safety.params import environment_section
from rovn_ops.protocol.change import Plan, authorize, webhook
from rovn_ops.secrets import drift, inventory, policy, tasks, versions
from rovn_ops.secrets.database import Database
from rovn_ops.secrets.jwks import Jwks
from rovn_ops.secrets.mcp import Mcp
from rovn_ops.secrets.provider import Provider, adapter_for
from rovn_ops.secrets.steps import StepResult, Strategy, create_secret, finish_secret, set_secret, test_secret
from rovn_ops.secrets.values import Version, read

STEP_ACTION = "secret_rotation_step"


@dataclass
class Prepared:
    entry: inventory.Entry
    strategy: Strategy
    stages: versions.Stages
    base: Version
    token: str
    state: str
    uses: list[str]
    checks: Checks
    plan: Plan

    def _repr_markdown_(self) -> str:
        labels = "\n".join(f"| `{k}` | {v} |" for k, v in self.plan.changes["labels"].items())
        facts = "\n".join(f"| {k} | `{v}` |" for k, v in self.plan.changes["strategy"].items())
        roll = (f"roll `{self.plan.changes['service']}` (its tasks take it as {', '.join(self.uses)}), then retire "
                "the old value" if self.uses else "no task of the service takes this secret: nothing to roll")
        return (f"**Rotate `{self.entry.name}`** ({self.entry.klass}, {self.entry.age_days} days old, cadence "
                f"{self.entry.cadence_days}): {self.state}\n\n| label | move |\n|---|---|\n{labels}\n\n"
                f"| | |\n|---|---|\n{facts}\n\nAfter finishSecret: {roll}.\n")


@dataclass
class Executed:
    steps: list[StepResult] = field(default_factory=list)
    rollout: dict | None = None

    def _repr_markdown_(self) -> str:
        rows = "\n".join(f"| {s.step} | {s.outcome} | {s.detail} |" for s in self.steps)
        return f"| step | outcome | detail |\n|---|---|---|\n{rows}\n"


@dataclass(frozen=True)
class AuditVerdict:
    """secrets_audit's last cell: the verdict and, when it needs attention, what to run."""

    headline: str
    next: tuple[str, ...]

    def __repr__(self) -> str:
        return "\n".join([self.headline] + (["next:"] + [f"  {n}" for n in self.next] if self.next else []))

    def _repr_markdown_(self) -> str:
        steps = "".join(f"\n- `{n}`" for n in self.next)
        return f"**{self.headline}**" + (f"\n\nNext:{steps}" if steps else "")


class Rotation:
    def __init__(self, ctx):
        self.ctx, self.p = ctx, ctx.params
        self.sm = ctx.client("secretsmanager")
        self.policy = policy.load()
        self.facts: dict = {}

    def _fact(self, **facts) -> None:
        """The manifest's `facts` (one dict per run: each record replaces it whole)."""
        self.facts.update(facts)
        self.ctx.record(facts=self.facts)

    # the audit -----------------------------------------------------------------
    def inventory(self) -> inventory.Inventory:
        inv = inventory.take(self.sm, self.policy)
        self._fact(secrets_inventory=inv.as_dicts())
        return inv

    def drift(self, inv: inventory.Inventory) -> drift.Report:
        allowed = environment_section(self.p.env, "secrets").get("readers") or []
        # every secret, classified or not: an unclassified one is read as readily
        report = drift.check(self.ctx.client("iam"), drift.secrets_of(self.sm, inv.entries), allowed)
        self._fact(secrets_drift=report.as_dicts(), secrets_drift_findings=report.facts())
        if not report.ok:
            self._page_drift(report)
        return report

    def _page_drift(self, report: drift.Report) -> None:
        ctx = self.ctx
        for g in report.deviations:
            text = (f"[{ctx.env}] secrets drift: {g.principal} can read secrets (secretsmanager:GetSecretValue) "
                    f"through {g.policy} ({g.via})" + (f", if {g.condition}," if g.conditional else "")
                    + f" and is not on the allow-list (run {ctx.run_id})")
            audit.append(ctx.db, actor=str(ctx.operator), action="secrets_drift", target=g.principal,
                         outcome="deviation", run_id=ctx.run_id,
                         details={"policy": g.policy, "via": g.via, "arn": g.arn, "secrets": list(g.secrets),
                                  "condition": g.condition})
            print(notify.pagerduty(webhook(ctx, "pagerduty_webhook_url"), text, source="rovn-ops secrets_audit",
                                   dedup_key=f"secrets-drift:{g.arn}:{g.policy}"))
            print(notify.slack(webhook(ctx, "security_webhook_url"), text))

    def verdict(self, inv: inventory.Inventory, report: drift.Report) -> str:
        """The read-only run's end. Anything overdue or drifted is a verdict that needs
        attention (outcome `attention`, exit 4: a scheduled CI job's reminder), not a failure:
        the audit itself worked. Each overdue secret comes with its ready rotation command."""
        from rovn_ops.protocol.commands import run_command

        problems = ([inv.verdict()] if inv.overdue else []) + ([report.verdict()] if not report.ok else [])
        rotate = [run_command(self.p, "secret_rotation", f"secret={e.name}", same=()) for e in inv.overdue]
        nxt = ("rotate each overdue secret (preview first): " + "; ".join(rotate)) if rotate else \
            "review the drift the run names with the security channel (it has paged)"
        self.ctx.record(outcome="attention" if problems else "success",
                        summary={"verdict": "needs attention" if problems else "OK", "problems": problems,
                                 "rotate": rotate, "next_step": nxt if problems else None})
        if problems:
            return AuditVerdict("NEEDS ATTENTION: " + "; ".join(problems), tuple(rotate or [nxt]))
        return AuditVerdict(f"OK: {inv.verdict()}; {report.verdict()}", ())

    # preview -------------------------------------------------------------------
    def strategy(self, entry: inventory.Entry) -> Strategy:
        p, name = self.p, entry.name
        if p.action == "prune" and entry.klass != "jwt":
            raise BadInput(f"parameter 'action': prune applies to JWT signing keys, not to {name} ({entry.klass})")
        if entry.klass == "database":
            return Database(self.sm, probe_table=p.db_probe_table)
        if entry.klass == "jwt":
            return Jwks(lifetime_s=p.max_token_lifetime_s, action=p.action)
        if entry.klass == "api-key":
            adapter = adapter_for(name, entry.tags)
            if adapter is None:
                raise Refused(f"{name}: no provider adapter (tag it provider=anthropic|persona|checkr|workos|stripe)")
            return Provider(adapter, secret=name, endpoint=p.provider_endpoint, headless=self.ctx.headless)
        if entry.klass == "mcp-token":
            direction = entry.tags.get("direction") or ("inbound" if "inbound" in name else "outbound")
            return Mcp(direction=direction, url=getattr(p, f"mcp_{direction}_url"))
        if entry.klass and self.policy.classes[entry.klass].rotated_by == "rds":
            raise Refused(f"{name}: RDS rotates this secret itself (managed rotation, every {entry.cadence_days} "
                          "days); to rotate it now: aws rds modify-db-instance --rotate-master-user-password "
                          "--apply-immediately")
        raise Refused(f"{name}: no rotation policy for this secret (class {entry.klass or 'unknown'})")

    def _logged_success(self, name: str, token: str) -> bool:
        return self.ctx.db.execute(
            "SELECT 1 FROM audit_log WHERE action = 'secret_rotation' AND target = %s AND outcome = 'success' "
            "AND details->>'to_version' = %s LIMIT 1", [name, token]).fetchone() is not None

    def _where(self, st: versions.Stages) -> tuple[str, str, str]:
        """(base version, token, state): a rotation under way is resumed, never restarted."""
        if st.pending:
            return st.current, st.pending, f"resuming: AWSPENDING version {st.pending} exists"
        if st.previous and st.current == versions.token(st.arn, st.previous, self.p.action) \
                and not self._logged_success(st.name, st.current):
            return st.previous, st.current, "resuming: finishSecret done, then interrupted; rollout, retire, verify and log remain"
        return st.current, versions.token(st.arn, st.current, self.p.action), "new rotation"

    def prepare(self, inv: inventory.Inventory) -> Prepared:
        p, ctx = self.p, self.ctx
        entry = inv.get(p.secret)
        if entry is None:
            names = ", ".join(sorted(e.name for e in inv.entries)) or "none: the inventory is empty"
            raise BadInput(f"parameter 'secret': {p.secret!r} is not a secret in Secrets Manager "
                           f"({p.region}); expected one of: {names}")
        authorize(ctx, "secret_rotation", entry.name)
        self._destinations(entry.name)  # before anything is sent anywhere
        strategy = self.strategy(entry)
        st = versions.stages(self.sm, entry.name)
        base_id, token, state = self._where(st)
        base = read(self.sm, entry.name, version_id=base_id)
        uses = tasks.uses(ctx.client("ecs"), p.cluster, p.service, st.arn)
        checks = Checks()
        checks.add("secret under the §8 policy", None, f"{entry.klass}, cadence {entry.cadence_days} days", "§8")
        checks.add("at most one AWSPENDING version", None if st.pending_count() <= 1 else
                   f"{st.pending_count()} versions carry AWSPENDING", f"{st.pending_count()}")
        current = read(self.sm, entry.name, stage=versions.CURRENT)
        checks.add("the current value works", strategy.preflight(current.value), "checked", "§8")
        checks.add("long enough to scrub from the evidence", [
            "the current value is too short for the scrubber to catch: this rotation replaces it"]
            if current.value.too_short else None, "yes", warn=True)
        checks.add("the new value's source", strategy.ready(bool(st.pending) or state != "new rotation"),
                   "ready", "§8", warn=not p.confirm)
        changes = {"secret": entry.name, "arn": st.arn, "class": entry.klass, "action": p.action,
                   "from_version": base_id, "to_version": token,
                   "labels": {"AWSPENDING": f"→ {token}", "AWSCURRENT": f"{base_id} → {token}",
                              "AWSPREVIOUS": f"→ {base_id}"},
                   "strategy": strategy.plan(base.value, token),
                   "service": f"{p.cluster}/{p.service}" if uses else None, "task_variables": uses}
        plan = Plan("secret_rotation", entry.name, changes,
                    (f"{entry.name}: {p.action} ({entry.klass}), version {base_id} → {token}", state),
                    # its forced deployment moves the service: one change of it at a time
                    lock=change_lock.service(p.cluster, p.service) if uses else "").bind(p)
        if not checks.ok:
            from rovn_ops.protocol.change import refuse

            refuse(ctx, "secret_rotation", entry.name, checks.refusal().replace("deploy refused", "rotation refused"),
                   {"checks": checks.as_dicts()})
        return Prepared(entry, strategy, st, base, token, state, uses, checks, plan)

    def replan(self) -> Plan:
        """The plan again from the live state (a fresh inventory, the version stages now),
        for protocol.Change.execute to compare with the approved one."""
        return self.prepare(self.inventory()).plan

    def _destinations(self, name: str) -> None:
        """Where a secret is sent (a provider's or MCP server's URL): in prod only the
        committed environment file's values (a -p/-f override could send keys anywhere),
        in the sandbox only loopback. Refused before any value leaves."""
        from rovn_ops.core.aws import is_sandbox_endpoint
        from rovn_ops.protocol.change import refuse

        urls = {n: getattr(self.p, n) for n in ("provider_endpoint", "mcp_inbound_url", "mcp_outbound_url")}
        if self.p.env == "prod":
            committed = environment_section("prod", "parameters")
            bad = [f"{n} is not parameters/prod.yaml's value" for n, u in urls.items() if u != (committed.get(n) or "")]
        else:
            bad = [f"{n} is not a sandbox (loopback) URL" for n, u in urls.items() if u and not is_sandbox_endpoint(u)]
        if bad:
            refuse(self.ctx, "secret_rotation", name, "rotation refused: " + "; ".join(bad) + " (§8: a secret "
                   "is only ever sent where the committed environment file says)")

    # execute ---------------------------------------------------------------------
    def _journal(self, prepared: Prepared, step: str, outcome: str, detail: str, **extra) -> None:
        ctx = self.ctx
        audit.append(ctx.db, actor=str(ctx.operator), action=STEP_ACTION, target=prepared.entry.name,
                     outcome=outcome, run_id=ctx.run_id,
                     details={"step": step, "detail": detail, "version": prepared.token,
                              "plan_hash": prepared.plan.hash, **extra})
        print(f"  {step:<13} {outcome:<8} {detail}", flush=True)

    def _started_deployment(self, prepared: Prepared) -> str | None:
        row = self.ctx.db.execute(
            "SELECT details->>'deployment_id' FROM audit_log WHERE action = %s AND target = %s "
            "AND details->>'version' = %s AND details->>'step' = 'rollout' AND outcome = 'started' "
            "ORDER BY id DESC LIMIT 1", [STEP_ACTION, prepared.entry.name, prepared.token]).fetchone()
        return row[0] if row else None

    def execute(self, prepared: Prepared) -> Executed:
        try:
            return self._execute(prepared)
        except Exception as e:
            self._page(prepared, f"failed: {type(e).__name__}: {e}")
            raise

    def _execute(self, prepared: Prepared) -> Executed:
        name, token, s = prepared.entry.name, prepared.token, prepared.strategy
        done = Executed()
        for step in (create_secret, set_secret, test_secret):
            done.steps.append(r := step(self.sm, name, token, s))
            self._journal(prepared, r.step, r.outcome, r.detail)
        done.steps.append(r := finish_secret(self.sm, name, token))
        self._journal(prepared, r.step, r.outcome, r.detail)
        if prepared.uses:
            done.rollout = self._roll(prepared)
            done.steps.append(StepResult("rollout", "done", f"deployment {done.rollout['deployment_id']} completed"))
        previous = read(self.sm, name, version_id=prepared.base.version_id)
        current = read(self.sm, name, stage=versions.CURRENT)
        done.steps.append(r := StepResult("retire", "done", s.retire(previous.value, current.value)))
        self._journal(prepared, r.step, r.outcome, r.detail)
        return done

    def _roll(self, prepared: Prepared) -> dict:
        p, ecs = self.p, self.ctx.client("ecs")
        dep = self._started_deployment(prepared)
        since = inventory.current_version_created(self.sm, prepared.entry.name)  # the new version's birth
        if dep and since and tasks.resumable(ecs, p.cluster, p.service, dep, since):
            print(f"  rollout       resumed  watching deployment {dep}")
        else:
            dep, revision = tasks.start(ecs, p.cluster, p.service)
            self._journal(prepared, "rollout", "started", f"forced new deployment {dep} of {revision}",
                          deployment_id=dep, task_definition=revision)
            # in the run's record at once (a kill mid-rollout keeps it): reconcile matches the
            # deployment by the revision it rolled, which a redeploy does not change
            self._fact(rollout={"deployment_id": dep, "task_definition": revision})
        v = tasks.watch(ecs, p.cluster, p.service, dep, deadline_s=p.deadline_s, first=p.poll_min,
                        longest=p.poll_max, say=lambda line: print(line, flush=True))
        if not v.ok:
            self._journal(prepared, "rollout", "failed", str(v), deployment_id=dep)
            raise RovnError(f"rollout {v.state}: {v.reason}; the old value was NOT retired (both still work): "
                            "fix the service, then run the same command again")
        self._journal(prepared, "rollout", "done", str(v), deployment_id=dep)
        return v.as_dict()

    # verify ------------------------------------------------------------------------
    def verify(self, change, prepared: Prepared) -> Checks:
        """Check the world, then write the success row and notify: the verify step itself
        logs, so a rotation verified is never missing from audit_log."""
        checks = self._checks(prepared)
        change.log("success", self.details(prepared, change.result))
        self._security(f"secret {prepared.entry.name} rotated ({prepared.entry.klass}): version "
                       f"{prepared.base.version_id} → {prepared.token}, approved by "
                       f"{', '.join(change.approval.approvers)}")
        return checks

    def _checks(self, prepared: Prepared) -> Checks:
        name, token = prepared.entry.name, prepared.token
        st = versions.stages(self.sm, name)
        checks = Checks()
        checks.add("AWSCURRENT is the new version", None if st.current == token else f"AWSCURRENT is {st.current}",
                   token)
        checks.add("no AWSPENDING left", None if not st.holder(versions.PENDING) else "AWSPENDING remains", "")
        checks.add("AWSPREVIOUS is the old version", None if st.previous == prepared.base.version_id else
                   f"AWSPREVIOUS is {st.previous}", prepared.base.version_id)
        current = read(self.sm, name, stage=versions.CURRENT)
        previous = read(self.sm, name, version_id=prepared.base.version_id)
        checks.add(f"{prepared.entry.klass}: the world", prepared.strategy.verify(current.value, previous.value),
                   "the new value works; the old one is retired")
        if prepared.uses and self.p.health_url:
            checks.add("/health", health_problems(self.p.health_url), "status ok, db ok")
        self._journal(prepared, "verify", "done" if checks.ok else "failed",
                      "; ".join(c.detail for c in checks.failures) or "all checks pass")
        if not checks.ok:
            self._page(prepared, "verification failed: " + "; ".join(c.detail for c in checks.failures))
            raise RovnError("rotation verification failed: " + "; ".join(c.detail for c in checks.failures))
        return checks

    # log -----------------------------------------------------------------------------
    def details(self, prepared: Prepared, executed: Executed | None) -> dict:
        return {"secret": prepared.entry.name, "class": prepared.entry.klass, "from_version": prepared.base.version_id,
                "to_version": prepared.token, "steps": [s.as_dict() for s in (executed.steps if executed else [])],
                "rollout": executed.rollout if executed else None}

    def _security(self, text: str) -> notify.Delivery:
        d = notify.slack(webhook(self.ctx, "security_webhook_url"),
                         f"[{self.ctx.env}] {text} (run {self.ctx.run_id})")
        print(d)
        return d

    def _page(self, prepared: Prepared, what: str) -> None:
        ctx = self.ctx
        text = f"[{ctx.env}] secret rotation of {prepared.entry.name} {what}"[:900]
        print(notify.pagerduty(webhook(ctx, "pagerduty_webhook_url"), f"{text} (run {ctx.run_id})",
                               source="rovn-ops secret_rotation", dedup_key=f"secret-rotation:{prepared.token}"))
        self._security(text)


def health_problems(url: str) -> list[str]:
    import json

    import urllib3

    try:
        r = urllib3.request("GET", url, timeout=5, retries=False)
        body = json.loads(r.data)
    except (urllib3.exceptions.HTTPError, ValueError) as e:
        return [f"{url}: {type(e).__name__}"]
    if r.status != 200 or body.get("status") != "ok" or body.get("db", "ok") != "ok":
        return [f"{url} answered {r.status}: status {body.get('status')!r}, db {body.get('db')!r}"]
    return []


def summary(ctx, change, prepared: Prepared):
    from rovn_ops.core.plaintext import Note as Markdown  # Markdown with a plain-text form

    change.finish()  # the run's outcome for its evidence (a preview's plan hash is in the manifest)
    if not change.approval.executed:
        return Markdown(f"### Preview only: nothing was rotated\n\n{prepared.state}.\n\nrun id: `{ctx.run_id}`")
    nexts = {"api-key": lambda s: f"revoke the old key in {s.adapter.console}.",
             "jwt": lambda s: (f"after {s.lifetime} (the longest a token lives), run `rovn-ops run secret_rotation "
                               f"-p secret={prepared.entry.name} -p action=prune`." if s.action == "rotate" else
                               "nothing: the expired keys are gone.")}
    after = "\n\nNext: " + nexts.get(prepared.entry.klass, lambda s: "nothing: the old value is retired.")(
        prepared.strategy)
    ctx.record(summary={"secrets_rotated": [prepared.entry.name]})
    return Markdown(f"### Rotated: `{prepared.entry.name}`: AWSCURRENT is `{prepared.token}`{after}\n\n"
                    f"run id: `{ctx.run_id}`")
