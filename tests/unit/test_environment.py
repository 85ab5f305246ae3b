"""core/environment finds a running sandbox from the state file its server writes, never
by importing the simulator: core sits below every layer and imports nothing above it
(pyproject.toml's contract "nothing below the command line imports the sandbox" holds
the rule for the whole house; this shows the behaviour that needs no import)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, os, sys
from rovn_ops.core.environment import prepare_environment
prepare_environment("sandbox")
print(json.dumps({"endpoint": os.environ["AWS_ENDPOINT_URL"], "env": os.environ["ROVN_ENV"],
                  "simulator": sorted(m for m in sys.modules if m.startswith("rovn_sandbox"))}))
"""


def _state(tmp_path, pid: int) -> None:
    fields = ("endpoint", "access_key_id", "secret_access_key", "region", "database_url",
              "admin_database_url", "health_url", "sink_url", "github_url", "control_url",
              "migrations_dir", "source_dir")
    local = {f: "http://127.0.0.1:9" for f in fields} | {  # the guard wants loopback addresses
        "database_url": "postgresql://127.0.0.1:9/rovn", "admin_database_url": "postgresql://127.0.0.1:9/rovn",
        "access_key_id": "testing", "secret_access_key": "testing", "region": "us-east-2"}
    (tmp_path / "state.json").write_text(json.dumps(local | {"pid": pid}))


def _probe(tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ROVN_", "DATABASE_URL"))}
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60,
                          env=env | {"ROVN_SANDBOX_DIR": str(tmp_path)})


def test_a_sandbox_run_finds_the_sandbox_without_importing_the_simulator(tmp_path):
    _state(tmp_path, os.getpid())  # alive for as long as the probe runs
    out = _probe(tmp_path)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert found == {"endpoint": "http://127.0.0.1:9", "env": "sandbox", "simulator": []}


def test_no_running_sandbox_is_one_line_naming_the_fix(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _state(tmp_path, dead.pid)  # a state file left by a sandbox that died
    out = _probe(tmp_path)
    assert out.returncode != 0
    assert "the sandbox is not running: start it with `rovn-ops sandbox up`" in out.stderr
