"""The early verdict (run/early.py, issue 24 build 2): printed the moment the kernel
records it, and stdout still exactly one JSON object (docs/ci.md, the --json contract)
whatever ends the run after it."""
from __future__ import annotations

import io
import json

from rovn_ops.core.errors import BadInput
from rovn_ops.run import early
from rovn_ops.safety import scrub

VERDICT = {"headline": "P0 · 0 of 3 tasks running · next: rovn-ops run rollback --env sandbox",
           "severity": "P0", "next_command": "rovn-ops run rollback --env sandbox"}
TOLD = {"run_id": "r-1", "outcome": "attention", "exit_code": 4, "error": None, "next": None,
        "summary": {"headline": VERDICT["headline"]}}


def test_json_verdict_first_then_the_rest_of_one_object():
    out = io.StringIO()
    o = early.Output(True, out)
    o.announce(VERDICT)
    first = out.getvalue()
    assert first.startswith('{\n  "verdict": {') and first.endswith(",\n")  # a line a reader gets at once
    o.announce(VERDICT | {"headline": "P1 · another"})  # once only
    o.close(TOLD)
    told = json.loads(out.getvalue())
    assert list(told) == ["verdict", *TOLD] and told["verdict"] == VERDICT and told["exit_code"] == 4


def test_json_without_a_verdict_is_the_object_as_before():
    out = io.StringIO()
    early.Output(True, out).close(TOLD)
    assert out.getvalue() == json.dumps(TOLD, indent=2) + "\n"


def test_json_closes_with_nothing_left_and_ignores_a_late_verdict():
    out = io.StringIO()
    o = early.Output(True, out)
    o.announce(VERDICT)
    o.close({"verdict": "forged twice"})
    assert json.loads(out.getvalue()) == {"verdict": VERDICT, "exit_code": None}
    late = io.StringIO()
    o = early.Output(True, late)
    o.close(TOLD)
    o.announce(VERDICT)  # after the object closed: nothing more on stdout
    assert json.loads(late.getvalue()) == TOLD


def test_an_error_after_the_verdict_completes_the_same_object(capsys):
    from rovn_ops import cli

    o = early.Output(True)
    o.announce(VERDICT)
    code = cli._fail(True, BadInput("parameter 'x': expected y"), o)
    told = json.loads(capsys.readouterr().out)
    assert code == 2 and told["verdict"] == VERDICT and told["outcome"] == "bad_input"


def test_plain_headline_first_and_not_repeated_and_escaped():
    out = io.StringIO()
    o = early.Output(False, out)
    o.announce(VERDICT | {"headline": "P1 · alarm \x1b[2Jboom"})
    assert out.getvalue() == "P1 · alarm \\x1b[2Jboom\n"  # shown, never obeyed by the terminal
    assert o.lines(["P1 · alarm \\x1b[2Jboom", "severity: P1"]) == ["severity: P1"]
    assert o.lines(["P0 · changed since", "severity: P0"]) == ["P0 · changed since", "severity: P0"]


def test_watch_redacts_what_the_kernel_sealed_and_takes_only_a_verdicts_fields(tmp_path):
    secret = "s3cr3t-value-that-is-long-enough"
    result = tmp_path / "result.json"
    result.write_text(json.dumps({"verdict": {"headline": f"P0 · token {secret}", "severity": "P0",
                                              "next_command": None, "extra": "dropped"}}))
    got = []
    watch = early.Watch(result, lambda: scrub.Redactor([secret]), got.append)
    watch()
    watch()
    assert len(got) == 1 and secret not in json.dumps(got) and set(got[0]) == set(early.FIELDS)


def test_watch_ignores_what_is_no_verdict(tmp_path):
    result = tmp_path / "result.json"
    got = []
    watch = early.Watch(result, scrub.Redactor, got.append)
    for junk in ("", "{", json.dumps({"verdict": "P0"}), json.dumps({"verdict": {"headline": 3}})):
        result.write_text(junk)
        watch()
    assert got == []
