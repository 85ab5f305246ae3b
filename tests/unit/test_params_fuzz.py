"""Junk in every parameter of every runbook (issue 20 class 7: `cpu=abc`, an empty
`alarm_prefix`, `migrations_dir=/etc` were accepted and failed mid-run): each is refused
by validation, one line naming the parameter, before anything runs."""
import typing

import pytest

from rovn_ops.safety import params
from rovn_ops.core.errors import BadInput

TEXT_JUNK = ["\x00", "a b;c<x>", "<script>x</script>", "../" * 400]
NUMBER_JUNK = ["abc", "nan", "1e999", ""]
# refused later, by the protocol, with a `refused` audit row (§10): any value at all
LATER = {"deployers"}


def _junk(field) -> list[str]:
    kind = field.annotation
    if typing.get_origin(kind) is typing.Literal:
        return ["zzz", ""] if "" not in typing.get_args(kind) else ["zzz"]
    if kind in (int, float):
        return NUMBER_JUNK
    if kind is bool:
        return ["maybe", "2"]
    return TEXT_JUNK


CASES = [(runbook, name, junk) for runbook, model in sorted(params.MODELS.items())
         for name, field in model.model_fields.items() if name != "env" and name not in LATER
         for junk in _junk(field)]


def test_every_parameter_of_every_runbook_is_fuzzed():
    assert len({(r, n) for r, n, _ in CASES}) == sum(len(m.model_fields) - 1 - bool(LATER & set(m.model_fields)) for m in params.MODELS.values()) > 100


@pytest.mark.parametrize("runbook, name, junk", CASES, ids=lambda v: repr(v)[:30])
def test_junk_is_refused_naming_the_parameter(runbook, name, junk):
    with pytest.raises(BadInput) as e:
        params.resolve(runbook, "sandbox", assignments=[f"{name}={junk}"])
    line = str(e.value)
    assert "\n" not in line and f"'{name}'" in line, line


@pytest.mark.parametrize("args, expect", [
    (["cpu=abc"], "parameter 'cpu'"), (["cpu=300"], "parameter 'cpu'"), (["memory=12abc"], "parameter 'memory'"),
    (["migrations_dir=/etc"], "expected a directory of NNNN_name.sql migrations; it holds none, got '/etc'"),
    (["migrations_dir=/no/such/dir"], "is not a directory"),
])
def test_the_issue_examples(args, expect):
    with pytest.raises(BadInput, match=expect):
        params.resolve("deploy", "sandbox", assignments=args)
    with pytest.raises(BadInput, match="parameter 'alarm_prefix'"):
        params.resolve("service_status", "sandbox", assignments=["alarm_prefix="])


def test_the_environment_files_still_validate(monkeypatch):
    """Every runbook's defaults and both committed environment files pass the new types."""
    for runbook in params.MODELS:
        params.resolve(runbook, "prod")
        params.resolve(runbook, "sandbox")
