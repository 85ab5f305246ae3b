"""The warm CLI (lib/rovn_ops/warm_cli.py): a script's `rovn-ops` command run by a child
forked from a server that has imported everything once. To the script it is the
same command: its streams, exit code, signals and death."""
from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rovn_ops import forkserver
from tests.conftest import PROBE, ROOT, private_servers, probe_report, process_alive


@pytest.fixture(scope="module")
def servers(sandbox):
    """Private servers for this module's tests, started by its first test, stopped after
    its last. Kernels are launched, so a kernel's parent is the command's process."""
    with private_servers("rc-", ROVN_WARM_KERNELS="0", ROVN_WARM_CLI=None) as kernels:
        yield kernels


def _start(*args: str, stdin=subprocess.DEVNULL, umask: int = 0o022, **env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rovn_ops.cli", *args], cwd=ROOT, text=True, stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env},
                            preexec_fn=lambda: os.umask(umask))


def _warm(kernels: Path, timeout: float = 90) -> None:
    """The module's command server, started by a command if no test has yet."""
    if not list(kernels.glob("warm_cli-*.sock")):
        _start("list").communicate(timeout=120)
    deadline = time.monotonic() + timeout
    while not list(kernels.glob("warm_cli-*.sock")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert list(kernels.glob("warm_cli-*.sock")), "no warm CLI server started"


def _kernel_parent(out: str) -> int:
    return probe_report(out)["ppid"]


def test_a_scripts_command_runs_forked_with_its_streams_and_exit_code(runtime):
    first = _start("run", str(PROBE), "--quiet")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0 and _kernel_parent(out) == first.pid  # in-process; the server starts
    _warm(runtime)
    second = _start("run", str(PROBE), "--quiet")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, out + err
    assert _kernel_parent(out) != second.pid  # the run's process was the forked child
    assert out.startswith("run ") and "evidence: " in out  # its stdout, through the same pipe
    private = _start("run", str(PROBE), "--quiet", umask=0o077)  # the caller's umask, not the server's
    out, err = private.communicate(timeout=120)
    run_dir = Path(out.split("evidence: ", 1)[1].split()[0]).parent
    assert private.returncode == 0 and _kernel_parent(out) != private.pid
    assert oct(run_dir.stat().st_mode & 0o777) == "0o700"
    assert {oct(f.stat().st_mode & 0o777) for f in run_dir.iterdir()} == {"0o600"}
    bad = _start("run", "service_status", "-p", "events=lots")
    out, err = bad.communicate(timeout=60)
    assert (bad.returncode, out) == (2, "") and err.startswith("rovn-ops: error:") and len(err.splitlines()) == 1


def test_signals_reach_the_forked_command_and_it_dies_with_its_client(runtime, tmp_path):
    _warm(runtime)
    ready = tmp_path / "kernel.pid"
    proc = _start("run", str(PROBE), "--quiet", "-p", "seconds=120", "-p", f"ready_file={ready}")
    _wait(lambda: ready.exists() and ready.read_text())
    proc.send_signal(signal.SIGINT)  # Ctrl-C: interrupts the cell, archives `interrupted`
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "interrupted" in out, out + err
    ready.unlink()
    proc = _start("run", str(PROBE), "--quiet", "-p", "seconds=120", "-p", f"ready_file={ready}")
    _wait(lambda: ready.exists() and ready.read_text())
    kernel = int(ready.read_text())
    child = _parent(kernel)
    assert child != proc.pid
    proc.kill()  # SIGKILL: nothing may run on after the command is gone
    proc.communicate(timeout=30)
    _wait(lambda: not process_alive(child) and not process_alive(kernel), timeout=10)


def test_on_a_terminal_the_command_runs_in_process(runtime):
    _warm(runtime)
    leader, follower = pty.openpty()
    try:
        proc = _start("run", str(PROBE), "--quiet", stdin=follower)
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(leader)
        os.close(follower)
    assert proc.returncode == 0 and _kernel_parent(out) == proc.pid


def _wait(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[1])


def test_a_closed_stderr_or_a_deleted_directory_is_no_crash(runtime, tmp_path):
    _warm(runtime)
    proc = _start("run", "service_status")  # progress streams to stderr, which nobody reads any more
    proc.stderr.close()
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "evidence: " in out
    gone = tmp_path / "gone"
    gone.mkdir()
    res = subprocess.run(["sh", "-c", f'cd "{gone}" && rmdir "{gone}" && exec "{sys.executable}" -m rovn_ops.cli list'],
                         capture_output=True, text=True, stdin=subprocess.DEVNULL, env=os.environ, timeout=60)
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        "rovn-ops: error: the current directory no longer exists; cd to one that does"]


def test_a_forked_command_whose_client_left_before_its_go_runs_nothing(runtime, evidence_dir):
    """What makes a second run impossible: a client that gives up (and runs the command
    itself) never sent the go its forked child waits for."""
    import socket

    _warm(runtime)
    path = next(runtime.glob("warm_cli-*.sock"))
    me, null = os.pidfd_open(os.getpid()), os.open(os.devnull, os.O_RDWR)
    body = json.dumps({"argv": ["run", str(PROBE), "--quiet"], "env": dict(os.environ), "cwd": str(ROOT),
                       "context": forkserver.process_context()}).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(path))
        socket.send_fds(s, [len(body).to_bytes(8, "big") + body], [null, null, null, me])
        data, fds, _, _ = socket.recv_fds(s, 1024, 1)
        child = forkserver.Forked(json.loads(data)["pid"], fds[0])
    child.wait(timeout=30)  # it read the end of the connection, not a go, and left
    os.close(me), os.close(null)
    assert not list(evidence_dir.rglob("manifest.json")) and not list(evidence_dir.rglob("*.ipynb"))
