"""Bad input never reaches a kernel: NAME=VALUE items that carry secrets, whole-value
regexes, finite floats, bounded strings, AWS formats, allowed regions, files that are
not UTF-8, draft notebooks read without running their code."""
import json

import pytest

from rovn_ops.safety import params
from rovn_ops.core.errors import BadInput

PEM_NO_FOOTER = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHh4eHh4eHh4eHh4eHh4eHh4eHh4"


@pytest.fixture
def home(tmp_path, monkeypatch):
    (tmp_path / "parameters").mkdir()
    for env in ("sandbox", "prod"):
        (tmp_path / "parameters" / f"{env}.yaml").write_text(
            "allowed_regions: [us-east-2, us-west-2]\nparameters:\n  region: us-east-2\n")
    monkeypatch.setenv("ROVN_HOME", str(tmp_path))
    return tmp_path


def refused(runbook, *assignments, files=(), model=None) -> str:
    with pytest.raises(BadInput) as e:
        params.resolve(runbook, "sandbox", list(files), list(assignments), model)
    text = str(e.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize("item", [
    "DB_PASSWORD=hunter2-pw", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "GITHUB_TOKEN=val-abc-1", "STRIPE_API_KEY=val-abc-2", "MY_SECRET=val-abc-3", "SIGNING_KEY=val-abc-4",
    "AWS_S=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",                      # the shape, under a bland name
    "GH=ghp_" + "a1B2c3D4e5" * 4, "GH=github_pat_11ABCDEFG0" + "x" * 40, "SLACK=xoxb-1234567890-abcdefghij",
    "HOOK=https://hooks.slack.com/services/T0001/B0002/abcdefghijklmnopqrstuvwx",
    "PD=https://events.pagerduty.com/integration/0123456789abcdef0123456789abcdef/enqueue",
    "CERT=" + PEM_NO_FOOTER, "ID=AKIAIOSFODNN7EXAMPLE"])
def test_set_env_items_that_carry_secrets_are_refused_without_echoing_them(home, item):
    text = refused("deploy", f"set_env={item}")
    assert "parameter 'set_env'" in text and "would carry a secret" in text
    value = item.split("=", 1)[1]
    assert value not in text


def test_plain_set_env_items_pass(home):
    p = params.resolve("deploy", "sandbox", [], ["set_env=LOG_LEVEL=debug,FEATURE_X=on"])
    assert p.set_env == ["LOG_LEVEL=debug", "FEATURE_X=on"]


@pytest.mark.parametrize("item, expect", [
    ("image_tag=prod-20261127031500\n", "parameter 'image_tag'"),
    ("tag_suffix=fix\n", "parameter 'tag_suffix'"),
    ("to_revision=rovn-passport-api:288\n", "parameter 'to_revision'"),
    ("region=us-east-2\n", "parameter 'region'"),
    ("service=rovn-passport-api\n", "parameter 'service'")])
def test_regexes_match_the_whole_value(home, item, expect):
    runbook = "rollback" if item.startswith("to_revision") else "deploy"
    assert expect in refused(runbook, item)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "Infinity"])
def test_floats_are_finite(home, value):
    assert "parameter 'poll_min'" in refused("deploy", f"poll_min={value}")


def test_strings_are_bounded(home):
    text = refused("deploy", "image_tag=" + "1" * (params.MAX_TEXT + 1))  # (cpu is now one of Fargate's sizes)
    assert "parameter 'image_tag'" in text and "at most 4096" in text and len(text) < 300


def test_a_huge_parameter_file_is_refused_unread(home):
    big = home / "big.yaml"
    big.write_text("note: " + "x" * 10_000_000 + "\n")
    assert "expected a parameter file under" in refused("deploy", files=[str(big)])


@pytest.mark.parametrize("item, name", [
    ("service=rovn passport", "service"), ("service=../../etc", "service"), ("cluster=a;b", "cluster"),
    ("cluster=" + "c" * 256, "cluster"), ("region=mars", "region"), ("region=US-EAST-2", "region")])
def test_aws_formats(home, item, name):
    assert f"parameter '{name}'" in refused("service_status", item)


def test_ecs_arns_are_names_too(home):
    p = params.resolve("service_status", "sandbox", [], [
        "cluster=arn:aws:ecs:us-east-2:123456789012:cluster/rovn-prod"])
    assert p.cluster.endswith("cluster/rovn-prod")


