"""The warm-kernel server's keys and guards (the fork itself: tests/scenarios/test_warm_kernels.py)."""
from __future__ import annotations

import os
import sys

from rovn_ops import forkserver, warm_kernels


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
