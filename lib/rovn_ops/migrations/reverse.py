"""The steps of runbooks/migration_reversal.ipynb: prepare (preview), execute, verify."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from rovn_ops.core.escape import code, markdown as md
from rovn_ops.clients import db
from rovn_ops.core import paths, plaintext
from rovn_ops.core.errors import Refused
from rovn_ops.protocol.change import Plan, authorize, refuse
from rovn_ops.migrations import engine, files, phi, reversal


@dataclass
class Prepared:
    reversal: reversal.Reversal
    plan: Plan
    loss: list[dict]

    def _repr_markdown_(self) -> str:
        rows = "\n".join(f"| {md(d['table'])} | {md(d['column'])} | {md(d['rows with data'])} |" for d in self.loss)
        loss = f"| table | column | rows with data |\n|---|---|---|\n{rows}" if rows else "nothing"
        applies = self.plan.changes["applies"]
        also = (f"\n\nPending before it, applied first: {md(', '.join(applies[:-1]))}" if len(applies) > 1 else "")
        return (f"**{md(self.reversal.file_name)}** reverses `{code(self.reversal.migration.name)}`"
                + (" (written by an earlier run)" if self.reversal.existing else "") +
                f"{also}\n\n```sql\n{self.reversal.sql}```\n\n**Data that would be lost:**\n\n{loss}\n")

    __repr__ = plaintext.markdown_repr


class Steps:
    """The runbook's context for migrations: directory, registry, connections."""

    def __init__(self, ctx):
        self.ctx, p = ctx, ctx.params
        self.directory = paths.project_path(p.migrations_dir)
        self.registry = phi.load_registry(paths.project_path(p.phi_registry))
        self.prepared: Prepared | None = None
        self.applied: engine.ApplyResult | None = None

    @cached_property
    def conn(self):
        return db.connect(db.migration_url())

    @property
    def actor(self) -> engine.Actor:
        op = self.ctx.operator
        return engine.Actor(op.arn, op.local_user, self.ctx.run_id)

    def snapshot_of(self, name: str) -> str | None:
        row = self.conn.execute(
            "SELECT details->>'snapshot' FROM audit_log WHERE action = 'migration' AND target = %s "
            "AND outcome = 'applied' ORDER BY id DESC LIMIT 1", [name]).fetchone()
        return row[0] if row else None

    def prepare(self) -> Prepared:
        name = self.ctx.params.migration
        authorize(self.ctx, "migration_reversal", name)
        report = engine.verify(self.conn, self.directory)
        if name not in {r["name"] for r in report.applied}:
            refuse(self.ctx, "migration_reversal", name, f"{name} is not applied ({report}): there is nothing to reverse")
        target = next(m for m in files.discover(self.directory) if m.name == name)
        try:
            rev = reversal.generate(self.directory, name)
        except Refused as e:
            refuse(self.ctx, "migration_reversal", name, reversal.restore_path(target, self.snapshot_of(name), str(e)))
        loss = reversal.data_loss(self.conn, rev.drops)
        applies = [n for n in report.pending if n != rev.file_name] + [rev.file_name]
        return Prepared(rev, reversal.plan(rev, loss, applies, sorted(phi.touched(target, self.registry))), loss)

    def replan(self) -> Plan:
        """The plan again from the live state, for protocol.Change.execute to compare with
        the approved one before anything changes."""
        return self.prepare().plan

    def execute(self, prepared: Prepared, approval) -> engine.ApplyResult:
        self.prepared, rev = prepared, prepared.reversal
        if not rev.path.exists():  # idempotent: a re-run finds the file already written
            rev.path.write_text(rev.sql)
        self.ctx.record(artifacts=[str(rev.path)])
        p = self.ctx.params
        self.applied = engine.apply(self.conn, self.directory, actor=self.actor, approvers=approval.approvers,
                                    registry=self.registry, rds=self.ctx.client("rds"), rds_instance=p.rds_instance,
                                    lock_wait=p.lock_wait, through=rev.file_name)
        return self.applied

    def details(self) -> dict:
        """What the success row (written by the verify step) and the manifest record."""
        result = self.applied
        return {"file": self.prepared.reversal.file_name,
                "snapshot": result.snapshot.id if result and result.snapshot else None}

    def verify(self, prepared: Prepared) -> engine.Report:
        report = engine.verify(self.conn, self.directory)
        if not report.ok:
            raise Refused(f"integrity check failed after the reversal:\n{report}")
        if prepared.reversal.file_name not in {r["name"] for r in report.applied}:
            raise Refused(f"{prepared.reversal.file_name} is not recorded in schema_migrations")
        left = [f"{t}.{c}" for t, c in prepared.reversal.drops if c and self.conn.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
            [t, c]).fetchone()]
        if left:
            raise Refused(f"columns still present after the reversal: {', '.join(left)}")
        return report


def summary(ctx, change, prepared: Prepared):
    """The last cell: the outcome, the run id, what to do next."""
    change.finish()
    if not change.approval.executed:
        head = f"### Preview only: `{prepared.reversal.migration.name}` was not reversed"
        nxt = "Next: get the plan reviewed, then run the command above with the approvers' names."
    else:
        head = f"### Reversed: `{prepared.reversal.migration.name}` by `{prepared.reversal.file_name}`"
        ctx.record(summary={"migration_reversed": prepared.reversal.migration.name,
                            "reversal_file": prepared.reversal.file_name})
        nxt = (f"Next: commit `{prepared.reversal.file_name}` to the migrations repository "
               "(a copy is in this run's evidence), and check the service with `rovn-ops run service_status`.")
    return plaintext.Note(f"{head}\n\n{nxt}\n\nrun id: `{ctx.run_id}`")
