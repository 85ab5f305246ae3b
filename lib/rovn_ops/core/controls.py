"""The control matrix's registry (issue 27, build 8): each rule of the deployment overview
(§2–§11), declared once, with the checks that enforce it, the tests that prove it and the
runbooks whose production runs exercise it.

A check names its rule itself, `@controls.enforces("§10 deployers")`, and the decorator
refuses (at import) a check the registry does not list for that rule, so the matrix cannot
drift from the code; tests/unit/test_controls.py fails when a listed check is not decorated
or a decorated one is not listed. A rule no code enforces is listed with no checks: a gap.
It lives in core, the lowest layer, so a check in any package can name its rule."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    id: str
    text: str
    checks: tuple[str, ...] = ()   # "module:qualname" of each function that enforces it
    tests: tuple[str, ...] = ()    # pytest node ids that prove it
    runbooks: tuple[str, ...] = () # whose prod runs exercise it


RULES = (
    Rule("§2 new revision", "Every prod deploy registers a new task definition revision; force-new-deployment "
         "alone is a no-op", ("rovn_ops.deploy.steps:force_new_only",),
         ("tests/scenarios/test_deploy.py",), ("deploy",)),
    Rule("§3 snapshot", "Every migration deploy is preceded by a manual RDS snapshot",
         ("rovn_ops.migrations.snapshot:take",), ("tests/unit/test_snapshots.py",), ("deploy", "migration_reversal")),
    Rule("§3 PHI review", "Migrations that touch PHI columns require two-engineer review",
         ("rovn_ops.migrations.phi:check_approvals", "rovn_ops.migrations.review:decision"),
         ("tests/unit/test_migrations.py", "tests/unit/test_migration_review.py",
          "tests/scenarios/test_phi_reversal_review.py"), ("deploy", "migration_reversal")),
    Rule("§4 marketing site", "Marketing site and investor portal deploy through Cloudflare Pages on push to main"),
    Rule("§5/§6 severity", "Alarms and incidents are judged by the overview's thresholds; P0 escalates within 5 "
         "minutes", ("rovn_ops.triage.classify:classify",), ("tests/scenarios/test_incident_triage.py",),
         ("incident_triage",)),
    Rule("§7 migration before rollback", "Never roll back the ECS task without first confirming whether a "
         "migration ran in the prior deploy", ("rovn_ops.rollback.steps:Steps._gate",),
         ("tests/scenarios/test_rollback.py",), ("rollback",)),
    Rule("§8/§9 task definition", "Secrets only as Secrets Manager references; non-root, read-only root "
         "filesystem", ("rovn_ops.ecs.taskdef:problems",), ("tests/scenarios/test_deploy.py",), ("deploy",)),
    Rule("§10 deployers", "Only the committed deployers allow-list changes production",
         ("rovn_ops.protocol.change:authorize",), ("tests/unit/test_protocol.py",),
         ("deploy", "rollback", "migration_reversal", "secret_rotation", "snapshot_retention")),
    Rule("§10 protocol", "preview → confirm → execute → verify → log on every prod write, with a ticket and a "
         "reason", ("rovn_ops.protocol.change:Change.confirm", "rovn_ops.safety.params:check_ticket"),
         ("tests/scenarios/test_approval_records.py", "tests/scenarios/test_change_tickets.py"),
         ("deploy", "rollback", "migration_reversal", "secret_rotation", "snapshot_retention")),
    Rule("§11 claims", "What the overview does not claim (staging, status page, cross-region failover, "
         "dependency PRs)"),
)
BY_ID = {r.id: r for r in RULES}
DECORATED: dict[str, str] = {}  # "module:qualname" → rule id, filled as modules import


def enforces(rule: str):
    """Mark a function as the check of `rule`; refused unless the registry lists it there."""
    def mark(fn):
        name = f"{fn.__module__}:{fn.__qualname__}"
        if rule not in BY_ID or name not in BY_ID[rule].checks:
            raise LookupError(f"{name} says it enforces {rule!r}, which the registry (core/controls.py) does "
                              "not list for it")
        DECORATED[name] = rule
        return fn
    return mark


def gaps() -> list[Rule]:
    return [r for r in RULES if not r.checks]
