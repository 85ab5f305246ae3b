"""preview → confirm → execute → verify → log, in every mode."""
import pytest

from rovn_ops import audit
from rovn_ops.context import Operator, RunContext
from rovn_ops.errors import Refused
from rovn_ops.params import ChangeParams
from rovn_ops.protocol import Change, Plan
from rovn_ops.sandbox import control

PLAN = Plan("deploy", "rovn-passport-api", {"task_definition": {"before": "rovn-passport-api:288",
                                                                 "after": "rovn-passport-api:289"}})


def ctx(mode="headless", **values) -> RunContext:
    return RunContext("deploy", ChangeParams(**values), "run-1", mode,
                      Operator("arn:aws:iam::123456789012:user/claude-deploy", "oncall"))


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
    assert "-p confirm=true" in cmd and f"plan_hash={PLAN.hash}" in cmd and "approved_by=<approver>" in cmd


def test_headless_confirm_needs_approvers():
    with pytest.raises(Refused, match="needs approved_by"):
        Change(ctx(confirm=True), PLAN).confirm()


def test_headless_approver_must_not_be_the_operator():
    with pytest.raises(Refused, match="someone else"):
        Change(ctx(confirm=True, approved_by=["claude-deploy"]), PLAN).confirm()


def test_stale_plan_hash_is_refused_and_prefix_accepted():
    with pytest.raises(Refused, match="does not match today's plan"):
        Change(ctx(confirm=True, approved_by=["giles"], plan_hash="0" * 64), PLAN).confirm()
    ok = Change(ctx(confirm=True, approved_by=["giles"], plan_hash=PLAN.hash[:12]), PLAN).confirm()
    assert ok.executed and ok.approvers == ["giles"]
    with pytest.raises(Refused):  # too short a prefix proves nothing
        Change(ctx(confirm=True, approved_by=["giles"], plan_hash=PLAN.hash[:6]), PLAN).confirm()


def test_interactive_confirm_asks_for_the_target_name():
    asked = []
    approval = Change(ctx("interactive", confirm=True), PLAN).confirm(
        ask=lambda prompt: asked.append(prompt) or "rovn-passport-api")
    assert approval.executed and approval.approvers == ["oncall"] and "rovn-passport-api" in asked[0]
    with pytest.raises(Refused, match="typed 'rovn-passport'"):
        Change(ctx("interactive", confirm=True), PLAN).confirm(ask=lambda _: "rovn-passport")


def test_steps_cannot_be_skipped():
    change = Change(ctx(confirm=True, approved_by=["giles"]), PLAN)
    with pytest.raises(Refused, match="before confirm"):
        change.execute(lambda: 1)
    change.confirm()
    with pytest.raises(Refused, match="verify before execute"):
        change.verify(lambda: True)


def test_log_writes_audit_then_notifies(fresh, app_db):
    c = ctx(confirm=True, approved_by=["giles", "christian"],
            slack_webhook_url=fresh["sink_url"] + "/slack")
    c.__dict__["db"] = app_db
    change = Change(c, PLAN)
    change.confirm()
    change.execute(lambda: "registered")
    change.verify(lambda: True)
    entry = change.log("success")
    row = audit.rows(app_db)[0]
    assert row["id"] == entry.id and row["outcome"] == "success" and row["run_id"] == "run-1"
    assert row["details"]["approvers"] == ["giles", "christian"]
    assert row["details"]["plan_hash"] == PLAN.hash
    assert change.deliveries[0].ok
    assert "deploy rovn-passport-api: success" in control.posts(fresh)[-1]["payload"]["text"]


def test_a_notifier_that_is_down_does_not_block_the_audit_write(fresh, app_db):
    control.scenario(fresh, "sink_down")
    c = ctx(confirm=True, approved_by=["giles"], slack_webhook_url=fresh["sink_url"] + "/slack")
    c.__dict__["db"] = app_db
    change = Change(c, PLAN)
    change.confirm()
    change.execute(lambda: "done")
    entry = change.log("success")
    assert entry.id == audit.rows(app_db)[0]["id"]
    delivery = change.deliveries[0]
    assert not delivery.ok and delivery.attempts > 1 and "503" in delivery.detail


def test_webhook_from_secrets_manager(fresh, app_db, aws):
    url = fresh["sink_url"] + "/slack"
    aws("secretsmanager").create_secret(Name="rovn/sandbox/slack-webhook-url", SecretString=url)
    c = ctx(confirm=True, approved_by=["giles"], slack_webhook_url="secret:rovn/sandbox/slack-webhook-url")
    c.__dict__["db"] = app_db
    hook = c.webhook("slack_webhook_url")
    assert hook.reveal() == url and hook.name == "rovn/sandbox/slack-webhook-url" and url not in repr(hook)
    change = Change(c, PLAN)
    change.confirm()
    change.execute(lambda: "done")
    change.log("success")
    assert change.deliveries[0].ok
