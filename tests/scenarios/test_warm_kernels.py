"""Warm kernels (lib/rovn_ops/warm_kernels.py), through `rovn-ops run` as a user runs it:
the first run launches its kernel and starts the fork server; the next one gets a
forked kernel that is, to its notebook, the kernel the run would have launched."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import PROBE, ROOT, private_servers, probe_report, process_alive


@pytest.fixture(scope="module")
def servers(sandbox):
    """Private servers for this module's tests, started by its first test, stopped after
    its last. _start runs commands in-process: the runner is the process it starts."""
    with private_servers("rk-", ROVN_WARM_KERNELS=None) as kernels:
        yield kernels


def _start(*args: str, **env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rovn_ops.cli", "run", str(PROBE), "--quiet", *args],
                            cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **env})


def _probe(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    return probe_report(out) | {"runner": proc.pid, "stdout": out}


def _server(kernels: Path, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        socks = list(kernels.glob("warm_kernels-*.sock"))
        if socks:
            return int(Path(f"{socks[0]}.lock").read_text())
        time.sleep(0.2)
    raise AssertionError("no warm-kernel server started")


def _ensure_server(kernels: Path) -> int:
    """The module's server, started by a run if no test has yet."""
    if not list(kernels.glob("warm_kernels-*.sock")):
        _probe(_start())
    return _server(kernels)


def test_the_next_run_gets_a_forked_kernel_with_its_own_run_environment(runtime):
    cold = _probe(_start())
    assert cold["ppid"] == cold["runner"]  # launched by the runner, as always
    server = _server(runtime)
    warm = _probe(_start(ROVN_PROBE_MARK="second-run"))
    assert warm["ppid"] == server != warm["runner"]
    assert warm["preloaded"] == ["boto3", "matplotlib", "pandas"]
    # What the notebook sees is the run's, not the server's.
    assert warm["mark"] == "second-run" and warm["run_id"] and warm["run_id"] in warm["stdout"]
    assert warm["sid"] == warm["pid"]  # its own session: a terminal's Ctrl-C reaches the runner only
    assert warm["cwd"] == str(PROBE.parent) and warm["stdin"] == "/dev/null"
    # The server keeps no run's variables (the redaction key among them).
    environ = Path(f"/proc/{server}/environ").read_bytes().split(b"\0")
    assert not [v for v in environ if v.startswith(b"ROVN_")]
    assert oct(runtime.stat().st_mode & 0o777) == "0o700"


def test_a_forked_kernel_dies_with_its_runner(runtime, tmp_path):
    _ensure_server(runtime)
    ready = tmp_path / "kernel.pid"
    proc = _start("-p", "seconds=120", "-p", f"ready_file={ready}")
    deadline = time.monotonic() + 60
    while not (ready.exists() and ready.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    kernel = int(ready.read_text())
    assert Path(f"/proc/{kernel}/cmdline").read_bytes().find(b"rovn_ops.run.forkserver") >= 0  # it was forked
    proc.kill()
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while process_alive(kernel) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not process_alive(kernel), "the forked kernel outlived its runner"


def test_switched_off_every_run_launches_its_own_kernel(runtime):
    _ensure_server(runtime)
    off = _probe(_start(ROVN_WARM_KERNELS="0"))
    assert off["ppid"] == off["runner"]
