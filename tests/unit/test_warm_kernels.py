"""The warm-kernel server's keys and guards (the fork itself: tests/scenarios/test_warm_kernels.py)."""
from __future__ import annotations

import os
import sys

from rovn_ops.run import forkserver, warm_kernels


def test_the_key_follows_import_time_variables_not_a_runs_own():
    base = {"PATH": "/bin", "HOME": "/root"}
    k = forkserver.key("role", base)
    assert forkserver.key("role", {**base, "ROVN_RUN_ID": "x", "ROVN_REDACT_KEY": "k", "AWS_PROFILE": "p"}) == k
    assert forkserver.key("role", {**base, "MPLBACKEND": "agg"}) != k
    assert forkserver.key("role", {**base, "PYTHONPATH": "/elsewhere"}) != k
    assert forkserver.key("other", base) != k
    assert forkserver.key("role", base, ("library", 2)) != k


def test_only_the_stock_ipykernel_command_on_this_interpreter_is_forked():
    ok = [sys.executable, "-m", "ipykernel_launcher", "-f", "/tmp/k.json", "--HistoryManager.hist_file=:memory:"]
    assert warm_kernels._is_ipykernel(ok)
    assert not warm_kernels._is_ipykernel(["/usr/bin/python3.9", *ok[1:]])
    assert not warm_kernels._is_ipykernel([sys.executable, "-m", "other_kernel", "-f", "/tmp/k.json"])
    assert not warm_kernels._is_ipykernel([*ok[:5], "-c", "import os"])


def test_a_directory_others_can_reach_turns_warm_kernels_off(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert forkserver.directory() == tmp_path / "kernels"
    (tmp_path / "kernels").chmod(0o777)
    assert forkserver.directory() is None
    (tmp_path / "kernels").chmod(0o700)
    os.symlink(tmp_path / "kernels", tmp_path / "link")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "elsewhere"))
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "kernels", tmp_path / "elsewhere" / "kernels")
    assert forkserver.directory() is None


def test_switched_off_no_kernel_is_asked_for(monkeypatch):
    monkeypatch.setenv("ROVN_WARM_KERNELS", "0")
    assert warm_kernels.launch([sys.executable, "-m", "ipykernel_launcher", "-f", "/tmp/k.json"], {}, "/") is None


def test_a_requester_in_other_namespaces_or_with_higher_limits_is_refused():
    import resource

    ctx = forkserver.process_context()
    forkserver._check_context(ctx)  # this process, as it is: accepted
    elsewhere = {**ctx, "where": {**ctx["where"], "net": "net:[1]"}}  # e.g. `unshare -n`
    try:
        forkserver._check_context(elsewhere)
        raise AssertionError("another network namespace was accepted")
    except ValueError as e:
        assert "namespaces" in str(e)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY:
        more = {**ctx, "limits": {**ctx["limits"], "RLIMIT_NOFILE": [soft, hard + 1]}}
        try:
            forkserver._check_context(more)
            raise AssertionError("a limit above the server's was accepted")
        except ValueError as e:
            assert "RLIMIT_NOFILE" in str(e)


def test_a_server_gets_no_secret_named_variable():
    env = {"JUPYTER_TOKEN": "t", "PYTHON_SECRET": "s", "HOME": "/root", "PATH": "/bin", "AWS_SECRET_ACCESS_KEY": "k"}
    assert forkserver.import_env(env) == {"HOME": "/root", "PATH": "/bin"}


def test_a_dead_servers_lock_never_gets_a_live_process_stopped(tmp_path):
    """Its pid may be anybody's now (a run another server forked shares its command line)."""
    import subprocess

    bystander = subprocess.Popen(["sleep", "30"])
    try:
        lock = tmp_path / "kernel-x.sock.lock"
        lock.write_text(f"{bystander.pid}\n")  # nobody holds the flock
        assert forkserver.stop_one(lock) == 0 and bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_the_umask_is_read_without_being_changed():
    old = os.umask(0o027)
    try:
        assert forkserver.process_context()["umask"] == 0o027
        assert os.umask(0o027) == 0o027  # untouched by the read
    finally:
        os.umask(old)
