"""The secrets package against in-process moto: the four steps' idempotency, the
inventory's classes and ages, drift's policy evaluation, the JWKS roll, masking."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from rovn_ops.safety import scrub
from rovn_ops.secrets import database, drift, inventory, jwks, policy, steps, values, versions
from rovn_ops.secrets.steps import Strategy

ARN = "arn:aws:secretsmanager:us-east-2:123456789012:secret:rovn/prod/db-master-AbCdEf"


pytestmark = pytest.mark.usefixtures("in_process")  # moto in this process


@pytest.fixture
def sm():
    from rovn_sandbox import secretsmanager_fixes

    secretsmanager_fixes.install()  # Secrets Manager as AWS behaves (version dates, labels)
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-2")


def _age(sm, name: str, days: int) -> None:
    from moto.secretsmanager.models import secretsmanager_backends

    secret = secretsmanager_backends["123456789012"]["us-east-2"].secrets[name]
    when = int((datetime.now(timezone.utc) - timedelta(days=days)).timestamp())
    secret.created_date = when
    secret.versions[secret.default_version_id]["createdate"] = when


class Counter(Strategy):
    """A class whose value is a counter: enough to watch the steps."""

    def __init__(self):
        self.calls = []

    def make(self, current, token):
        return values.wrap(str(int(current.reveal()) + 1), "next")

    def set(self, pending, current):
        self.calls.append(("set", pending.reveal()))
        return "set"

    def test(self, pending, current):
        self.calls.append(("test", pending.reveal()))
        return "tested"


def test_four_steps_are_idempotent_and_keep_one_pending_version(sm):
    sm.create_secret(Name="counter", SecretString="41000000")
    st = versions.stages(sm, "counter")
    token = versions.token(st.arn, st.current)
    assert token == versions.token(st.arn, st.current)  # a preview and its execution agree
    s = Counter()
    assert steps.create_secret(sm, "counter", token, s).outcome == "done"
    assert steps.create_secret(sm, "counter", token, s).outcome == "resumed"  # never duplicated
    assert versions.stages(sm, "counter").pending_count() == 1
    steps.set_secret(sm, "counter", token, s)
    steps.test_secret(sm, "counter", token, s)
    assert s.calls == [("set", "41000001"), ("test", "41000001")]
    assert steps.finish_secret(sm, "counter", token).outcome == "done"
    after = versions.stages(sm, "counter")
    assert after.current == token and after.previous == st.current and after.holder(versions.PENDING) is None
    for step in (steps.create_secret, steps.set_secret, steps.test_secret):
        assert step(sm, "counter", token, s).outcome == "skipped"  # a token already current is a no-op
    assert steps.finish_secret(sm, "counter", token).outcome == "skipped"
    assert values.read(sm, "counter", stage="AWSCURRENT").value.reveal() == "41000001"


def test_a_read_names_its_version():
    with pytest.raises(ValueError, match="explicit VersionStage"):
        values.read(None, "x")


def test_inventory_classes_ages_and_statuses(sm):
    for name, tags, days in [("rovn/prod/jwt-signing-key", {"class": "jwt"}, 200),
                             ("rovn/prod/stripe-api-key", {}, 120),       # by name rule
                             ("rovn/prod/checkr-api-key", {"class": "api-key"}, 30),
                             ("rovn/prod/workos-api-key", {"class": "api-key"}, 80),
                             ("something-else", {}, 400)]:
        sm.create_secret(Name=name, SecretString="x" * 20, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        _age(sm, name, days)
    inv = inventory.take(sm, policy.load())
    got = {e.name: (e.klass, e.age_days, e.status) for e in inv.entries}
    assert got["rovn/prod/jwt-signing-key"] == ("jwt", 200, "overdue")
    assert got["rovn/prod/stripe-api-key"] == ("api-key", 120, "overdue")
    assert got["rovn/prod/checkr-api-key"] == ("api-key", 30, "fine")
    assert got["rovn/prod/workos-api-key"] == ("api-key", 80, "due")
    assert got["something-else"][2] == "no policy"
    assert [e.name for e in inv.overdue] == ["rovn/prod/stripe-api-key", "rovn/prod/jwt-signing-key"]
    assert "█" in repr(inv.chart()) and "<svg" in inv.chart()._repr_html_()


def test_the_age_is_the_current_versions(sm):
    sm.create_secret(Name="rovn/prod/jwt-signing-key", SecretString="a" * 20, Tags=[{"Key": "class", "Value": "jwt"}])
    _age(sm, "rovn/prod/jwt-signing-key", 200)
    st = versions.stages(sm, "rovn/prod/jwt-signing-key")
    steps.create_secret(sm, st.name, versions.token(st.arn, st.current), Counter2())
    steps.finish_secret(sm, st.name, versions.token(st.arn, st.current))
    [e] = inventory.take(sm, policy.load()).entries
    assert e.age_days == 0 and e.status == "fine"


class Counter2(Counter):
    def make(self, current, token):
        return values.wrap("b" * 20, "next")


DOC = {"Version": "2012-10-17"}


@pytest.mark.parametrize("statement, granted", [
    ({"Effect": "Allow", "Action": "*", "Resource": "*"}, True),
    ({"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}, True),
    ({"Effect": "Allow", "Action": ["s3:GetObject", "SecretsManager:Get*"], "Resource": "*"}, True),
    ({"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"}, True),
    ({"Effect": "Allow", "NotAction": ["secretsmanager:*"], "Resource": "*"}, False),
    ({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
      "Resource": "arn:aws:secretsmanager:*:*:secret:rovn/prod/*"}, True),
    ({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
      "Resource": "arn:aws:secretsmanager:*:*:secret:other/*"}, False),
    ({"Effect": "Allow", "Action": "secretsmanager:List*", "Resource": "*"}, False),
    ({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "NotResource": ARN}, False),
])
def test_policy_evaluation_with_wildcards(statement, granted):
    assert ("Allow" in drift.effects({**DOC, "Statement": [statement]}, [ARN])) is granted


def test_drift_follows_groups_and_explicit_deny():
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        doc = lambda effect, action: json.dumps({**DOC, "Statement": [  # noqa: E731
            {"Effect": effect, "Action": action, "Resource": "*"}]})
        arn = iam.create_policy(PolicyName="readers", PolicyDocument=doc("Allow", "secretsmanager:Get*"))["Policy"]["Arn"]
        iam.create_group(GroupName="ops")
        iam.attach_group_policy(GroupName="ops", PolicyArn=arn)
        for user in ("eve", "denied", "claude-deploy"):
            iam.create_user(UserName=user)
            iam.add_user_to_group(GroupName="ops", UserName=user)
        iam.put_user_policy(UserName="denied", PolicyName="no", PolicyDocument=doc("Deny", "secretsmanager:*"))
        report = drift.check(iam, [ARN], ["user/Claude-Deploy"])
    assert {g.principal for g in report.grants} == {"user/eve", "user/claude-deploy"}
    [dev] = report.deviations
    assert (dev.principal, dev.policy, dev.via) == ("user/eve", arn, "group ops (attached)")
    assert "user/eve via" in report.verdict()


def test_jwks_roll_keeps_old_tokens_until_pruned():
    now = datetime(2026, 11, 27, tzinfo=timezone.utc)
    old = jwks.new_document("rovn-old")
    token = jwks.sign(old, {"sub": "x"})
    s = jwks.Jwks(lifetime_s=3600, now=lambda: now)
    new = values.doc(s.make(values.dumps(old), "11111111-2222-3333-4444-555555555555"))
    assert new["signing_kid"] == "rovn-111111112222" and new["retired"] == {"rovn-old": now.isoformat()}
    assert jwks.verify(token, jwks.published(new))["sub"] == "x"
    with pytest.raises(Exception, match="kid"):
        jwks.verify(jwks.sign(jwks.new_document("rovn-stranger"), {}), jwks.published(new))
    assert jwks.expired(new, timedelta(hours=1), now + timedelta(minutes=59)) == []
    late = jwks.Jwks(lifetime_s=3600, action="prune", now=lambda: now + timedelta(hours=1))
    pruned = values.doc(late.make(values.dumps(new), "t"))
    assert [k["kid"] for k in pruned["keys"]] == ["rovn-111111112222"] and pruned["retired"] == {}


def test_values_are_masked_and_only_private_parts_registered():
    secret = values.dumps({"username": "rovn_svc_clone", "password": "pw-" + "z" * 20, "host": "db.internal"}, "db")
    assert "pw-" not in repr(secret) + str(secret) + f"{secret}" + secret._repr_markdown_()
    registered = scrub.registered()
    assert "pw-" + "z" * 20 in registered and "rovn_svc_clone" not in registered and "db.internal" not in registered


def test_alternating_users():
    assert database.other_user("rovn_svc") == "rovn_svc_clone"
    assert database.other_user("rovn_svc_clone") == "rovn_svc"


def test_a_secret_parameter_is_a_name(monkeypatch):
    from rovn_ops.safety import params
    from rovn_ops.core.errors import BadInput

    for junk in ("a b", "rovn/prod/db-master\n", "x" * 513):
        with pytest.raises(BadInput, match="parameter 'secret'"):
            params.resolve("secret_rotation", "sandbox", [], [f"secret={junk}"])
    with pytest.raises(BadInput, match="parameter 'action'"):
        params.resolve("secret_rotation", "sandbox", [], ["action=delete"])


def test_provider_adapters_authenticate_as_each_provider_does():
    from rovn_ops.secrets.provider import ADAPTERS

    key = values.wrap("k" * 24, "key")
    assert ADAPTERS["anthropic"].headers(key) == {"x-api-key": "k" * 24}
    assert ADAPTERS["stripe"].headers(key) == {"Authorization": "Bearer " + "k" * 24}
    assert ADAPTERS["checkr"].headers(key)["Authorization"].startswith("Basic ")
    assert ADAPTERS["stripe"].check_url() == "https://api.stripe.com/v1/balance"
    assert ADAPTERS["stripe"].check_url("http://127.0.0.1:9/providers") == "http://127.0.0.1:9/providers/stripe/v1/balance"


def test_a_provider_key_comes_from_the_operator_never_made_up():
    from rovn_ops.core.errors import Refused
    from rovn_ops.secrets.provider import ADAPTERS, Provider

    current = values.wrap("rk_live_" + "o" * 24, "current")
    typed = Provider(ADAPTERS["stripe"], secret="rovn/prod/stripe-api-key", headless=False,
                     ask=lambda prompt: "rk_live_" + "n" * 24 + "\n").make(current, "t")
    assert typed.reveal() == "rk_live_" + "n" * 24 and "n" * 24 not in repr(typed)
    headless = Provider(ADAPTERS["stripe"], secret="rovn/prod/stripe-api-key", headless=True)
    assert headless.ready(pending_staged=False) and not headless.ready(pending_staged=True)
    with pytest.raises(Refused, match="no new key staged"):
        headless.make(current, "t")
    with pytest.raises(Refused, match="no key typed"):
        Provider(ADAPTERS["stripe"], secret="s", headless=False, ask=lambda prompt: "  ").make(current, "t")
