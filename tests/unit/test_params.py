import pytest

from rovn_ops.safety import params
from rovn_ops.core.errors import BadInput


@pytest.fixture
def home(tmp_path, monkeypatch):
    (tmp_path / "parameters").mkdir()
    (tmp_path / "parameters" / "sandbox.yaml").write_text(
        "parameters:\n  cluster: from-env-file\n  events: 20\n  deployers: [x]\n"
        "  health_url: ${ROVN_TEST_HEALTH}/health\n")
    monkeypatch.setenv("ROVN_HOME", str(tmp_path))
    return tmp_path


def test_precedence_defaults_env_file_files_then_p(home, monkeypatch):
    monkeypatch.setenv("ROVN_TEST_HEALTH", "http://127.0.0.1:9")
    f1 = home / "a.yaml"
    f1.write_text("events: 30\nservice: from-f1\n")
    f2 = home / "b.yaml"
    f2.write_text("events: 40\n")
    p = params.resolve("service_status", "sandbox", [str(f1), str(f2)], ["service=from-p"])
    assert p.region == "us-east-2"              # model default
    assert p.cluster == "from-env-file"          # environment file
    assert p.events == 40                        # the later -f wins
    assert p.service == "from-p"                 # -p wins over -f
    assert p.health_url == "http://127.0.0.1:9/health"


def test_env_file_var_unset_leaves_value_empty(home, monkeypatch):
    monkeypatch.delenv("ROVN_TEST_HEALTH", raising=False)
    assert params.resolve("service_status", "sandbox").health_url == ""


@pytest.mark.parametrize("args, expect", [
    (["nope=1"], "parameter 'nope' (-p): unknown to runbook service_status; expected one of:"),
    (["events=abc"], "parameter 'events': expected a valid integer"),
    (["events=0"], "parameter 'events': expected greater than or equal to 1"),
    (["events"], "-p 'events': expected NAME=VALUE"),
    (["service=AKIAABCDEFGHIJKLMNOP"], "parameter 'service': looks like a secret value"),
])
def test_bad_assignments_name_the_parameter(home, args, expect):
    with pytest.raises(BadInput) as e:
        params.resolve("service_status", "sandbox", [], args)
    assert expect in str(e.value)
    assert "\n" not in str(e.value)


def test_missing_file_and_unknown_key_in_file(home):
    with pytest.raises(BadInput, match=r"-f missing.yaml: file not found"):
        params.resolve("service_status", "sandbox", ["missing.yaml"])
    bad = home / "bad.yaml"
    bad.write_text("evnets: 3\n")
    with pytest.raises(BadInput, match=r"parameter 'evnets' \(-f .*bad.yaml\): unknown"):
        params.resolve("service_status", "sandbox", [str(bad)])


def test_unknown_runbook():
    with pytest.raises(BadInput, match="runbook 'nope': unknown"):
        params.model_for("nope")


def test_list_parameters_split_on_commas():
    class M(params.ChangeParams):
        pass
    assert params._coerce_cli(M, "approved_by", "giles, christian") == ["giles", "christian"]
