"""What `rovn-ops run` says at the end (stdout lines, JSON, GitHub step summary), the
progress stream, `-p NAME VALUE`, short run ids, plain-text reprs, and parameters
resolved the same way in JupyterLab as by `rovn-ops run`."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from rovn_ops import cli
from rovn_ops.safety import params
from rovn_ops.core import plaintext
from rovn_ops.run import heartbeat, progress
from rovn_ops.evidence import report
from rovn_ops.protocol.checks import Checks
from rovn_ops.core.errors import BadInput
from rovn_ops.evidence import manifest
from rovn_ops.protocol.change import Approval, Plan

DEPLOYED = {"run_id": "20261127T080000Z-deploy-a1b2c3", "runbook": "deploy", "outcome": "success",
            "plan_hash": None, "error": "", "files": [{"kind": "html", "path": "deploy.html"}],
            "summary": {"revision_from": "rovn-passport-api:288", "revision_to": "rovn-passport-api:289",
                        "image_from": "prod-202605270526-ai-competitive-fix", "image_to": "prod-20261127080000",
                        "build_id": "rovn-passport-api-build:1f2e", "migrations": [],
                        "rollback_command": "rovn-ops run rollback --env sandbox -p to_revision=rovn-passport-api:288"}}


def told(m: dict, code: int = 0) -> report.Report:
    d = Path("/evidence/2026-11-27") / m["run_id"]
    return report.Report.of(m, code, d, d / f"{m['runbook']}.ipynb")


def test_success_lines_name_revision_image_build_and_rollback():
    lines = told(DEPLOYED).lines()
    assert "revision: rovn-passport-api:288 → rovn-passport-api:289" in lines
    assert "image: prod-202605270526-ai-competitive-fix → prod-20261127080000" in lines
    assert "build id: rovn-passport-api-build:1f2e" in lines
    assert "rollback command: rovn-ops run rollback --env sandbox -p to_revision=rovn-passport-api:288" in lines
    assert not any(line.startswith("migrations") for line in lines)  # empty fields are left out


def test_failure_is_one_reason_and_one_next_step():
    m = {**DEPLOYED, "outcome": "failed", "summary": {},
         "error": "DeployFailed: deploy FAILED: rollout failed: tasks failed. Next: the service is back on "
                  "rovn-passport-api:288\n  more detail"}
    r = told(m, 1)
    assert r.lines() == ["reason: DeployFailed: deploy FAILED: rollout failed: tasks failed.",
                         "next: the service is back on rovn-passport-api:288"]
    plain = told({**m, "error": "RovnError: service 'x' not found"}, 1)
    assert plain.next_step == report.NEXT_BY_OUTCOME["failed"]


def test_preview_prints_hash_and_confirm_command():
    m = {**DEPLOYED, "outcome": "preview", "plan_hash": "ab" * 32, "summary": {"plan": ["image a → b"]},
         "confirm_command": "rovn-ops run deploy --env sandbox -p confirm=true -p approved_by=<approver> "
                            f"-p plan_hash={'ab' * 32}"}
    lines = told(m).lines()
    assert lines[0].endswith("plan hash " + "ab" * 32)
    assert lines[2] == "  " + m["confirm_command"]


def test_json_and_step_summary(tmp_path, monkeypatch, capsys):
    r = told({**DEPLOYED, "outcome": "attention", "summary": {"problems": ["/health failed: HTTP 503"]}}, 4)
    d = r.as_dict()
    assert d["exit_code"] == 4 and d["error"] == "/health failed: HTTP 503" and d["next_step"]
    assert json.loads(json.dumps(d))["evidence"].endswith(DEPLOYED["run_id"])
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    report.github(r)
    err = capsys.readouterr().err
    assert err.startswith("::error title=deploy attention::/health failed%3A HTTP 503".replace("%3A", ":"))
    md = (tmp_path / "summary.md").read_text()
    assert md.startswith("### deploy: attention (exit 4)") and "| reason | /health failed: HTTP 503 |" in md


def test_workflow_command_escaping():
    assert report.escape("50%\nnext") == "50%25%0Anext"
    assert report.escape("a: b, c", prop=True) == "a%3A b%2C c"


@pytest.mark.parametrize("argv, expected", [
    (["run", "x", "-p", "events", "5"], ["run", "x", "-p", "events=5"]),
    (["run", "x", "-p", "events=5", "--quiet"], ["run", "x", "-p", "events=5", "--quiet"]),
    (["run", "x", "-p", "set_env", "A=1", "-p", "b", "2"], ["run", "x", "-p", "set_env=A=1", "-p", "b=2"]),
    (["run", "x", "--parameters", "events", "5"], ["run", "x", "--parameters", "events=5"]),
])
def test_p_name_value_as_papermill_takes_it(argv, expected):
    assert cli.pair_parameters(argv) == expected


def test_p_without_a_value_is_bad_input():
    with pytest.raises(BadInput, match="expected NAME VALUE or NAME=VALUE"):
        cli.pair_parameters(["run", "x", "-p", "events"])
    with pytest.raises(BadInput, match="expected NAME VALUE or NAME=VALUE"):
        cli.pair_parameters(["run", "x", "-p", "--quiet", "events"])


def _run_dir(root: Path, run_id: str) -> None:
    d = root / "2026-11-27" / run_id
    d.mkdir(parents=True)
    (d / "manifest.json").write_text(json.dumps({"run_id": run_id, "started_at": run_id[:16], "outcome": "success",
                                                 "approvals": [{"approvers": ["giles"], "plan_hash": "f" * 64}],
                                                 "targets": ["rovn-passport-api"]}))


def test_a_unique_part_of_a_run_id_finds_the_run(tmp_path):
    for rid in ("20261127T080000Z-deploy-d85dd1", "20261127T080100Z-deploy-d85e00", "20261127T080200Z-rollback-0a0a0a"):
        _run_dir(tmp_path, rid)
    assert manifest.find("d85dd1", tmp_path)["run_id"] == "20261127T080000Z-deploy-d85dd1"
    assert manifest.find("rollback", tmp_path)["run_id"].endswith("0a0a0a")
    with pytest.raises(BadInput, match="2 runs match"):
        manifest.find("d85", tmp_path)
    with pytest.raises(BadInput, match="no run id"):
        manifest.find("zzz", tmp_path)
    listed = manifest.listing(manifest.find("d85dd1", tmp_path))
    assert listed["approvers"] == ["giles"] and listed["plan_hash"] == "f" * 64
    assert listed["targets"] == ["rovn-passport-api"] and listed["outcome"] == "success"


@pytest.mark.parametrize("junk", ["abc", "0", "0.01", "-1", "nan", "inf", "-inf", "20.5", "1e9", "2 s"])
def test_a_heartbeat_setting_outside_0_1_to_20_s_is_bad_input(monkeypatch, junk):
    monkeypatch.setenv(heartbeat.ENV, junk)
    with pytest.raises(BadInput, match=r"ROVN_HEARTBEAT_S=.*expected seconds from 0\.1 to 20"):
        heartbeat.interval()


def test_the_heartbeat_is_20_s_unless_set_shorter(monkeypatch):
    monkeypatch.delenv(heartbeat.ENV, raising=False)
    assert heartbeat.interval() == 20.0 < 30  # under CI's no-output timeout
    monkeypatch.setenv(heartbeat.ENV, " 2.5 ")
    assert heartbeat.interval() == 2.5


def test_progress_frames_steps_and_beats_when_quiet():
    out = io.StringIO()
    p = progress.Progress("deploy", out, github=True, heartbeat_s=0.2)
    cells = [{"cell_type": "markdown", "source": "# Deploy"},
             {"cell_type": "code", "source": "x", "metadata": {"tags": ["parameters"]}},
             {"cell_type": "markdown", "source": "## 5. Execute\nmore"},
             {"cell_type": "code", "source": "y", "metadata": {}},
             {"cell_type": "code", "source": "z", "metadata": {}}]
    assert progress.step_titles(cells) == {1: "parameters", 3: "5. Execute", 4: "5. Execute"}

    class Manager:  # papermill's NotebookExecutionManager, as far as Progress uses it
        nb = type("NB", (), {"cells": cells})()

        def cell_start(self, cell, cell_index=None, **kw):
            pass

        def cell_complete(self, cell, cell_index=None, **kw):
            pass

    m = Manager()
    p.attach(m)
    for i in (1, 3):
        m.cell_start(cells[i], i)
    p.write("  build 1f2e  0.1s  BUILD  IN_PROGRESS\n")
    import time

    time.sleep(0.7)
    m.cell_start(cells[4], 4)  # same step: no new group
    p.close()
    text = out.getvalue()
    assert text.count("::group::") == 1 and text.count("::endgroup::") == 1
    assert "::group::deploy: 5. Execute\n  build 1f2e" in text
    assert "5. Execute: still running" in text


def test_plain_text_forms_are_short_and_not_dumps():
    checks = Checks()
    checks.add("identity on deployers", None, "claude-deploy", "§10")
    checks.add("source: non-root USER", ["final stage runs as root"], rule="§9")
    plan = Plan("deploy", "rovn-passport-api", {"x": 1}, ("image a → b",))
    for obj in (checks, plan, Approval(False, "ab"), plaintext.Note("### Deployed: `svc`\n\nrun id: `r`")):
        text = repr(obj)
        assert not re.search(r"^\w+\(\w+=|<\w+.* at 0x|b'", text), text
        assert "```" not in text and "`" not in text
    assert "FAIL  source: non-root USER" in repr(checks)
    assert "✅" not in checks._repr_markdown_() and "**FAIL**" in checks._repr_markdown_()


def test_notebook_values_resolve_as_the_cli_does(tmp_path, monkeypatch):
    """JupyterLab leaves bake_s at its default: the environment file's value applies,
    exactly as `rovn-ops run` gives it; a value the operator changed wins."""
    model = params.DeployParams
    defaults = {n: f.get_default(call_default_factory=True) for n, f in model.model_fields.items()}
    monkeypatch.delenv(params.PARAMETER_FILES, raising=False)
    as_cell = params.resolve_notebook("deploy", dict(defaults))
    assert as_cell.model_dump() == params.resolve("deploy", "sandbox").model_dump()
    assert as_cell.bake_s == 1 and as_cell.poll_min == 0.05  # parameters/sandbox.yaml, not the notebook's 300 / 5
    preset = tmp_path / "preset.yaml"
    preset.write_text("bake_s: 7\npoll_max: 2\n")
    monkeypatch.setenv(params.PARAMETER_FILES, str(preset))
    edited = params.resolve_notebook("deploy", {**defaults, "poll_max": 9})
    assert edited.bake_s == 7 and edited.poll_max == 9
    assert edited.model_dump() == params.resolve("deploy", "sandbox", [str(preset)], ["poll_max=9"]).model_dump()


def test_no_colour_emoji_anywhere_a_page_or_terminal_shows():
    """A stock Chromium (and many terminals) has no colour-emoji font: such a glyph is
    an empty box in the auditor's page. Words and CSS badges instead."""
    emoji = re.compile("[\u2600-\u27bf\u2b00-\u2bff\ufe0f\U0001f000-\U0001faff]")
    root = Path(__file__).resolve().parents[2]
    found = [f"{p.relative_to(root)}:{n}" for p in [*root.glob("lib/rovn_ops/**/*.py"), *root.glob("runbooks/*.ipynb")]
             for n, line in enumerate(p.read_text().splitlines(), 1) if emoji.search(line)]
    assert not found, found
