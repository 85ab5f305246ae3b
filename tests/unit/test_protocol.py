"""preview → confirm → execute → verify → log, in every mode."""
import hashlib
import subprocess

import pytest
from pydantic import ValidationError

from rovn_ops.audit import log as audit
from rovn_ops.protocol import authorization
from rovn_ops.run.context import Operator, RunContext
from rovn_ops.core.errors import Refused, StaleApproval
from rovn_ops.run import runner
from rovn_ops.safety.params import ChangeParams
from rovn_ops.protocol.change import Change, Plan, authorize
from rovn_sandbox import control

PLAN = Plan("deploy", "rovn-passport-api", {"task_definition": {"before": "rovn-passport-api:288",
                                                                 "after": "rovn-passport-api:289"}})


def hash_for(**values) -> str:
    """What a preview of PLAN with these parameters prints."""
    return PLAN.bind(ChangeParams(**values)).hash


HASH = hash_for()


def ctx(mode="headless", **values) -> RunContext:
    return RunContext("deploy", ChangeParams(**values), "run-1", mode,
                      Operator("arn:aws:iam::123456789012:user/claude-deploy", "oncall"))


@pytest.fixture
def refusals(monkeypatch):
    """A refusal writes audit_log and notifies; here the rows are kept in a list."""
    rows = []
    monkeypatch.setattr(audit, "append", lambda conn, **row: rows.append(row))
    monkeypatch.setattr(RunContext, "db", None, raising=False)
    return rows


def test_plan_hash_is_stable_and_covers_the_changes():
    same = Plan("deploy", "rovn-passport-api", dict(PLAN.changes))
    other = Plan("deploy", "rovn-passport-api", {"task_definition": {"before": "x", "after": "y"}})
    assert PLAN.hash == same.hash != other.hash
    assert len(PLAN.hash) == 64


def test_preview_only_is_the_default_and_changes_nothing():
    change = Change(ctx(), PLAN)
    approval = change.confirm()
    ran = []
    assert not approval.executed
    assert change.execute(ran.append, 1) is None and ran == []
    assert change.log("previewed") is None
    cmd = change.execute_command()
    assert "-p confirm=true" in cmd and f"plan_hash={HASH}" in cmd and "approved_by=<approver>" in cmd


def confirmed(mode="headless", **values):
    return Change(ctx(mode, confirm=True, plan_hash=HASH, **values), PLAN)


def test_confirm_needs_the_previewed_plan_hash(refusals):
    with pytest.raises(Refused, match="needs plan_hash: run the preview") as e:
        Change(ctx(confirm=True, approved_by=["giles"]), PLAN).confirm()
    assert refusals[-1]["outcome"] == "refused" and "needs plan_hash" in refusals[-1]["details"]["reason"]
    with pytest.raises(Refused) as stale:
        Change(ctx(confirm=True, approved_by=["giles"], plan_hash="0" * 64), PLAN).confirm()
    for refusal in (e.value, stale.value):  # never today's hash: it would be pasted without a review
        assert HASH[:12] not in str(refusal)


def test_plan_hash_binds_every_parameter_but_the_confirmation():
    base = PLAN.bind(ChangeParams())
    assert base.hash == HASH == PLAN.bind(ChangeParams(confirm=True, approved_by=["giles"], plan_hash=HASH)).hash
    assert Change(ctx(), PLAN).plan.hash == HASH
    for other in (dict(env="prod"), dict(slack_webhook_url="secret:other")):
        assert PLAN.bind(ChangeParams(**other)).hash != HASH, other


def test_headless_confirm_needs_approvers(refusals):
    with pytest.raises(Refused, match="needs 1 approval record"):
        confirmed().confirm()


@pytest.mark.parametrize("who", ["claude-deploy", "Claude-Deploy", "CLAUDE-DEPLOY"])
def test_approver_must_not_be_the_operator_in_any_case(refusals, who):
    with pytest.raises(Refused, match="is the operator"):
        confirmed(approved_by=[who]).confirm()


