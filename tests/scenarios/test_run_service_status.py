"""`rovn-ops run service_status` end to end: real papermill kernel, sandbox, evidence."""
import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, rovn_ops


def _manifests(evidence: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in evidence.glob("*/*/manifest.json")]


def _outputs(notebook: Path) -> str:
    nb = json.loads(notebook.read_text())
    return json.dumps([c.get("outputs", []) for c in nb["cells"] if c["cell_type"] == "code"])


def test_success_archives_the_executed_notebook_with_a_manifest(fresh, evidence_dir):
    res = rovn_ops("run", "service_status", "--quiet", "-p", "events=3")
    assert res.returncode == 0, res.stderr
    [m] = _manifests(evidence_dir)
    nb = Path(m["notebook"]["path"])
    assert res.stdout.strip().splitlines()[-1] == f"evidence: {nb}"
    assert m["outcome"] == "success" and m["runbook"] == "service_status" and m["mode"] == "headless"
    assert m["parameters"]["events"] == 3 and m["parameters"]["env"] == "sandbox"
    assert m["operator"]["arn"].endswith(":user/claude-deploy")
    assert m["started_at"] < m["ended_at"]
    assert m["notebook"]["sha256"] == hashlib.sha256(nb.read_bytes()).hexdigest()
    assert m["source"]["sha256"] == hashlib.sha256((ROOT / "runbooks/service_status.ipynb").read_bytes()).hexdigest()
    assert m["run_id"] in nb.parent.name
    out = _outputs(nb)
    assert "rovn-passport-api:288" in out and "prod-202605270526-ai-competitive-fix" in out
    assert "rovn/prod/db-master" in out  # secret references by name …
    assert fresh["secret_access_key"] not in nb.read_text()  # … and no credential


@pytest.mark.parametrize("args, names", [
    (["-p", "nope=1"], "'nope'"),
    (["-p", "events=abc"], "'events'"),
    (["-f", "missing.yaml"], "missing.yaml"),
    (["-p", "env=prod"], "'env'"),
])
def test_bad_input_exits_2_with_one_line_and_no_evidence(fresh, evidence_dir, args, names):
    res = rovn_ops("run", "service_status", *args)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and names in lines[0] and "Traceback" not in res.stderr
    assert not evidence_dir.exists() or not any(evidence_dir.rglob("*"))


def test_unknown_runbook_exits_2(evidence_dir):
    res = rovn_ops("run", "nope")
    assert res.returncode == 2 and "runbook 'nope'" in res.stderr


def test_prod_refused_while_sandbox_endpoints_are_set(fresh, evidence_dir):
    res = rovn_ops("run", "service_status", "--env", "prod")
    assert res.returncode == 2
    assert "--env prod refused: AWS_ENDPOINT_URL" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not evidence_dir.exists()


def test_failed_runbook_exits_1_and_keeps_its_evidence(fresh, evidence_dir):
    res = rovn_ops("run", "service_status", "--quiet", "-p", "service=no-such-service")
    assert res.returncode == 1
    [m] = _manifests(evidence_dir)
    assert m["outcome"] == "failed" and "no-such-service" in m["error"]
    assert "not found in cluster" in _outputs(Path(m["notebook"]["path"]))


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C"])
def test_a_stop_mid_cell_interrupts_it_now_and_archives_what_ran_as_interrupted(fresh, evidence_dir, tmp_path, how):
    """SIGTERM, or Ctrl-C (SIGINT to the terminal's process group), stops the cell in
    flight at once (it would sleep ten minutes) rather than waiting for it to end."""
    import os
    probe, ready = str(ROOT / "tests/fixtures/slow_probe.ipynb"), tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-m", "rovn_ops.cli", "run", probe, "--quiet", "-p", f"ready_file={ready}",
                             "-p", "seconds=600"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ.copy(), start_new_session=True)
    deadline = time.monotonic() + 120
    while not ready.exists():  # the kernel is in its long cell
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.poll() else "timeout"
        time.sleep(0.05)
    time.sleep(0.5)
    if how == "SIGTERM":
        proc.send_signal(signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    [m] = _manifests(evidence_dir)
    assert m["outcome"] == "interrupted" and m["error"] == f"interrupted by {'SIGTERM' if how == 'SIGTERM' else 'SIGINT'}"
    cells = json.loads(Path(m["notebook"]["path"]).read_text())["cells"]
    printed = json.dumps([c.get("outputs", []) for c in cells])
    assert "started the long step" in printed and "all done" not in printed
    assert (Path(m["notebook"]["path"]).parent / "signature.json").exists()
    assert "Traceback" not in err


def test_list_shows_parameters_with_help():
    res = rovn_ops("list", "service_status")
    assert res.returncode == 0
    assert "service_status: Service status" in res.stdout
    assert "events" in res.stdout and "how many recent service events to show" in res.stdout


def test_audit_verify_and_sandbox_env(fresh):
    assert rovn_ops("audit", "verify").returncode == 0
    env = rovn_ops("sandbox", "env").stdout
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_DEFAULT_REGION", "DATABASE_URL",
                 "ROVN_HEALTH_URL", "ROVN_SINK_URL"):
        assert f"export {name}=" in env
