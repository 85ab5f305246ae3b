"""The steps of runbooks/migration_reversal.ipynb: prepare (preview), execute, verify."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from rovn_ops.core.escape import code, markdown as md
from rovn_ops.clients import db
from rovn_ops.core import paths, plaintext
from rovn_ops.core.errors import Refused
from rovn_ops.protocol.authorization import Lists
from rovn_ops.protocol.change import Plan, authorize, refuse
from rovn_ops.migrations import engine, files, phi, review, reversal


@dataclass
class Prepared:
    reversal: reversal.Reversal
    plan: Plan
    loss: list[dict]
    review: review.Review | None = None  # a PHI reversal's pull-request review (§3)

    def _repr_markdown_(self) -> str:
        rows = "\n".join(f"| {md(d['table'])} | {md(d['column'])} | {md(d['rows with data'])} |" for d in self.loss)
        loss = f"| table | column | rows with data |\n|---|---|---|\n{rows}" if rows else "nothing"
        applies = self.plan.changes["applies"]
        also = (f"\n\nPending before it, applied first: {md(', '.join(applies[:-1]))}" if len(applies) > 1 else "")
        return (f"**{md(self.reversal.file_name)}** reverses `{code(self.reversal.migration.name)}`"
                + (" (written by an earlier run)" if self.reversal.existing else "") +
                f"{also}\n\n```sql\n{self.reversal.sql}```\n\n**Data that would be lost:**\n\n{loss}\n"
                + self._review_markdown())

    def _review_markdown(self) -> str:
        r = self.review
        if r is None:
            return ""
        if not r.pull_request:
            return ("\n**PHI (§3): second review on GitHub.** Commit this file to the migrations repository in a "
                    "pull request, have someone other than its author approve its head, then preview again "
                    "with `pull_request=N`.\n")
        state = (f"approved by {md(', '.join(r.approved_by))} on head `{code(r.head_sha[:12])}`" if r.ok
                 else "not approved: " + md("; ".join(r.problems)))
        return f"\n**PHI (§3): pull request {r.pull_request}** by {md(r.author)}: {state}\n"

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
        columns = sorted(phi.touched(target, self.registry))
        second = self.review(rev) if columns else None
        prepared = Prepared(rev, reversal.plan(rev, loss, applies, columns, second), loss, second)
        if self.ctx.params.confirm:  # refused before anything runs; the preview shows what is missing
            try:
                self.ready(prepared)
            except Refused as e:
                refuse(self.ctx, "migration_reversal", name, str(e))
        return prepared

    @staticmethod
    def ready(prepared: Prepared) -> tuple[str, ...]:
        """Raise Refused unless the reversal file is committed and, for PHI, approved on
        GitHub; returns the approvers the GitHub reviewers are (github_logins) for the
        engine's PHI rule, which refuses one of them also being the protocol's approver."""
        review.committed(prepared.reversal.path)
        if prepared.review is None:
            return ()
        prepared.review.refuse_unless_ok(prepared.reversal.file_name)
        return prepared.review.people

    def review(self, rev: reversal.Reversal) -> review.Review:
        """The PHI reversal's second review, as GitHub has it now (read again at execute)."""
        number = self.ctx.params.pull_request
        if not number:
            return review.Review(0, problems=("no pull_request given",))
        try:
            repo_path, blob = review.committed(rev.path)
        except Refused as e:
            return review.Review(number, problems=(str(e),))
        from rovn_ops.clients import github

        people = Lists.of(self.ctx.env).github_people()  # from the protected branch, like the approvers
        return review.read(github.connect(self.ctx), number, repo_path, blob, people)

    def replan(self) -> Plan:
        """The plan again from the live state, for protocol.Change.execute to compare with
        the approved one before anything changes."""
        return self.prepare().plan

    def execute(self, prepared: Prepared, approval) -> engine.ApplyResult:
        """Apply the committed reversal file: never one written from the preview (§7), and for
        PHI only once GitHub shows the second review (the plan, hash-compared before this,
        holds the review read again from GitHub)."""
        self.prepared, rev = prepared, prepared.reversal
        reviewed = self.ready(prepared)  # checked at confirm; again here, as the engine reads the file now
        self.ctx.record(artifacts=[str(rev.path)])
        p = self.ctx.params
        self.applied = engine.apply(self.conn, self.directory, actor=self.actor, approvers=approval.approvers,
                                    registry=self.registry, rds=self.ctx.client("rds"), rds_instance=p.rds_instance,
                                    lock_wait=p.lock_wait, through=rev.file_name,
                                    reviewed={rev.file_name: reviewed} if reviewed else None)
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
        nxt = ("Next: commit the file above to the migrations repository (PHI: in a pull request another "
               "engineer approves, then preview again with `pull_request=N`), get the plan reviewed, then run "
               "the command above with the approver's name.")
    else:
        head = f"### Reversed: `{prepared.reversal.migration.name}` by `{prepared.reversal.file_name}`"
        ctx.record(summary={"migration_reversed": prepared.reversal.migration.name,
                            "reversal_file": prepared.reversal.file_name})
        nxt = (f"Next: merge `{prepared.reversal.file_name}` to the migrations repository's main if it is not yet "
               "(a copy is in this run's evidence), and check the service with `rovn-ops run service_status`.")
    return plaintext.Note(f"{head}\n\n{nxt}\n\nrun id: `{ctx.run_id}`")