def test_approver_must_be_on_the_environment_list(refusals):
    with pytest.raises(Refused, match="not on the approvers list"):
        confirmed(approved_by=["mallory"]).confirm()
    ok = confirmed(approved_by=["GILES", "giles"]).confirm()
    assert ok.approvers == ["giles"]  # one person, however spelled


def test_approver_mapped_to_the_operators_identity_is_the_operator(refusals):
    """giles runs it (his own keys, or his SSO session): giles cannot approve it."""
    c = ctx(confirm=True, plan_hash=HASH, approved_by=["giles"])
    c.operator = Operator("arn:aws:iam::123456789012:user/engineering/Giles", "someone-else")
    with pytest.raises(Refused, match="is the operator"):
        Change(c, PLAN).confirm()
    sso = authorization.Lists("prod", (), {"giles": "assumed-role/AWSReservedSSO_Engineer/giles@rovn.to"})
    with pytest.raises(Refused, match="is the operator"):
        sso.approvers_for(["Giles"], "arn:aws:sts::1:assumed-role/AWSReservedSSO_Engineer/Giles@rovn.to")
    assert sso.approvers_for(["giles"], "arn:aws:sts::1:assumed-role/AWSReservedSSO_Engineer/christian") == ["giles"]


def test_two_approvers_when_the_plan_needs_them(refusals):
    phi = Plan("deploy", "rovn-passport-api", {"migrations": ["0012_workers_dob_index.sql"]},
               approvals_needed=2, approvals_why="PHI migrations, §3")
    with pytest.raises(Refused, match="needs 2 distinct approvers"):
        Change(ctx(confirm=True, plan_hash=phi.bind(ChangeParams()).hash, approved_by=["giles", "Giles"]), phi).confirm()
    ok = Change(ctx(confirm=True, plan_hash=phi.bind(ChangeParams()).hash, approved_by=["giles", "christian"]), phi).confirm()
    assert ok.approvers == ["giles", "christian"]
    assert "approved_by=<approver>,<approver>" in Change(ctx(), phi).execute_command()


def test_the_github_reviewer_is_never_also_the_approver(refusals):
    """§3 two engineers: a PHI reversal's GitHub reviewer (reviewed_by, by github_logins)
    already is one; the approver must be another person."""
    rev = Plan("migration_reversal", "0012_workers_dob_index.sql", {"review": {"people": ["christian"]}},
               reviewed_by=("christian",))
    bound = rev.bind(ChangeParams()).hash
    with pytest.raises(Refused, match="christian already reviewed this change on GitHub"):
        Change(ctx(confirm=True, plan_hash=bound, approved_by=["christian"]), rev).confirm()
    assert Change(ctx(confirm=True, plan_hash=bound, approved_by=["giles"]), rev).confirm().approvers == ["giles"]


def test_normalized_identities():
    n = authorization.normalize
    assert n("arn:aws:iam::123456789012:user/eng/Giles") == "arn:aws:iam::123456789012:user/giles"
    assert n("user/giles", "123456789012") == "arn:aws:iam::123456789012:user/giles"
    assert n("arn:aws:sts::1:assumed-role/Deploy/ci-7") == "arn:aws:sts::1:assumed-role/deploy/ci-7"
    lists = authorization.Lists("prod", ("role/deploy",), {})
    assert lists.deployer_problem("arn:aws:sts::1:assumed-role/Deploy/ci-7") is None
    assert "not on the deployers" in lists.deployer_problem("arn:aws:sts::1:assumed-role/other/ci-7")


def test_a_deployers_parameter_is_refused_in_prod_and_everywhere(refusals):
    for env in ("sandbox", "prod"):
        c = ctx(deployers=["mallory"])
        c.params = c.params.model_copy(update={"env": env})
        with pytest.raises(Refused, match="allow-list comes only from the committed parameters/" + env):
            authorize(c, "deploy", "rovn-passport-api")
    assert "is on the deployers of parameters/sandbox.yaml at " in authorize(ctx(), "deploy", "rovn-passport-api")