def test_region_is_one_of_the_environments(home):
    assert params.resolve("service_status", "sandbox", [], ["region=us-west-2"]).region == "us-west-2"
    text = refused("service_status", "region=eu-west-1")
    assert text == ("parameter 'region': expected one of the sandbox environment's regions "
                    "(us-east-2, us-west-2), got 'eu-west-1'")


def test_committed_environments_allow_only_us_east_2():
    for env in ("sandbox", "prod"):
        assert params.allowed_regions(env) == ["us-east-2"]


def test_a_yaml_file_that_is_not_utf8(home):
    f = home / "latin1.yaml"
    f.write_bytes("service: caf\xe9\n".encode("latin-1"))
    assert "not UTF-8 text (byte 12)" in refused("service_status", files=[str(f)])


def _draft(path, parameters_source: str, extra_cells=()):
    cells = [{"cell_type": "code", "id": "p", "metadata": {"tags": ["parameters"]}, "source": parameters_source,
              "outputs": [], "execution_count": None}, *extra_cells]
    path.write_text(json.dumps({"cells": cells, "metadata": {"kernelspec": {"name": "python3", "language": "python",
                                                                           "display_name": "Python 3"}},
                                "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_draft_defaults_are_read_never_run(tmp_path):
    marker = tmp_path / "ran"
    nb = _draft(tmp_path / "draft.ipynb", f'env: str = "sandbox"\nx: str = __import__("os").system("touch {marker}")\n')
    with pytest.raises(BadInput, match=r"parameter 'x': default .* is not a literal"):
        params.inferred_model(nb)
    assert not marker.exists()


def test_draft_default_that_is_a_name(tmp_path):
    nb = _draft(tmp_path / "draft.ipynb", "limit: int = DEFAULT_LIMIT  # a constant from elsewhere\n")
    with pytest.raises(BadInput) as e:
        params.inferred_model(nb)
    assert "parameter 'limit'" in str(e.value) and "\n" not in str(e.value)


def test_draft_literals_become_typed_fields(tmp_path):
    nb = _draft(tmp_path / "draft.ipynb", 'n: int = 3\nnames: list = ["a", "b"]\nnote: str = "hi"\nf: float = 1.5\n')
    m = params.inferred_model(nb)
    assert m().n == 3 and m().names == ["a", "b"] and m().note == "hi" and m().f == 1.5


@pytest.mark.parametrize("content", [b"not json at all", b'{"cells": "nope"}', b"\xff\xfe\x00garbage", b"[]"])
def test_a_draft_that_is_not_a_notebook(tmp_path, content):
    nb = tmp_path / "draft.ipynb"
    nb.write_bytes(content)
    with pytest.raises(BadInput) as e:
        params.inferred_model(nb)
    assert str(e.value).startswith(f"runbook {nb}: not a Jupyter notebook") and "\n" not in str(e.value)


def test_a_parameter_file_is_yaml_or_json_without_aliases(tmp_path):
    """-f takes parameter files only (issue 20 class 6); an alias bomb is refused on the
    event stream, before anything expands (class 7)."""
    import time

    from tests.scenarios.test_bad_input import BOMB

    bomb = tmp_path / "bomb.yaml"
    bomb.write_bytes(BOMB)
    started = time.monotonic()
    with pytest.raises(BadInput, match="anchors and aliases"):
        params.resolve("service_status", "sandbox", [str(bomb)])
    assert time.monotonic() - started < 1
    for name in ("credentials", "x.ipynb", "notes.txt"):
        (tmp_path / name).write_text("events: 5\n")
        with pytest.raises(BadInput, match=r"expected a parameter file \(.yaml, .yml or .json\)"):
            params.resolve("service_status", "sandbox", [str(tmp_path / name)])
    ok = tmp_path / "preset.JSON"
    ok.write_text('{"events": 5}')
    assert params.resolve("service_status", "sandbox", [str(ok)]).events == 5


def test_a_value_refused_as_secret_shaped_is_never_echoed(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("health_url: {password: hunter2hunter2}\n")
    with pytest.raises(BadInput) as e:
        params.resolve("service_status", "sandbox", [str(f)])
    assert "hunter2" not in str(e.value)
    f.write_text("events: 'xoxb-1234567890-abcdefghij'\n")
    with pytest.raises(BadInput, match="looks like a secret") as e:
        params.resolve("service_status", "sandbox", [str(f)])
    assert "xoxb" not in str(e.value)
    # a type error on a secret-shaped value names the parameter, not the value
    msg = params.describe(_validation_error(params.ServiceStatusParams, events="Bearer abcdefghijklmnopqrstuvwxyz"))
    assert "parameter 'events'" in msg and "abcdefghij" not in msg


def _validation_error(model, **values):
    from pydantic import ValidationError

    try:
        model(**values)
    except ValidationError as e:
        return e
    raise AssertionError("valid")


def test_every_numeric_parameter_has_an_upper_bound():
    """Attack review LOW 8: `deadline_s=99999999999999999999` was accepted (a deploy that
    waits 1e20 s on a stuck rollout). Every int/float parameter of every runbook has a bound."""
    import annotated_types as at

    unbounded = sorted({f"{rb}.{n}" for rb, m in params.MODELS.items() for n, f in m.model_fields.items()
                        if f.annotation in (int, float)
                        and not any(isinstance(x, (at.Le, at.Lt)) for x in f.metadata)})
    assert not unbounded


@pytest.mark.parametrize("runbook, item", [("deploy", "deadline_s=99999999999999999999"),
                                           ("deploy", "bake_s=10801"), ("rollback", "deadline_s=1e9"),
                                           ("deploy", "lock_wait=86400")])
def test_a_wait_beyond_three_hours_is_refused_naming_it(home, runbook, item):
    name = item.split("=")[0]
    text = refused(runbook, item)
    assert text.startswith(f"parameter '{name}': expected less than or equal to 10800"), text


@pytest.mark.parametrize("content", ["root:x:0:0:root:/root:/bin/bash\n", "- workers\n- ssn\n",
                                     "workers: ssn\n", "workers: [ssn, {a: b}]\n", "", "\xff\xfe"])
def test_a_phi_registry_that_is_not_one_is_refused_before_a_kernel(home, tmp_path, content):
    """Attack review MEDIUM 5: `-p phi_registry=../../../etc/passwd` started a kernel that
    crashed on `'str' object has no attribute 'items'` (exit 1, archived as failed)."""
    f = tmp_path / "registry.yaml"
    f.write_bytes(content.encode("latin-1"))
    text = refused("deploy", f"phi_registry={f}")
    assert text.startswith("parameter 'phi_registry': expected a PHI column registry (a YAML mapping of "
                           "table → columns), got "), text


def test_a_phi_registry_of_tables_and_columns_is_accepted(home, tmp_path):
    f = tmp_path / "registry.yaml"
    f.write_text("workers: [ssn, date_of_birth]\ncredentials: [license_number]\n")
    assert params.resolve("deploy", "sandbox", [], [f"phi_registry={f}"]).phi_registry == str(f)


@pytest.mark.parametrize("given", [["confirm=true"], ["confirm=yes", "plan_hash="]])
def test_confirm_without_a_plan_hash_is_bad_input(home, given):
    """Attack review LOW 7: it started a kernel and was archived as refused (exit 3)."""
    text = refused("rollback", *given)
    assert text.startswith("parameter 'plan_hash': expected the hash a preview printed: confirm=true"), text
    assert params.resolve("rollback", "sandbox", [], ["confirm=true", "plan_hash=" + "a" * 12]).confirm


def test_migrations_apply_lock_wait_is_bounded_too():
    import argparse

    from rovn_ops.cli import _seconds

    assert _seconds("10800") == 10800
    with pytest.raises(argparse.ArgumentTypeError, match="at most 10800"):
        _seconds("1e20")


@pytest.mark.parametrize("runbook, item", [
    ("deploy", "reason=key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("service_status", "health_url=http://127.0.0.1:1/wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")])
def test_an_aws_secret_key_inside_free_text_is_refused_unshown(home, runbook, item):
    """Attack review MEDIUM 4: refused only as the whole value; inside text it was archived."""
    text = refused(runbook, item)
    name = item.split("=")[0]
    assert text.startswith(f"parameter '{name}': looks like a secret value") and "wJalr" not in text, text


def test_free_text_without_a_key_passes(home):
    p = params.resolve("deploy", "sandbox", [], ["reason=roll forward 0f3c9a2b1d4e5f60718293a4b5c6d7e8f9012345 fix"])
    assert p.reason.startswith("roll forward")  # a git sha (lower-case hex) is no key
