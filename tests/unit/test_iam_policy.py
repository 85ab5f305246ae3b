"""IAM's evaluation logic for one request, as the IAM User Guide states it:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
An explicit Deny wins only over what it matches; a condition makes a result conditional,
never ignored; a resource policy's Allow grants a same-account principal it names."""
from __future__ import annotations

import pytest

from rovn_ops.secrets import iam_policy
from rovn_ops.secrets.iam_policy import ALLOW, CONDITIONAL, DENY, IMPLICIT, Statement

ME = "arn:aws:iam::123456789012:user/dave"
ACCOUNT = "123456789012"
DB = "arn:aws:secretsmanager:us-east-2:123456789012:secret:rovn/prod/db-master-AbCdEf"
KEY = "arn:aws:secretsmanager:us-east-2:123456789012:secret:rovn/prod/stripe-api-key-XyZ123"
GET = "secretsmanager:GetSecretValue"
IP = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}


def _s(effect, via="inline", **body) -> Statement:
    return Statement("p", via, {"Effect": effect, **body})


def _eval(identity, resource=(), resource_arn=DB):
    return iam_policy.evaluate(list(identity), list(resource), ME, ACCOUNT, GET, resource_arn).result


@pytest.mark.parametrize("identity, resource_arn, result", [
    ([_s("Allow", Action="secretsmanager:*", Resource="*")], DB, ALLOW),
    ([_s("Allow", Action="secretsmanager:get?ecretValue", Resource="*")], DB, ALLOW),  # ? and case
    ([_s("Allow", Action="secretsmanager:*", Resource="*"),
      _s("Deny", Action=GET, Resource="arn:aws:secretsmanager:*:*:secret:rovn/prod/db-master-*")], DB, DENY),
    ([_s("Allow", Action="secretsmanager:*", Resource="*"),   # the narrower Deny leaves the rest
      _s("Deny", Action=GET, Resource="arn:aws:secretsmanager:*:*:secret:rovn/prod/db-master-*")], KEY, ALLOW),
    ([_s("Allow", Action=GET, Resource="*", Condition=IP)], DB, CONDITIONAL),
    ([_s("Allow", Action=GET, Resource="*"), _s("Deny", Action="*", Resource="*", Condition=IP)], DB, CONDITIONAL),
    ([_s("Allow", NotAction=["iam:*"], Resource="*")], DB, ALLOW),
    ([_s("Allow", Action="*", NotResource=DB)], DB, IMPLICIT),
    ([_s("Deny", NotAction=GET, Resource="*"), _s("Allow", Action="*", Resource="*")], DB, ALLOW),
    ([_s("Allow", Action="secretsmanager:[G]et*", Resource="*")], DB, IMPLICIT),  # no character classes in IAM
    ([], DB, IMPLICIT),
])
def test_identity_policies(identity, resource_arn, result):
    assert _eval(identity, resource_arn=resource_arn) == result


def test_resource_policies_name_their_principal():
    mine = _s("Allow", via="resource policy", Principal={"AWS": ME}, Action=GET, Resource="*")
    root = _s("Allow", via="resource policy", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, Action=GET)
    other = _s("Allow", via="resource policy", Principal={"AWS": "arn:aws:iam::123456789012:user/erin"}, Action=GET)
    deny_all = _s("Deny", via="resource policy", Principal="*", Action=GET, Resource="*")
    assert _eval([], [mine]) == ALLOW
    assert _eval([], [root]) == IMPLICIT and _eval([], [other]) == IMPLICIT
    assert _eval([_s("Allow", Action="*", Resource="*")], [deny_all]) == DENY


def test_a_conditional_decision_says_why():
    d = iam_policy.evaluate([_s("Allow", Action=GET, Resource="*", Condition=IP)], [], ME, ACCOUNT, GET, DB)
    assert "aws:SourceIp" in d.why_conditional() and "10.0.0.0/8" in d.why_conditional()