def test_stale_plan_hash_is_refused_and_prefix_accepted(refusals):
    with pytest.raises(Refused, match="does not match today's plan"):
        Change(ctx(confirm=True, approved_by=["giles"], plan_hash="0" * 64), PLAN).confirm()
    ok = Change(ctx(confirm=True, approved_by=["giles"], plan_hash=HASH[:12]), PLAN).confirm()
    assert ok.executed and ok.approvers == ["giles"]
    with pytest.raises(ValidationError, match="plan_hash"):  # too short a prefix proves nothing: bad input
        ctx(confirm=True, approved_by=["giles"], plan_hash=HASH[:6])


def test_interactive_confirm_follows_the_same_rules_and_asks_for_the_target_name(refusals):
    asked = []
    approval = confirmed("interactive", approved_by=["giles"]).confirm(
        ask=lambda prompt: asked.append(prompt) or "rovn-passport-api")
    assert approval.executed and approval.approvers == ["giles"] and "rovn-passport-api" in asked[0]
    with pytest.raises(Refused, match="typed 'rovn-passport'"):
        confirmed("interactive", approved_by=["giles"]).confirm(ask=lambda _: "rovn-passport")
    for values in ({}, {"approved_by": ["oncall"]}, {"approved_by": ["claude-deploy"]}):  # no self-approval
        with pytest.raises(Refused):
            confirmed("interactive", **values).confirm(ask=lambda _: "rovn-passport-api")


def test_steps_cannot_be_skipped():
    change = confirmed(approved_by=["giles"])
    with pytest.raises(Refused, match="before confirm"):
        change.execute(lambda: 1)
    change.confirm()
    with pytest.raises(Refused, match="verify before execute"):
        change.verify(lambda: True)


def test_log_writes_audit_then_notifies(fresh, app_db):
    hook = fresh["sink_url"] + "/slack"
    c = ctx(confirm=True, approved_by=["giles", "christian"], plan_hash=hash_for(slack_webhook_url=hook),
            slack_webhook_url=hook)
    c.__dict__["db"] = app_db
    change = Change(c, PLAN, replan=lambda: PLAN)
    change.confirm()
    change.execute(lambda: "registered")
    change.verify(lambda: True)
    entry = change.log("success")
    row = audit.rows(app_db)[0]
    assert row["id"] == entry.id and row["outcome"] == "success" and row["run_id"] == "run-1"
    assert row["details"]["approvers"] == ["giles", "christian"]
    assert row["details"]["plan_hash"] == hash_for(slack_webhook_url=hook)
    assert change.deliveries[0].ok
    assert "deploy rovn-passport-api: success" in control.posts(fresh)[-1]["payload"]["text"]


def test_a_notifier_that_is_down_does_not_block_the_audit_write(fresh, app_db):
    control.scenario(fresh, "sink_down")
    hook = fresh["sink_url"] + "/slack"
    c = ctx(confirm=True, approved_by=["giles"], plan_hash=hash_for(slack_webhook_url=hook), slack_webhook_url=hook)
    c.__dict__["db"] = app_db
    change = Change(c, PLAN, replan=lambda: PLAN)
    change.confirm()
    change.execute(lambda: "done")
    entry = change.log("success")
    assert entry.id == audit.rows(app_db)[0]["id"]
    delivery = change.deliveries[0]
    assert not delivery.ok and delivery.attempts > 1 and "503" in delivery.detail


def test_webhook_from_secrets_manager(fresh, app_db, aws):
    url = fresh["sink_url"] + "/slack"
    aws("secretsmanager").create_secret(Name="rovn/sandbox/slack-webhook-url", SecretString=url)
    name = "secret:rovn/sandbox/slack-webhook-url"
    c = ctx(confirm=True, approved_by=["giles"], plan_hash=hash_for(slack_webhook_url=name), slack_webhook_url=name)
    c.__dict__["db"] = app_db
    hook = c.webhook("slack_webhook_url")
    assert hook.reveal() == url and hook.name == "rovn/sandbox/slack-webhook-url" and url not in repr(hook)
    change = Change(c, PLAN, replan=lambda: PLAN)
    change.confirm()
    change.execute(lambda: "done")
    change.log("success")
    assert change.deliveries[0].ok


