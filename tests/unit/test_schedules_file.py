"""parameters/schedules.yaml as the attack review found it could be abused: junk is one
line (exit 2), a schedule can neither confirm a change nor deploy, cron fields are in
range, and the runbook and `scheduled` take the file only as committed."""
import subprocess

import pytest

from rovn_ops.core.errors import BadInput, Refused
from rovn_ops.protocol.authorization import committed_file
from rovn_ops.safety import schedules_file

GOOD = "group: rovn-ops\nschedules:\n  - name: a\n    runbook: secrets_audit\n    expression: {expr}\n"


def _declared(tmp_path, text: str):
    f = tmp_path / "schedules.yaml"
    f.write_text(text)
    return schedules_file.declared(f)


@pytest.mark.parametrize("expr", ["cron(0 13 * * ? *)", "cron(0 14 ? * MON *)", "cron(0/15 * * * ? *)",
                                  "cron(0 9 ? * MON-FRI *)", "cron(0 0 L * ? *)", "cron(0 0 ? * 6#3 *)",
                                  "rate(1 day)", "rate(90 days)"])
def test_scheduler_expressions_pass(tmp_path, expr):
    assert _declared(tmp_path, GOOD.format(expr=expr)).schedules[0].expression == expr


@pytest.mark.parametrize("expr", ["cron(99 99 * * ? *)", "cron(0 0 * 13 ? *)", "cron(0 0 ? * FOO *)",
                                  "cron(0 0 * * * *)", "cron(0 0 32 * ? *)", "cron(0 0 * * ? 1800)",
                                  "rate(0 days)", "rate(1 days)", "cron(0 0 * * ?)"])
def test_out_of_range_or_malformed_expressions_are_bad_input(tmp_path, expr):
    with pytest.raises(BadInput, match="expression"):
        _declared(tmp_path, GOOD.format(expr=expr))


@pytest.mark.parametrize("extra, match", [
    ("    parameters: {confirm: true}\n", "confirm"),
    ("    parameters: {plan_hash: abc, approved_by: [giles]}\n", "approved_by, plan_hash"),
    ("    parameters: {env: prod}\n", "env"),
])
def test_a_schedule_never_confirms_a_change(tmp_path, extra, match):
    with pytest.raises(BadInput, match=match):
        _declared(tmp_path, GOOD.format(expr="rate(1 day)") + extra)


@pytest.mark.parametrize("runbook", ["deploy", "rollback"])
def test_deploy_and_rollback_are_never_scheduled(tmp_path, runbook):
    with pytest.raises(BadInput, match="§10"):
        _declared(tmp_path, GOOD.format(expr="rate(1 day)").replace("secrets_audit", runbook))


@pytest.mark.parametrize("text", ["group: rovn-ops\nschedules:\n  - name: x\n    runbook: [\n", "- just\n- a list\n",
                                  "\x00\x01", "group: [unclosed"])
def test_junk_is_one_line_of_bad_input(tmp_path, text):
    with pytest.raises(BadInput, match="parameters/schedules.yaml"):
        _declared(tmp_path, text)


def test_only_the_committed_file_counts(tmp_path):
    git = lambda *a: subprocess.run(["git", "-C", str(tmp_path), *a], check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    f = tmp_path / "schedules.yaml"
    f.write_text(GOOD.format(expr="rate(1 day)"))
    git("add", "schedules.yaml")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x")
    assert committed_file(f, "prod", "schedules")["commit"]
    f.write_text(GOOD.format(expr="rate(1 day)") + "  - name: evil\n    runbook: snapshot_retention\n"
                                                   "    expression: rate(1 minute)\n")
    with pytest.raises(Refused, match="differs from the committed version"):
        committed_file(f, "sandbox", "schedules")


def test_outside_a_checkout_prod_refuses_unless_it_is_the_image(tmp_path):
    f = tmp_path / "schedules.yaml"
    f.write_text(GOOD.format(expr="rate(1 day)"))
    with pytest.raises(Refused, match="not in a git checkout"):
        committed_file(f, "prod", "schedules")
    assert committed_file(f, "prod", "schedules", outside_git_ok=True)["sha256"]
