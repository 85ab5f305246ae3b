"""Rotating the evidence signing key (runbooks/evidence_key_rotation, `rovn-ops evidence
rotate-key`): a production write like any other, so preview → confirm (signed approval
records by someone other than the operator) → execute → verify → log (§10), and the
security channel hears of it (§8: "every rotation event writes to audit_log and
Slack-notifies the security channel").

Execute walks four steps, each journalled in audit_log (`evidence-key-rotation-step`) and
each finding what an earlier, killed run did (the four-step shape of AWS's rotation
functions, https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_how.html):

1. stage: a new Ed25519 key is put as the secret's AWSPENDING version, under a
   ClientRequestToken derived from the pinned key's id. PutSecretValue with a token that
   already exists creates nothing (API_PutSecretValue: "If a version with this value
   already exists ... the operation is idempotent"), and a re-run reads that version back
   instead of generating: one pinned key has exactly one successor, never two.
2. statement: a statement naming both keys, signed by the old key and the new.
3. publish: the statement and the new public key into the bucket (Object Lock, written
   once) and beside the local ledger.
4. promote: AWSCURRENT moves to the new version (UpdateSecretVersionStage, MoveToVersionId
   / RemoveFromVersionId; the old one becomes AWSPREVIOUS), AWSPENDING is removed.

Verify reads the world back (the stages, the keys' ids, the statement's signatures, the
bucket's copy), then writes the success row and posts to the security channel. Runs refuse
to sign until the new id is pinned in parameters/<env>.yaml through review; verify, trusting
the new pin, follows the statement back and still trusts the runs the old key signed. The
rotation's own run is signed by the key it hands over (the pinned one: signing.private_key's
handover).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from rovn_ops.audit import log as audit, notify
from rovn_ops.core import aws, paths
from rovn_ops.core.errors import RovnError
from rovn_ops.evidence import archive, bucket, signing
from rovn_ops.protocol.change import Plan, authorize, refuse, webhook
from rovn_ops.protocol.checks import Checks

ACTION = "evidence-key-rotation"
STEP_ACTION = "evidence-key-rotation-step"
STEPS = ("stage", "statement", "publish", "promote")
CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"


def successor_token(pinned_id: str) -> str:
    """The ClientRequestToken of the pinned key's successor version: a UUID (32-64
    characters, API_PutSecretValue) fixed by the pinned id, so every run of a rotation
    away from this key, killed or not, names the same version."""
    return str(uuid.UUID(pinned_id[:32]))


@dataclass
class Prepared:
    secret: str
    pinned: str
    token: str
    state: str  # "new", or what an earlier run of this rotation left
    plan: Plan

    def _repr_markdown_(self) -> str:
        return (f"**Rotate the evidence signing key `{self.secret}`**: key `{self.pinned[:16]}…` (pinned) hands over "
                f"to a new Ed25519 key, version `{self.token}`.\n\nState: {self.state}.\n\n"
                "After verify: pin the new key id in the environment file through review; until then runs wait "
                "in their spool.\n")

    def __repr__(self) -> str:
        return f"rotate {self.secret}: {self.pinned[:16]}… → version {self.token} ({self.state})"


@dataclass
class Executed:
    new_key_id: str = ""
    statement: dict = field(default_factory=dict)
    steps: list[tuple[str, str]] = field(default_factory=list)  # (step, done | resumed)

    def _repr_markdown_(self) -> str:
        rows = "\n".join(f"| {s} | {o} |" for s, o in self.steps)
        return f"new key id `{self.new_key_id}`\n\n| step | outcome |\n|---|---|\n{rows}\n"

    def __repr__(self) -> str:
        return f"new key id {self.new_key_id}: " + ", ".join(f"{s} {o}" for s, o in self.steps)


class Steps:
    def __init__(self, ctx):
        self.ctx, self.p = ctx, ctx.params
        self.settings = archive.Settings.of(ctx.env)
        self.sm = aws.client("secretsmanager", env=ctx.env, region=self.settings.region)

    # preview -----------------------------------------------------------------------
    def prepare(self) -> Prepared:
        secret = self.settings.signing_key_secret
        authorize(self.ctx, ACTION, secret)
        pinned = signing.pinned_id(self.ctx.env)
        token = successor_token(pinned)
        current_id, current_version = self._key_at(CURRENT)
        stages = self._stages()
        if current_version == token and self._succeeded(token):
            refuse(self.ctx, ACTION, secret, f"{secret} was already rotated to key {current_id} (version {token}): "
                   f"pin it in parameters/{self.ctx.env}.yaml (evidence.signing_key_id) through review; a new "
                   "rotation starts from the pinned key")
        if current_id != pinned and current_version != token:
            # Someone put a key outside this runbook: a suspected security incident (§6), not a rotation to go on with.
            refuse(self.ctx, ACTION, secret, f"{secret}'s AWSCURRENT holds key {current_id}, neither the pinned "
                   f"{pinned} nor its staged successor: a key was put outside the suite; treat it as a suspected "
                   "security incident")
        if token in stages:
            self._owned(secret, token, signing.key_id(_load(self.sm, secret, token).public_key()))
        state = ("new" if token not in stages else
                 "resumes: the successor is current, verify remains" if current_version == token else
                 "resumes: the successor was staged by an earlier run")
        changes = {"secret": secret, "region": self.settings.region, "from_key_id": pinned,
                   "successor_version": token, "labels": {PENDING: f"→ {token}", CURRENT: f"{pinned[:16]}… → {token}",
                                                          PREVIOUS: f"→ {pinned[:16]}…"},
                   "statement": {"audit_log": STEP_ACTION, "bucket": self.settings.bucket or "",
                                 "key": bucket.ROTATIONS_PREFIX + "<new key id>.json"}}
        summary = (f"stage a new Ed25519 key as {secret} AWSPENDING (version {token})",
                   "write a statement naming both keys, signed by both, to audit_log, the bucket and evidence/",
                   f"move AWSCURRENT to it; the pinned key {pinned[:16]}… becomes AWSPREVIOUS",
                   "then pin the new id in the environment file through review")
        return Prepared(secret, pinned, token, state, Plan(ACTION, secret, changes, summary))

    def replan(self) -> Plan:
        """The plan again from the live state: the same after a kill at any step (it names the
        pinned key and the successor's version, never what has happened to them yet)."""
        return self.prepare().plan

    # execute -----------------------------------------------------------------------
    def execute(self, prepared: Prepared) -> Executed:
        done = Executed()
        try:
            new = self._stage(prepared, done)
            done.new_key_id = signing.key_id(new.public_key())
            done.statement = self._statement(prepared, new, done)
            self._publish(prepared, new, done)
            self._promote(prepared, done)
        except Exception as e:
            self._security(f"evidence signing key rotation of {prepared.secret} FAILED: {type(e).__name__}: "
                           f"{str(e)[:300]}; a re-run of the same command finishes it")
            raise
        return done

    def _stage(self, prepared: Prepared, done: Executed):
        from cryptography.hazmat.primitives import serialization as s
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from rovn_ops.safety import secret_values

        if prepared.token in self._stages():  # staged by an earlier run (prepare checked whose): that key
            return self._journal(prepared, done, "stage", "resumed", _load(self.sm, prepared.secret, prepared.token))
        new = Ed25519PrivateKey.generate()
        pem = secret_values.wrap(new.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8,
                                                   s.NoEncryption()).decode(), prepared.secret)  # scrubbed from here on
        self.sm.put_secret_value(SecretId=prepared.secret, ClientRequestToken=prepared.token,
                                 SecretString=pem.reveal(), VersionStages=[PENDING])
        return self._journal(prepared, done, "stage", "done", new, new_key_id=signing.key_id(new.public_key()))

    def _statement(self, prepared: Prepared, new, done: Executed) -> dict:
        earlier = self._journalled(prepared.token, "statement")
        if earlier:
            self._journal(prepared, done, "statement", "resumed")
            return earlier["statement"]
        old = signing.private_key(self.sm, prepared.secret, self.ctx.env, handover=True)
        statement = signing.rotation_statement(old, new, datetime.now(timezone.utc).isoformat())
        self._journal(prepared, done, "statement", "done", statement=statement)
        return statement

    def _publish(self, prepared: Prepared, new, done: Executed) -> None:
        st, line = done.statement, json.dumps(done.statement, sort_keys=True) + "\n"
        if self.settings.bucket:  # written once; the same bytes again is no change (bucket.put)
            plan = bucket.plan(self.settings.bucket, "-", self.settings.retention_days)
            s3 = aws.client("s3", env=self.ctx.env, region=self.settings.region)
            bucket.put(s3, plan, f"{bucket.ROTATIONS_PREFIX}{st['new_key_id']}.json", line.encode())
            bucket.put(s3, plan, f"{bucket.KEYS_PREFIX}{st['new_key_id']}.pem", signing.public_pem(new))
        local = paths.evidence() / signing.ROTATIONS_FILE
        local.parent.mkdir(parents=True, exist_ok=True)
        if not local.exists() or st["hash"] not in local.read_text():
            with open(local, "a") as f:
                f.write(line)
        self._journal(prepared, done, "publish", "done")

    def _promote(self, prepared: Prepared, done: Executed) -> None:
        versions = self._stages()
        current = next((v for v, labels in versions.items() if CURRENT in labels), None)
        if current != prepared.token:
            self.sm.update_secret_version_stage(SecretId=prepared.secret, VersionStage=CURRENT,
                                                MoveToVersionId=prepared.token, RemoveFromVersionId=current)
        if PENDING in versions.get(prepared.token, []):
            self.sm.update_secret_version_stage(SecretId=prepared.secret, VersionStage=PENDING,
                                                RemoveFromVersionId=prepared.token)
        self._journal(prepared, done, "promote", "done" if current != prepared.token else "resumed")

    # verify --------------------------------------------------------------------------
    def verify(self, change, prepared: Prepared) -> Checks:
        """The world read back, then the success row and the security channel's notice."""
        done: Executed = change.result
        checks = Checks()
        current_id, current_version = self._key_at(CURRENT)
        previous_id, _ = self._key_at(PREVIOUS)
        checks.add("AWSCURRENT is the new key", None if current_id == done.new_key_id and
                   current_version == prepared.token else f"AWSCURRENT is key {current_id}", done.new_key_id)
        checks.add("AWSPREVIOUS is the pinned key", None if previous_id == prepared.pinned else
                   f"AWSPREVIOUS is key {previous_id}", prepared.pinned)
        checks.add("no AWSPENDING left", [f"AWSPENDING on {v}" for v, labels in self._stages().items()
                                          if PENDING in labels], "")
        new_public = signing.public_from_pem(done.statement.get("new_public_key", "").encode(), "statement")
        trusted = signing.with_predecessors(new_public, [done.statement])
        checks.add("statement signed by both keys", None if prepared.pinned in trusted else
                   "the statement does not carry both keys' signatures", done.statement.get("hash", ""))
        if self.settings.bucket:
            s3 = aws.client("s3", env=self.ctx.env, region=self.settings.region)
            held = bucket.read(s3, self.settings.bucket, f"{bucket.ROTATIONS_PREFIX}{done.new_key_id}.json")
            checks.add("the bucket holds the statement", None if held and json.loads(held) == done.statement else
                       "missing or different", f"s3://{self.settings.bucket}/{bucket.ROTATIONS_PREFIX}")
        if not checks.ok:
            raise RovnError("key rotation did not verify: " + "; ".join(f"{c.name}: {c.detail}" for c in checks.failures))
        change.log("success", self.details(prepared, done))
        self._security(f"evidence signing key {prepared.secret} rotated: {prepared.pinned} → {done.new_key_id} "
                       f"(statement signed by both), approved by {', '.join(change.approval.approvers)}; "
                       f"pin {done.new_key_id} in parameters/{self.ctx.env}.yaml through review")
        return checks

    @staticmethod
    def details(prepared: Prepared, done: Executed | None) -> dict:
        return {"secret": prepared.secret, "old_key_id": prepared.pinned, "version": prepared.token,
                "new_key_id": done.new_key_id if done else "", "statement": done.statement if done else {},
                "steps": [list(s) for s in (done.steps if done else [])]}

    # the world -----------------------------------------------------------------------
    def _stages(self) -> dict[str, list[str]]:
        return self.sm.describe_secret(SecretId=self.settings.signing_key_secret).get("VersionIdsToStages", {})

    def _key_at(self, stage: str) -> tuple[str, str]:
        """(key id, version id) of the secret at `stage`, or ("", "") when no version holds it."""
        version = next((v for v, labels in self._stages().items() if stage in labels), "")
        if not version:
            return "", ""
        return signing.key_id(_load(self.sm, self.settings.signing_key_secret, version).public_key()), version

    def _owned(self, secret: str, token: str, staged_id: str) -> None:
        """A staged successor is resumed only if a run of this rotation journalled staging that
        very key: anyone who can PutSecretValue could plant a key of theirs under the (derivable)
        token for the rotation to adopt and promote."""
        row = self._journalled(token, "stage")
        if not row or row.get("new_key_id") != staged_id:
            refuse(self.ctx, ACTION, secret, f"{secret}'s version {token} (the rotation's successor) holds key "
                   f"{staged_id}, which no run of this rotation staged: treat it as a suspected security incident "
                   "(§6); if a run was killed while staging, remove that version's AWSPENDING label and run the "
                   "rotation again")

    def _succeeded(self, token: str) -> bool:
        row = self.ctx.db.execute("SELECT 1 FROM audit_log WHERE action = %s AND outcome = 'success' AND "
                                  "details->>'version' = %s LIMIT 1", [ACTION, token]).fetchone()
        return row is not None

    def _journalled(self, token: str, step: str) -> dict | None:
        row = self.ctx.db.execute("SELECT details FROM audit_log WHERE action = %s AND details->>'version' = %s "
                                  "AND details->>'step' = %s ORDER BY id LIMIT 1", [STEP_ACTION, token, step]).fetchone()
        return row[0] if row else None

    def _journal(self, prepared: Prepared, done: Executed, step: str, outcome: str, value=None, **details):
        """A step's row (never a private key): the journal a re-run reads to resume."""
        audit.append(self.ctx.db, actor=str(self.ctx.operator), action=STEP_ACTION, target=prepared.secret,
                     outcome=outcome, run_id=self.ctx.run_id,
                     details={"step": step, "version": prepared.token, "from_key_id": prepared.pinned, **details})
        done.steps.append((step, outcome))
        print(f"  {step:<10} {outcome}", flush=True)
        return value

    def _security(self, text: str) -> notify.Delivery:
        d = notify.slack(webhook(self.ctx, "security_webhook_url"), f"[{self.ctx.env}] {text} (run {self.ctx.run_id})")
        print(d)
        return d


def _load(sm, secret: str, version: str):
    from rovn_ops.safety import secret_values

    pem = secret_values.wrap(sm.get_secret_value(SecretId=secret, VersionId=version)["SecretString"], secret)
    return signing.load_private(pem.reveal().encode())


def summary(ctx, change, prepared: Prepared):
    from IPython.display import Markdown

    if not change.approval.executed:
        return Markdown(f"### Preview only: no key was made or moved\n\nrun id: `{ctx.run_id}`")
    new = change.result.new_key_id
    return Markdown(f"### Done: the evidence signing key is `{new}`\n\nNext: pin it in `parameters/{ctx.env}.yaml` "
                    f"through review (`evidence: {{signing_key_id: {new}}}`); runs wait in their spool until then.\n\n"
                    f"run id: `{ctx.run_id}`")