def _checkout(tmp_path, monkeypatch, git: bool = True):
    """A project root (ROVN_HOME) whose parameters/ holds this repo's environment files."""
    from rovn_ops.core import paths

    (tmp_path / "parameters").mkdir()
    for env in ("sandbox", "prod"):
        (tmp_path / "parameters" / f"{env}.yaml").write_bytes((paths.parameters() / f"{env}.yaml").read_bytes())
    monkeypatch.setenv("ROVN_HOME", str(tmp_path))
    if git:
        run = lambda *a: subprocess.run(["git", "-C", str(tmp_path), *a], check=True, capture_output=True)  # noqa: E731
        run("init", "-q")
        run("add", "parameters")
        run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "parameters")
    return tmp_path / "parameters" / "sandbox.yaml"


def test_a_write_refuses_a_working_copy_edit_of_the_environment_file(refusals, tmp_path, monkeypatch):
    """A local approver (mallory) in an uncommitted edit approves nothing; the manifest names the commit."""
    sandbox = _checkout(tmp_path, monkeypatch)
    facts = authorization.committed("sandbox")
    assert len(facts["commit"]) == 40 and facts["sha256"] == hashlib.sha256(sandbox.read_bytes()).hexdigest()
    sandbox.write_text(sandbox.read_text().replace("approvers:", "approvers:\n  mallory: user/mallory", 1))
    assert "mallory" not in authorization.Lists.of("sandbox").approvers  # the working copy is not read
    with pytest.raises(Refused, match=r"parameters/sandbox.yaml differs from the committed version"):
        Change(ctx(confirm=True, approved_by=["mallory"], plan_hash=HASH), PLAN).confirm()
    assert "differs from the committed" in refusals[-1]["details"]["reason"]


def test_prod_writes_need_a_checkout_and_the_sandbox_outside_one_is_read_as_is(tmp_path, monkeypatch):
    _checkout(tmp_path, monkeypatch, git=False)
    with pytest.raises(Refused, match="parameters/prod.yaml is not in a git checkout"):
        authorization.committed("prod")
    assert authorization.committed("sandbox")["commit"] == ""


# Issue 20, class 1: execute re-derives the plan; an approval executes once ----------------

OTHER = Plan("deploy", "rovn-passport-api", {"task_definition": {"before": "rovn-passport-api:288",
                                                                  "after": "rovn-passport-api:290"}})


class Prepared:
    def __init__(self, plan):
        self.plan = plan


def approved_change(replan=lambda: PLAN, db=None, **values) -> Change:
    c = ctx(confirm=True, approved_by=["giles"], plan_hash=HASH, **values)
    c.__dict__["db"] = db
    change = Change(c, PLAN, replan=replan)
    change.confirm()
    return change


def test_execute_refuses_a_plan_handed_to_it_that_is_not_the_approved_one(refusals):
    ran = []
    change = approved_change()
    with pytest.raises(Refused, match="not the approved plan"):
        change.execute(ran.append, Prepared(OTHER))
    assert ran == [] and refusals[-1]["outcome"] == "refused"
    assert change.execute(ran.append, Prepared(PLAN)) is None and ran  # the approved one runs


def test_execute_rederives_the_plan_from_the_live_state(refusals):
    ran = []
    change = approved_change(replan=lambda: OTHER)  # the world moved since the confirmation
    with pytest.raises(Refused, match="live state or a parameter changed") as e:
        change.execute(ran.append, Prepared(PLAN))
    assert ran == [] and OTHER.bind(ChangeParams()).hash[:12] not in str(e.value)  # never today's hash
    # issue 20: a stale approval at execute is exit 2 headless, one line naming `confirm`
    assert isinstance(e.value, StaleApproval) and e.value.exit_code == 2
    assert str(e.value).startswith(f"confirm: expected plan {HASH[:12]} (the approved one) to execute, but ")
    assert "\n" not in str(e.value)


def test_a_stale_approval_exits_2_and_other_refusals_3():
    """The exit code comes from the archived outcome and the kernel's error (runner.exit_code)."""
    assert runner.exit_code("refused", "StaleApproval: confirm: expected plan abc") == 2
    assert runner.exit_code("refused", "Refused: mallory is not on the approvers list") == 3
    assert runner.exit_code("failed", "StaleApproval: x") == 1


