"""`rovn-ops run` as CI and on-call use it: the stdout summaries of a preview, a
success and a failure; `--json`; `-p NAME VALUE`; progress streamed to stderr without
a TTY (a line at least every 1.5 heartbeats through a bake of three: 30 s through a 60 s
bake in CI, compressed here to 3 s through 6 s by ROVN_HEARTBEAT_S); GitHub Actions groups,
annotations and step summary; short run ids; `evidence list --json`; exit codes for
a verdict that needs attention and for prod without credentials."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from rovn_sandbox import control
from tests.conftest import ROOT, rovn_ops

HASH = re.compile(r"plan hash ([0-9a-f]{64})")


def _plain_outputs(notebook: Path) -> list[str]:
    """Every text/plain a cell left as its result."""
    cells = json.loads(notebook.read_text())["cells"]
    return ["".join(o["data"]["text/plain"]) for c in cells for o in c.get("outputs", [])
            if o.get("output_type") == "execute_result" and "text/plain" in o.get("data", {})]


def _assert_plain_text(notebook: Path) -> None:
    for text in _plain_outputs(notebook):
        assert not re.search(r"<[\w.]+ (object )?at 0x|^\w+\(\w+=|b'|IPython\.core\.display", text), text
        assert not re.search(r"[\u2600-\u27bf\U0001f300-\U0001faff]", text), text  # no colour-emoji glyph


def _timed_run(args: list[str], env: dict) -> tuple[int, str, list[tuple[float, str]]]:
    """The CLI in a subprocess with pipes (no TTY): stdout, and each stderr line with
    the time it arrived."""
    proc = subprocess.Popen([sys.executable, "-m", "rovn_ops.cli", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env={**os.environ, **env})
    lines: list[tuple[float, str]] = []
    reader = threading.Thread(target=lambda: lines.extend((time.monotonic(), line.rstrip("\n"))
                                                          for line in proc.stderr))
    reader.start()
    out = proc.stdout.read()
    proc.wait(timeout=600)
    reader.join()
    return proc.returncode, out, lines


def test_preview_then_the_printed_command_then_a_success_summary(fresh, evidence_dir):
    preview = rovn_ops("run", "deploy", "--quiet")
    assert preview.returncode == 0, preview.stderr
    out = preview.stdout.splitlines()
    plan = HASH.search(preview.stdout).group(1)
    command = next(line.strip() for line in out if line.strip().startswith("rovn-ops run deploy"))
    assert command == (f"rovn-ops run deploy --env sandbox -p confirm=true -p approved_by=<approver> "
                       f"-p plan_hash={plan}")
    assert out[0].endswith(": preview") and out[-1].startswith("evidence: ")
    # The printed command, as an operator pastes it (papermill's `-p NAME VALUE` form for one of them).
    args = command.replace("approved_by=<approver>", "approved_by=giles").split()[2:]
    args[args.index("plan_hash=" + plan) - 1:args.index("plan_hash=" + plan) + 1] = ["-p", "plan_hash", plan]
    done = rovn_ops("run", *args, "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "revision: rovn-passport-api:288 → rovn-passport-api:289" in lines
    tag = next(line for line in lines if line.startswith("image: ")).split(" → ")[1]
    assert re.fullmatch(r"prod-\d{14}", tag)
    assert any(re.fullmatch(r"build id: rovn-passport-api-build:[0-9a-f-]{36}", line) for line in lines)
    assert "rollback command: rovn-ops run rollback --env sandbox -p to_revision=rovn-passport-api:288" in lines
    notebook = Path(lines[-1].removeprefix("evidence: "))
    _assert_plain_text(notebook)
    assert "Deployed: rovn-passport-api runs rovn-passport-api:289" in "\n".join(_plain_outputs(notebook))


HEARTBEAT_S = 2.0  # the real 20 s, compressed ten times, as the bake is
BAKE_S = 3 * HEARTBEAT_S  # CI's 60 s bake at that scale: the stream must beat through it


def test_json_streaming_and_github_actions_through_a_long_bake_then_short_run_ids(fresh, evidence_dir, tmp_path):
    summary = tmp_path / "step-summary.md"
    gha = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "ROVN_HEARTBEAT_S": str(HEARTBEAT_S)}
    baking = ["-p", "bake_s", f"{BAKE_S:g}"]
    code, out, _ = _timed_run(["run", "deploy", "--json", *baking], gha)
    preview = json.loads(out)
    assert code == 0 and preview["outcome"] == "preview" and re.fullmatch(r"[0-9a-f]{64}", preview["plan_hash"])
    code, out, err = _timed_run(["run", "deploy", "--json", *baking, "-p", "confirm=true",
                                 "-p", "approved_by", "giles", "-p", f"plan_hash={preview['plan_hash']}"], gha)
    text = [line for _, line in err]
    assert code == 0, "\n".join(text)
    result = json.loads(out)  # stdout is exactly one JSON object
    assert result["outcome"] == "success" and result["exit_code"] == 0
    assert result["plan_hash"] == preview["plan_hash"] and Path(result["evidence"]).is_dir()
    assert result["run_id"] in result["evidence"] and Path(result["notebook"]).is_file()
    assert result["summary"]["revision_to"] == "rovn-passport-api:289"
    assert result["summary"]["build_id"] and result["summary"]["rollback_command"].startswith("rovn-ops run rollback")
    # Progress streamed as it happened: steps grouped, the library's own lines inside.
    assert any(line.startswith("::group::deploy: 5. Execute") for line in text)
    assert text.count("::endgroup::") == sum(line.startswith("::group::") for line in text)
    assert any("update-service: deployment" in line for line in text) and any(" build " in line for line in text)
    bake = [t for t, line in err if "bake" in line]
    start = next(t for t, line in err if "bake: watching" in line)
    end = next(t for t, line in err if line.startswith("::group::deploy: 7."))
    assert end - start >= BAKE_S
    during = [t for t, _ in err if start <= t <= end]
    gap = max(b - a for a, b in zip(during, during[1:]))
    assert gap <= 1.5 * HEARTBEAT_S, f"a silent gap of {gap:.1f} s in the bake (heartbeat {HEARTBEAT_S:g} s)"
    assert any("still running" in line for t, line in err if start <= t <= end)  # the beat, not the library, spoke
    assert len(bake) >= 3
    steps = summary.read_text()
    assert "### deploy: preview" in steps and "### deploy: success" in steps
    assert "| revision | `rovn-passport-api:288 → rovn-passport-api:289` |" in steps
    _short_run_ids_and_evidence_list_json("deploy")  # these two runs serve it: no other deploy's kernels


def test_failure_summary_annotation_region_and_exit_code(fresh, evidence_dir, tmp_path):
    summary = tmp_path / "step-summary.md"
    res = rovn_ops("run", "service_status", "--quiet", "--region", "us-east-2", "-p", "service", "missing",
                   env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert res.returncode == 1
    lines = res.stdout.splitlines()
    assert lines[1] == "reason: service 'missing' not found in cluster 'rovn-prod' (sandbox, us-east-2)"
    assert lines[2].startswith("next: ")
    assert re.search(r"^::error title=service_status failed::service .missing. not found", res.stderr, re.M)
    assert "### service_status: failed (exit 1)" in summary.read_text()
    m = json.loads(rovn_ops("evidence", "show", lines[0].split()[1].rstrip(":")[-6:]).stdout)
    assert m["parameters"]["region"] == "us-east-2" and m["parameters"]["service"] == "missing"
    elsewhere = rovn_ops("run", "service_status", "--region", "eu-west-1")  # --region is the region parameter
    assert elsewhere.returncode == 2 and "parameter 'region'" in elsewhere.stderr


def test_service_status_needing_attention_exits_4(fresh, evidence_dir):
    control.scenario(fresh, "health_down")
    res = rovn_ops("run", "service_status", "--quiet", "--json")
    out = json.loads(res.stdout)
    assert res.returncode == 4 and out["exit_code"] == 4 and out["outcome"] == "attention"
    assert "/health failed: HTTP 503" in out["error"] and out["summary"]["verdict"] == "needs attention"
    assert out["next_step"].startswith("rovn-ops run incident_triage")  # the verdict's own next command
    _assert_plain_text(Path(out["notebook"]))
    control.scenario(fresh, "health_down", on=False)
    ok = rovn_ops("run", "service_status", "--quiet")
    assert ok.returncode == 0 and "verdict: healthy" in ok.stdout


def _short_run_ids_and_evidence_list_json(runbook: str) -> None:
    """`evidence list --json` of a preview and the confirmed run of its plan; a run id's
    suffix names one run, and a part that matches both is refused."""
    runs = json.loads(rovn_ops("evidence", "list", "--json").stdout)
    done = next(r for r in runs if r["outcome"] == "success")
    assert done["approvers"] == ["giles"] and re.fullmatch(r"[0-9a-f]{64}", done["plan_hash"])
    assert done["targets"] and done["environment"] == "sandbox" and done["audit_log_ids"]
    preview = next(r for r in runs if r["outcome"] == "preview")
    assert preview["plan_hash"] == done["plan_hash"]  # the preview's plan is what was approved
    suffix = done["run_id"].rsplit("-", 1)[1]
    shown = rovn_ops("evidence", "show", suffix)
    assert shown.returncode == 0 and json.loads(shown.stdout)["run_id"] == done["run_id"]
    both = rovn_ops("evidence", "show", runbook)
    assert both.returncode == 2 and "2 runs match" in both.stderr and len(both.stderr.splitlines()) == 1


def test_list_one_runbook_and_bad_flags():
    listed = rovn_ops("list", "deploy")
    assert listed.returncode == 0
    row = next(line for line in listed.stdout.splitlines() if line.startswith("bake_s "))
    assert "300" in row and " 1 " in row  # the notebook's default and the sandbox's value
    assert rovn_ops("list", "nope").returncode == 2
    dangling = rovn_ops("run", "service_status", "-p", "events")
    assert dangling.returncode == 2 and "expected NAME VALUE or NAME=VALUE" in dangling.stderr
    sandbox_profile = rovn_ops("run", "service_status", "--profile", "ops")
    assert sandbox_profile.returncode == 2 and "--profile: only with --env prod" in sandbox_profile.stderr


def test_prod_without_credentials_says_to_log_in(tmp_path):
    sandbox = control.exports(control.require())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ROVN_")) and k not in sandbox}
    env |= {"AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_EC2_METADATA_DISABLED": "true", "ROVN_EVIDENCE_DIR": str(tmp_path / "evidence")}
    for extra in ([], ["--profile", "ops"]):
        res = subprocess.run([sys.executable, "-m", "rovn_ops.cli", "run", "service_status", "--env", "prod", *extra],
                             capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1, res.stderr
        assert "log in" in lines[0] and "AWS_PROFILE" in lines[0] and "NoCredentialsError" not in lines[0]
    assert not (tmp_path / "evidence").exists()


def test_streamed_progress_never_carries_a_secret(fresh, aws, evidence_dir):
    """The kernel's lines reach a CI log live, where nothing scrubs them afterwards: a
    value the run read from Secrets Manager is redacted as it streams."""
    import secrets

    canary = "canary-" + secrets.token_hex(16)
    aws("secretsmanager").create_secret(Name="rovn/sandbox/canary", SecretString=canary)
    res = rovn_ops("run", str(ROOT / "tests/fixtures/secret_probe.ipynb"), "-p", "marker=planted-1234",
                   "-p", f"note={canary}")
    assert res.returncode == 1
    assert "marker: planted-1234 | note: [REDACTED]" in res.stderr  # the line streamed, redacted
    assert canary not in res.stderr and canary not in res.stdout


def test_a_bad_heartbeat_setting_is_bad_input_before_anything_runs(evidence_dir):
    """ROVN_HEARTBEAT_S compresses the stream's beat; junk, zero, or longer than the 20 s
    default (which would let a quiet step trip CI's 30 s no-output timeout) is one line,
    exit 2, and no run: nothing spooled, nothing archived."""
    for junk in ("abc", "0", "nan", "21"):  # the unit test tries the rest
        res = rovn_ops("run", "service_status", env={"ROVN_HEARTBEAT_S": junk})
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1, (junk, res.stderr)
        assert "ROVN_HEARTBEAT_S" in lines[0] and "expected seconds from 0.1 to 20" in lines[0], lines[0]
    assert not evidence_dir.exists() or not [p for p in evidence_dir.rglob("*") if p.is_file()]
