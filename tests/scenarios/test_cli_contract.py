"""Issue 28: the command line as its users' habits expect, through the real CLI (a
subprocess; every command runs in its own process, there is no fork-server relay).

- `--json`: every exit, bad input included, is one JSON object (exit_code, outcome,
  error, next); refusals name the one thing to do next.
- Parameters as typed as they look: Fargate's cpu/memory pairs (AWS's table:
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size),
  a flag where a value belongs, the types `list` shows are the ones enforced.
- No dead ends: `make demo` twice on one sandbox, `rovn-ops lab` stopped by SIGTERM.
- Help where people look: --version, `list | head`, `run --help`, scenarios, ISO times.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rovn_ops.run import catalog
from rovn_ops.safety import params
from rovn_sandbox import control, scenarios
from tests.conftest import ROOT, process_alive, rovn_ops



def _cli(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return rovn_ops(*args, env=env or {}, **kw)


def _one_object(res: subprocess.CompletedProcess) -> dict:
    """stdout is exactly one JSON object with the contract's keys; its error is one line (the
    line on stderr, when the command stopped before any run)."""
    obj = json.loads(res.stdout)
    assert isinstance(obj, dict) and {"exit_code", "outcome", "error", "next"} <= obj.keys(), obj
    assert obj["exit_code"] == res.returncode
    if obj["error"]:
        assert "\n" not in obj["error"] and not obj["error"].startswith(("Refused:", "BadInput:", "RovnError:"))
        assert "run_id" in obj or obj["error"] in res.stderr, (obj, res.stderr)
    return obj


# ----------------------------------------------------------------- outcomes a machine reads

@pytest.mark.parametrize("args, says", [
    (["run", "deploy", "-p", "imagetag=x"], "parameter 'imagetag' (-p): unknown"),
    (["run", "--json"], "the following arguments are required: runbook"),
    (["run", "nope"], "runbook 'nope'"),
    (["run", "deploy", "-p", "image_tag", "--quiet"], "-p image_tag --quiet: --quiet is a flag"),
    (["run", "deploy", "-p", "memory=-5"], "parameter 'memory': expected Fargate task memory"),
    (["run", "deploy", "--env", "nowhere"], "invalid choice: 'nowhere'"),
])
def test_json_bad_input_is_one_object(args, says):
    res = _cli(*args, "--json")
    assert res.returncode == 2, res.stdout + res.stderr
    obj = _one_object(res)
    assert obj["outcome"] == "bad_input" and says in obj["error"] and obj["next"]
    assert "Traceback" not in res.stderr


def test_json_preview_and_refusal_say_what_next(fresh, evidence_dir):
    preview = _one_object(rovn_ops("run", "deploy", "--quiet", "--json"))
    assert preview["outcome"] == "preview" and preview["exit_code"] == 0 and preview["error"] is None
    assert preview["next"] == preview["confirm_command"] and preview["plan_hash"] in preview["next"]
    # a wrong approver: the plan hash is still good, so the next step is another approver, not a preview
    res = rovn_ops("run", "deploy", "--quiet", "--json", "-p", "confirm=true", "-p", "approved_by=mallory",
                   "-p", f"plan_hash={preview['plan_hash']}")
    refused = _one_object(res)
    assert res.returncode == 3 and refused["outcome"] == "refused"
    assert "mallory is not on the approvers list" in refused["error"]
    assert refused["next"].startswith("the plan hash is still valid: re-run the same command with "
                                      "-p approved_by=<one of ") and "christian" in refused["next"]
    assert "preview again" not in refused["next"]


def test_a_refused_preview_posts_nothing_to_slack(fresh, evidence_dir):
    res = rovn_ops("run", "deploy", "--quiet", "-p", "deployers=giles")
    assert res.returncode == 3 and "parameter 'deployers'" in res.stdout, res.stdout + res.stderr
    assert [p for p in control.posts(fresh) if p["channel"] == "slack"] == []


def test_a_refused_confirmed_run_posts_nothing_to_slack(fresh, evidence_dir):
    """The overview asks Slack for alarms, incidents and rotations (§5, §6, §8), not refusals:
    a confirmed run refused (here: an approver not on the list) is in audit_log, not Slack."""
    preview = _one_object(rovn_ops("run", "deploy", "--quiet", "--json"))
    res = rovn_ops("run", "deploy", "--quiet", "-p", "confirm=true", "-p", "approved_by=mallory",
                   "-p", f"plan_hash={preview['plan_hash']}")
    assert res.returncode == 3 and "mallory is not on the approvers list" in res.stdout, res.stdout + res.stderr
    assert [p for p in control.posts(fresh) if p["channel"] == "slack"] == []


def test_secrets_audit_overdue_is_attention_with_ready_commands(fresh, evidence_dir):
    res = rovn_ops("run", "secrets_audit", "--quiet")
    assert res.returncode == 4, res.stdout + res.stderr
    assert res.stdout.splitlines()[0].endswith(": attention")
    for name in ("rovn/prod/stripe-api-key", "rovn/prod/jwt-signing-key"):
        assert f"  rovn-ops run secret_rotation --env sandbox -p secret={name}\n" in res.stdout
    assert "RovnError" not in res.stdout + res.stderr and "service_status" not in res.stdout
    assert "next: rotate each overdue secret" in res.stdout


def test_bad_input_lists_the_valid_values(fresh, evidence_dir):
    """An unknown secret (found in the kernel: only Secrets Manager knows the names) and a
    source that is not there (found before the kernel) each name what would do."""
    res = rovn_ops("run", "secret_rotation", "-p", "secret=rovn/prod/nope", "--quiet")
    assert res.returncode != 0 and "expected one of: " in res.stdout + res.stderr, res.stdout + res.stderr
    assert "rovn/prod/db-master" in res.stdout + res.stderr and "rovn/prod/jwt-signing-key" in res.stdout + res.stderr
    res = rovn_ops("run", "deploy", "-p", "source=/nonexistent", "--quiet")
    assert res.returncode == 2 and "expected a git checkout (its work tree's root) or a .zip file, got '/nonexistent'; the environment's is " in res.stderr
    # any other directory too (attack review MEDIUM 6: /etc was scanned and its secret-looking
    # lines' file:line archived), before a kernel starts
    res = rovn_ops("run", "deploy", "-p", "source=/etc", "--quiet")
    assert res.returncode == 2 and "parameter 'source': expected a git checkout" in res.stderr, res.stdout + res.stderr
    assert not list(evidence_dir.rglob("*deploy*/manifest.json"))


def test_a_preview_streams_no_execute_or_verify_heading(fresh, evidence_dir):
    res = rovn_ops("run", "deploy")
    assert res.returncode == 0, res.stderr
    assert "3. Preview" in res.stderr and "Outcome" in res.stderr
    assert not re.search(r"\] \d+\. (Confirm|Execute|Verify)", res.stderr), res.stderr


# ----------------------------------------------------------------- parameters as typed as they look

@pytest.mark.parametrize("args, says", [
    (["-p", "cpu=lots"], "parameter 'cpu': expected Fargate task cpu units, one of 256, 512, 1024"),
    (["-p", "memory=-5"], "parameter 'memory': expected Fargate task memory in MiB"),
    (["-p", "cpu=256", "-p", "memory=4096"], "cpu 256 takes memory 512, 1024, 2048 (MiB)"),
    (["-p", "bake_s=soon"], "parameter 'bake_s': expected a valid number"),
])
def test_deploy_sizes_and_numbers_are_checked_before_anything_runs(args, says, evidence_dir):
    res = rovn_ops("run", "deploy", *args)
    assert res.returncode == 2 and says in res.stderr, res.stderr
    assert not evidence_dir.exists() or not list(evidence_dir.rglob("manifest.json"))


def test_the_types_list_shows_are_the_types_enforced():
    for name, model in params.MODELS.items():
        listed = rovn_ops("list", name)
        assert listed.returncode == 0, listed.stderr
        rows = {line.split()[0]: line.split()[1] for line in listed.stdout.splitlines()[3:] if line[:1].isalpha()
                and not line.startswith("Precedence")}
        for param, shown in rows.items():
            assert shown == catalog.type_name(model, param), (name, param, shown)
    deploy = rovn_ops("list", "deploy").stdout
    assert re.search(r"^poll_min\s+float\s", deploy, re.M) and re.search(r"^bake_s\s+float\s", deploy, re.M)
    # an int shown is an int enforced
    res = rovn_ops("run", "service_status", "-p", "events=1.5")
    assert res.returncode == 2 and "parameter 'events': expected a valid integer" in res.stderr, res.stderr


def test_approved_by_one_convention_the_other_accepted_with_a_hint(fresh):
    res = rovn_ops("migrations", "apply", "--approved-by", "CLAUDE-DEPLOY")
    assert "hint: --approved-by CLAUDE-DEPLOY is taken as -p approved_by=CLAUDE-DEPLOY" in res.stderr
    assert res.returncode == 3 and "CLAUDE-DEPLOY is the operator" in res.stderr
    empty = rovn_ops("migrations", "apply", "--approved-by", "")  # an attack review's case: it exited 0
    assert empty.returncode == 2 and "approved_by expects one or more approvers" in empty.stderr, empty.stderr
    same = rovn_ops("migrations", "apply", "-p", "approved_by=CLAUDE-DEPLOY")
    assert same.returncode == 3 and "CLAUDE-DEPLOY is the operator" in same.stderr and "hint" not in same.stderr
    other = rovn_ops("migrations", "apply", "-p", "confirm=true")
    assert other.returncode == 2 and "migrations apply takes only -p approved_by=A,B" in other.stderr


# ----------------------------------------------------------------- no dead ends, no orphans

def _jupyter_lab_pids(runbooks: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"--notebook-dir={runbooks}".encode() in cmd and process_alive(int(proc.name)):
            found.append(int(proc.name))
    return found


def test_sigterm_to_lab_stops_jupyterlab(tmp_path):
    runbooks = ROOT / "runbooks"
    assert not _jupyter_lab_pids(runbooks), "a JupyterLab is already running on runbooks/"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
           "BROWSER": "true"}
    lab = subprocess.Popen([sys.executable, "-m", "rovn_ops.cli", "lab"], cwd=ROOT, env=env, text=True,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(lab.stdout), daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        while not any("http://127.0.0.1:" in line for line in lines) and time.monotonic() < deadline:
            assert lab.poll() is None, "".join(lines)
            time.sleep(0.2)
        pids = _jupyter_lab_pids(runbooks)
        assert pids, "JupyterLab never started: " + "".join(lines)
        lab.send_signal(signal.SIGTERM)
        lab.wait(timeout=60)
        deadline = time.monotonic() + 10
        while any(process_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(process_alive(p) for p in pids), "JupyterLab orphaned"
    finally:
        if lab.poll() is None:
            lab.kill()
        for pid in _jupyter_lab_pids(runbooks):
            os.kill(pid, signal.SIGKILL)


def test_the_makefile_sets_the_runtime_dir_pgserver_needs():
    line = next(line for line in (ROOT / "Makefile").read_text().splitlines() if "pgserver" in line and "-c" in line)
    command = line.strip().replace("$(BIN)", str(ROOT / ".venv/bin"))
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    res = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0 and "RuntimeDirWarning" not in res.stderr, res.stderr


# ----------------------------------------------------------------- help as people look for it

def test_version_and_list_into_head():
    from rovn_ops import __version__

    version = _cli("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"rovn-ops {__version__}"
    env = dict(os.environ)
    piped = subprocess.run(f"{sys.executable} -m rovn_ops.cli list | head -1", shell=True, cwd=ROOT, env=env,
                           capture_output=True, text=True)
    assert piped.returncode == 0 and piped.stdout.startswith("deploy ") and piped.stderr == "", piped.stderr


def test_list_is_an_index_and_run_help_names_runbooks_and_exit_codes():
    listed = rovn_ops("list")
    names = sorted(params.MODELS)
    lines = [line for line in listed.stdout.splitlines() if line and not line.startswith("rovn-ops list")]
    assert [line.split()[0] for line in lines] == names
    assert "service_status  " in listed.stdout and "Service status" in listed.stdout
    helped = rovn_ops("run", "--help")
    assert helped.returncode == 0 and all(n in helped.stdout for n in names)
    for code in ("0  success", "1  the runbook failed", "2  bad input", "3  refused", "4  completed"):
        assert code in helped.stdout


def test_scenarios_help_table_and_unknown(fresh):
    helped = rovn_ops("sandbox", "scenario", "--help")
    assert "the scenario, e.g. bad_deploy" in helped.stdout and "switch the named scenario off" in helped.stdout
    control.scenario(fresh, "bad_deploy")
    table = rovn_ops("sandbox", "scenario")
    assert table.returncode == 0 and "\\u2192" not in table.stdout and "{" not in table.stdout
    rows = {line.split()[1]: line.split()[0] for line in table.stdout.splitlines()[:len(scenarios.KNOWN)]}
    assert rows.keys() == scenarios.KNOWN.keys() and rows["bad_deploy"] == "on" and rows["quiet"] == "off"
    assert "INSUFFICIENT_DATA → ALARM" in table.stdout
    unknown = rovn_ops("sandbox", "scenario", "bad_deplyo")
    assert unknown.returncode == 2 and "scenario 'bad_deplyo': unknown; expected one of: " in unknown.stderr
    assert "bad_deploy" in unknown.stderr and "Traceback" not in unknown.stderr


def test_sandbox_status_times_are_iso_8601():
    res = rovn_ops("sandbox", "status")
    times = dict(re.findall(r"^\s*(started_at|world_since): (\S+)$", res.stdout, re.M))
    assert times.keys() == {"started_at", "world_since"}, res.stdout
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", t) for t in times.values()), times


def test_evidence_list_shows_the_mode(fresh, evidence_dir, tmp_path):
    draft = tmp_path / "draft.ipynb"
    draft.write_text((ROOT / "runbooks/service_status.ipynb").read_text())
    assert rovn_ops("run", "service_status", "--quiet").returncode == 0
    assert rovn_ops("run", str(draft), "--quiet").returncode in (0, 4)
    listed = rovn_ops("evidence", "list").stdout.splitlines()
    assert re.search(r"\s(success|attention)\s+headless\s+service_status\s", listed[0]), listed
    assert re.search(r"\sdraft\s+(draft|service_status)\s", listed[1]), listed
    modes = [r["mode"] for r in json.loads(rovn_ops("evidence", "list", "--json").stdout)]
    assert modes == ["headless", "draft"]
