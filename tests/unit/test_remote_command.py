"""The task's command carries what the operator gave, as `rovn-ops run` reads it."""
import pytest

from rovn_ops.core.errors import BadInput
from rovn_ops.remote import command, settings


def test_files_then_assignments_become_p_arguments_later_wins(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("events: 5\n")
    cmd = command.build("service_status", "sandbox", [str(f)], ["events=7"])
    assert cmd == ["run", "service_status", "--env", "sandbox", "--json", "-p", "events=7"]


def test_a_list_from_a_file_travels_comma_joined(tmp_path):
    f = tmp_path / "d.yaml"
    f.write_text("set_env: [A=1, B=2]\n")
    assert command.given("deploy", [str(f)], []) == {"set_env": ["A=1", "B=2"]}
    assert command._text("set_env", ["A=1", "B=2"], type("M", (), {"model_fields": {}})) == "A=1,B=2"


def test_a_list_item_with_a_comma_cannot_travel():
    with pytest.raises(BadInput, match="'set_env'.*comma"):
        command._text("set_env", ["A=1,2"], type("M", (), {"model_fields": {}}))


def test_p_text_travels_as_given():
    assert command._text("set_env", "A=1,B=2", type("M", (), {"model_fields": {}})) == "A=1,B=2"


def test_a_bool_travels_as_true_or_false():
    assert command._text("confirm", True, type("M", (), {"model_fields": {}})) == "true"


@pytest.mark.parametrize("name", ["deploy", "rollback"])
def test_deploy_and_rollback_stay_with_claude_deploy(name):
    with pytest.raises(BadInput, match="§10"):
        command.model(name)


@pytest.mark.parametrize("name", ["../deploy", "runbooks/deploy.ipynb", "Deploy", "nope", "deploy\x00"])
def test_only_a_committed_runbook_by_name(name):
    with pytest.raises(BadInput, match="committed runbook by name"):
        command.model(name)


def test_each_runbook_runs_under_its_own_role_and_the_rest_read_only():
    r = settings.load("prod")
    assert r.role_arn("migration_reversal", "111122223333") == "arn:aws:iam::111122223333:role/rovn-ops-db"
    assert r.role_arn("service_status", "111122223333").endswith(":role/rovn-ops-read")
    assert r.stream("abc") == "rovn-ops/rovn-ops/abc"


def test_world_strings_are_escaped_in_the_schedules_preview_and_the_followed_log(capsys):
    """A schedule made by hand in the console (its name is Scheduler's text) and a log line
    (anyone with PutLogEvents on the stream writes it) are shown, never obeyed."""
    from rovn_ops.protocol.change import Plan
    from rovn_ops.remote import run, schedules, task

    evil = "x`|<img src=x onerror=alert(1)>"
    plan = Plan("schedules", "rovn-ops", {"entries": {}})
    md = schedules.Prepared("rovn-ops", {}, {"create": [], "update": [], "delete": [evil]}, plan)._repr_markdown_()
    row = md.splitlines()[-1]
    assert "`x`" not in md and row.replace("\\|", "").count("|") == 5  # its backtick and pipe cannot break out
    outcome = run.Outcome(task.Task("arn", None, "sandbox", "us-east-2"))
    run._emitter(outcome, quiet=False)("\x1b]0;pwned\x07\x1b[2Jline")
    assert "\x1b" not in capsys.readouterr().err
