"""A run's kernel (lib/rovn_ops/run/kernels.py), through `rovn-ops run` as a user runs it:
every run, the second as the first, in the sandbox as in production, launches a fresh
kernel of its own (issue 23, build 3): the runner's child, never a process kept warm
from an earlier run with the library's code as it was then."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import PROBE, ROOT, probe_report, process_alive


def _start(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rovn_ops.cli", "run", str(PROBE), "--quiet", *args],
                            cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})


def _probe(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    return probe_report(out) | {"runner": proc.pid, "stdout": out}


def test_each_run_launches_a_fresh_kernel_of_its_own(sandbox, evidence_dir):
    first = _probe(_start())
    second = _probe(_start(env={"ROVN_PROBE_MARK": "second-run"}))  # where a warm kernel would have served
    for run in (first, second):
        assert run["ppid"] == run["runner"]  # launched by this run's runner, its child
        assert run["sid"] == run["pid"]  # a session of its own: a terminal's Ctrl-C reaches the runner only
        assert run["cwd"] == str(PROBE.parent) and run["run_id"] in run["stdout"]
    assert second["mark"] == "second-run" and first["pid"] != second["pid"]


def test_a_kernel_dies_with_its_runner(sandbox, evidence_dir, tmp_path):
    ready = tmp_path / "kernel.pid"
    proc = _start("-p", "seconds=120", "-p", f"ready_file={ready}")
    deadline = time.monotonic() + 60
    while not (ready.exists() and ready.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    kernel = int(ready.read_text())
    assert Path(f"/proc/{kernel}/stat").read_text().split(")")[1].split()[1] == str(proc.pid)  # its child
    proc.kill()
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while process_alive(kernel) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not process_alive(kernel), "the kernel outlived its runner"
