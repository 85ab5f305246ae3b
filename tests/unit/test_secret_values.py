"""The masked Secret: no way of showing it shows the value; reveal() does."""
import copy
import json
import pickle
import warnings

import pytest

from rovn_ops.safety import scrub, secret_values
from rovn_ops.safety.secret_values import Secret

VALUE = "https://hooks.slack.com/services/T000/B000/canaryXYZ123"


def shown(s: Secret) -> list[str]:
    return [str(s), repr(s), f"{s}", f"{s!r}", f"{s:>80}", "%s" % s, s._repr_html_(), s._repr_markdown_(),
            json.dumps(s._repr_json_()), json.dumps({"url": s}, default=str), str([s]), str({"k": s})]


def test_every_display_is_masked_and_names_the_secret():
    s = Secret(VALUE, "rovn/prod/slack-webhook-url")
    for text in shown(s):
        assert VALUE not in text and "canary" not in text
    assert "rovn/prod/slack-webhook-url" in repr(s) and s.reveal() == s.get_secret_value() == VALUE


def test_ipython_pretty_and_json_are_masked():
    from IPython.lib.pretty import pretty

    s = Secret(VALUE, "n")
    assert VALUE not in pretty(s) and VALUE not in pretty({"a": [s]})
    with pytest.raises(TypeError):
        json.dumps(s)


def test_not_pickled_not_mutated():
    s = Secret(VALUE, "n")
    with pytest.raises(TypeError):
        pickle.dumps(s)
    with pytest.raises(AttributeError):
        s.name = "other"
    assert copy.deepcopy(s) is s and s == Secret(VALUE, "x") and s != Secret("other", "n")


def test_json_field_is_a_secret_too():
    s = Secret(json.dumps({"username": "app", "password": "p4ssw0rd-long-enough"}), "rovn/prod/db")
    pw = s.field("password")
    assert isinstance(pw, Secret) and pw.name == "rovn/prod/db#password" and pw.reveal() == "p4ssw0rd-long-enough"
    with pytest.raises(KeyError, match="no JSON field 'nope'"):
        s.field("nope")


class FakeSM:
    def __init__(self, value):
        self.value, self.calls = value, []

    def get_secret_value(self, **kw):
        self.calls.append(kw)
        return {"SecretString": self.value}


def test_read_names_the_stage_and_registers_every_json_leaf():
    sm = FakeSM(json.dumps({"outer": {"token": "nested-leaf-value-42"}, "list": ["leaf-in-a-list-77"]}))
    s = secret_values.read(sm, "rovn/sandbox/nested")
    assert sm.calls == [{"SecretId": "rovn/sandbox/nested", "VersionStage": "AWSCURRENT"}]
    assert {"nested-leaf-value-42", "leaf-in-a-list-77"} <= scrub.registered()
    assert "nested-leaf-value-42" not in scrub.Redactor().text("token=NESTED-LEAF-VALUE-42")
    assert not s.too_short


def test_a_short_value_warns_by_name_and_is_flagged():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = secret_values.read(FakeSM("abc12"), "rovn/sandbox/short-pin")
    assert s.too_short and secret_values.too_short("abc12") and not secret_values.too_short("abcdefgh")
    [w] = [w for w in caught if issubclass(w.category, secret_values.ShortSecretWarning)]
    assert "rovn/sandbox/short-pin" in str(w.message) and "abc12" not in str(w.message)