def test_execute_without_a_way_to_rederive_the_plan_is_refused(refusals):
    c = ctx(confirm=True, approved_by=["giles"], plan_hash=HASH)
    change = Change(c, PLAN)
    change.confirm()
    with pytest.raises(Refused, match="cannot re-derive the plan"):
        change.execute(lambda: 1)


def test_steps_execute_rederives_through_its_owners_replan(refusals):
    class Steps:
        def replan(self):
            return OTHER

        def execute(self, prepared):
            return "executed"

    with pytest.raises(Refused, match="live state"):
        approved_change(replan=None).execute(Steps().execute, Prepared(PLAN))


def test_an_approval_executes_once_and_an_interrupted_one_resumes(refusals):
    calls = []

    def step():
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt("killed mid-way")
        return "done"

    change = approved_change()
    with pytest.raises(KeyboardInterrupt):
        change.execute(step)
    assert refusals[-1]["outcome"] == "interrupted"
    assert change.execute(step) == "done"  # a re-run resumes (the steps are idempotent)
    with pytest.raises(Refused, match="already executed in this kernel"):
        change.execute(step)
    assert len(calls) == 2


def test_a_failed_execute_is_spent_too(refusals):
    change = approved_change()
    with pytest.raises(RuntimeError):
        change.execute(lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(Refused, match="executes once"):
        change.execute(lambda: "again")


def test_an_executed_plan_hash_never_executes_again(fresh, app_db):
    change = approved_change(db=app_db)
    change.execute(lambda: "done")
    change.verify(lambda: True)
    row = max((r for r in audit.rows(app_db) if r["outcome"] == "success"), key=lambda r: r["id"])
    from rovn_ops.protocol import change as protocol

    assert protocol.executed(app_db, "deploy", HASH)["run_id"] == "run-1"
    # The same plan previewed now has another hash (it covers the last final row): the old
    # approval cannot confirm it, and a new preview needs a new approval.
    c = ctx(confirm=True, approved_by=["giles"], plan_hash=HASH)
    c.__dict__["db"] = app_db
    again = Change(c, PLAN, replan=lambda: PLAN)
    assert again.plan.after == row["id"] and again.plan.hash != HASH
    # The spent hash is named as spent (when, by which run), exit 2 like any stale approval
    # (issue 20 break 5), never "does not match today's plan" (exit 3).
    with pytest.raises(StaleApproval, match=r"plan_hash [0-9a-f]{12}\S* already executed \(run run-1, success at "
                       r"[0-9T:+-]+\): an approval executes once") as e:
        again.confirm()
    assert e.value.exit_code == 2
    short = ctx(confirm=True, approved_by=["giles"], plan_hash=HASH[:12])  # the prefix a person may paste
    short.__dict__["db"] = app_db
    with pytest.raises(StaleApproval, match="already executed"):
        Change(short, PLAN, replan=lambda: PLAN).confirm()
    # A Change holding the old approval (a forged or stale one) meets the audit row.
    again.approval = protocol.Approval(True, HASH, ["giles"], "forged")
    with pytest.raises(Refused, match=r"already executed \(run run-1, success"):
        again.execute(lambda: "twice")


def test_interactive_parameters_edited_after_begin_are_refused_at_execute(refusals, monkeypatch):
    import IPython

    ns = {"set_env": ["A=1"], "confirm": True}
    monkeypatch.setattr(IPython, "get_ipython", lambda: type("Shell", (), {"user_ns": ns})())
    change = approved_change()
    change.ctx.mode = "interactive"
    change.ctx.given = {"set_env": ["A=1"], "confirm": True}
    ns["set_env"].append("B=2")  # edited in place in the kernel, begin not run again
    with pytest.raises(Refused, match=r"parameters changed since begin\(\) validated them \(set_env\)"):
        change.execute(lambda: "x")


# Issue 20, class 5: the allow-list from the protected branch; human identities compared --------

def _git(where, *args):
    return subprocess.run(["git", "-C", str(where), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def test_an_unpushed_local_commit_adding_a_deployer_counts_for_nothing(refusals, tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    sandbox = _checkout(tmp_path / "work", monkeypatch)
    remote = tmp_path / "origin.git"
    _git(tmp_path, "init", "-q", "--bare", str(remote))
    work = tmp_path / "work"
    _git(work, "branch", "-M", "main")
    _git(work, "remote", "add", "origin", str(remote))
    _git(work, "push", "-q", "origin", "main")
    pushed = _git(work, "rev-parse", "HEAD")
    sandbox.write_text(sandbox.read_text().replace("deployers:", "deployers:\n  - user/mallory", 1))
    _git(work, "commit", "-qam", "add mallory")  # committed locally, never pushed, never reviewed
    mallory = "arn:aws:iam::123456789012:user/mallory"
    lists = authorization.Lists.of("sandbox")
    assert "not on the deployers allow-list of parameters/sandbox.yaml at origin/main " + pushed[:12] \
        in lists.deployer_problem(mallory)
    assert authorization.committed("sandbox")["commit"] != pushed  # the working copy is HEAD: not refused as
    c = ctx()                                                       # an edit, and still not a deployer
    c.operator = Operator(mallory, "mallory")
    with pytest.raises(Refused, match="mallory is not on the deployers allow-list of parameters/sandbox.yaml at "
                                      "origin/main " + pushed[:12]):
        authorize(c, "deploy", "rovn-passport-api")
    _git(work, "push", "-q", "origin", "main")  # reviewed and merged: now she is one
    _git(work, "fetch", "-q", "origin")
    assert authorization.Lists.of("sandbox").deployer_problem(mallory) is None


LISTS = authorization.Lists("prod", ("role/Deploy",), {"giles": "user/giles", "christian": "user/christian"})


@pytest.mark.parametrize("operator, local_user", [
    ("arn:aws:sts::1:assumed-role/Deploy/giles", "ci"),           # the session named after the approver
    ("arn:aws:sts::1:assumed-role/Deploy/Giles@rovn.to", "ci"),   # the SSO e-mail
    ("arn:aws:sts::1:assumed-role/Deploy/ci-7", "giles"),         # the local user
    ("arn:aws:sts::1:assumed-role/Deploy/giles-admin", "ci"),     # ambiguous: refused too
    ("arn:aws:iam::1:user/giles.m", "ci"),
])
def test_an_approver_who_is_the_operators_human_identity_is_refused(operator, local_user):
    with pytest.raises(Refused, match=r"approved_by: giles (is|may be) .*the operator"):
        LISTS.approvers_for(["giles"], operator, local_user=local_user)


def test_a_role_session_that_names_someone_else_may_be_approved_by_giles():
    assert LISTS.approvers_for(["giles"], "arn:aws:sts::1:assumed-role/Deploy/christian", local_user="christian") \
        == ["giles"]
    assert LISTS.approvers_for(["giles"], "arn:aws:sts::1:assumed-role/Deploy/ci-7", local_user="runner") == ["giles"]


def test_confirm_compares_the_local_user_too(refusals):
    c = ctx(confirm=True, plan_hash=HASH, approved_by=["giles"])
    c.operator = Operator("arn:aws:sts::123456789012:assumed-role/Deploy/deploy-bot", "giles")
    with pytest.raises(Refused, match="approved_by: giles is the operator"):
        Change(c, PLAN).confirm()


def test_github_logins_belong_to_one_approver_each():
    """The environment file's github_logins: login → approver, each login one person's."""
    approvers = {"giles": "user/giles", "christian": "user/christian"}
    pairs = authorization._github_logins("sandbox", {"Giles": ["Giles-Rovn", "giles-oncall"]}, approvers)
    assert dict(pairs) == {"giles-rovn": "giles", "giles-oncall": "giles"}
    with pytest.raises(Refused, match="gh-shared is listed for both giles and christian"):
        authorization._github_logins("sandbox", {"giles": ["gh-shared"], "christian": ["GH-shared"]}, approvers)
    with pytest.raises(Refused, match="dana is not on its approvers list"):
        authorization._github_logins("sandbox", {"dana": ["dana-gh"]}, approvers)
    with pytest.raises(Refused, match="expected `github_logins` as a mapping"):
        authorization._github_logins("sandbox", {"giles": "giles-rovn"}, approvers)
