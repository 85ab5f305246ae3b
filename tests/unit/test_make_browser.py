"""`make test` on a machine without chromium: as root it installs chromium and
chromium-driver with apt-get; otherwise it stops with exit code 2 and one line saying
what to install. The machine without chromium is a PATH holding only bash and, where
the case needs one, an apt-get that records its arguments (and, when it is to
succeed, puts the two commands on that PATH as the real packages would)."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def tmp_path():
    """Reachable by user nobody: pytest's own tmp_path sits under a root-only directory."""
    d = Path(tempfile.mkdtemp(prefix="rovn-bare-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make")
APT_GET = """#!{bash}
echo "$@" >> {log}
{body}
"""
INSTALLS = """if [ "$1" = install ]; then
  for tool in chromium chromedriver; do echo '#!{bash}' > {bin}/$tool; {chmod} +x {bin}/$tool; done
fi"""


def bare_machine(tmp_path: Path, apt_body: str | None) -> tuple[Path, Path]:
    """A PATH without chromium or chromedriver (only bash, and apt-get when given)."""
    bin_dir, log = tmp_path / "bin", tmp_path / "apt.log"
    bin_dir.mkdir()
    bash = shutil.which("bash")
    (bin_dir / "bash").symlink_to(bash)
    if apt_body is not None:
        body = apt_body.format(bash=bash, bin=bin_dir, chmod=shutil.which("chmod"))
        (bin_dir / "apt-get").write_text(APT_GET.format(bash=bash, log=log, body=body))
        (bin_dir / "apt-get").chmod(0o755)
    return bin_dir, log


def make_browser(bin_dir: Path, tmp_path: Path, *, as_nobody: bool = False) -> subprocess.CompletedProcess:
    cmd = [MAKE, "-s", "-C", str(ROOT), "browser"]
    if as_nobody:
        cmd = [shutil.which("setpriv"), "--reuid=nobody", "--regid=nogroup", "--clear-groups", *cmd]
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)


def script_lines(stderr: str) -> list[str]:
    """What the check said, without make's own `make: *** … Error 2` trailer."""
    return [line for line in stderr.splitlines() if line and not line.startswith(("make:", "make["))]


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="installing with apt-get is the root path")


def test_make_test_checks_the_browser_before_anything_else():
    dry = subprocess.run([MAKE, "-n", "-C", str(ROOT), "test"], capture_output=True, text=True, timeout=60)
    lines = dry.stdout.splitlines()
    check = next(i for i, line in enumerate(lines) if "scripts/ensure-chromium" in line)
    assert all("pytest" not in line and "pip" not in line for line in lines[:check])
    assert any("pytest" in line for line in lines[check:])


@needs_root
def test_root_installs_chromium_with_apt(tmp_path):
    bin_dir, log = bare_machine(tmp_path, INSTALLS)
    res = make_browser(bin_dir, tmp_path)
    assert res.returncode == 0, res.stderr
    calls = log.read_text().splitlines()
    assert calls[0].startswith("update") and "install" in calls[1]
    assert "chromium" in calls[1].split() and "chromium-driver" in calls[1].split()
    assert (bin_dir / "chromium").exists() and (bin_dir / "chromedriver").exists()
    again = make_browser(bin_dir, tmp_path)  # present now: apt is not asked again
    assert again.returncode == 0 and len(log.read_text().splitlines()) == 2


@needs_root
def test_failed_install_stops_with_exit_2_and_one_line(tmp_path):
    bin_dir, _ = bare_machine(tmp_path, 'echo "E: Unable to locate package chromium" >&2; exit 100')
    res = make_browser(bin_dir, tmp_path)
    assert res.returncode == 2
    lines = script_lines(res.stderr)
    assert len(lines) == 2  # "installing …" then the failure: apt's own chatter stays in the log
    assert "could not install chromium chromium-driver" in lines[1]
    assert "E: Unable to locate package" in (tmp_path / "rovn-apt-chromium.log").read_text()


def test_without_root_says_what_to_install_and_exits_2(tmp_path):
    bin_dir, log = bare_machine(tmp_path, "")
    res = make_browser(bin_dir, tmp_path, as_nobody=os.geteuid() == 0)
    assert res.returncode == 2
    lines = script_lines(res.stderr)
    assert len(lines) == 1, res.stderr
    assert "chromium chromium-driver" in lines[0] and "apt-get install" in lines[0]
    assert not log.exists()  # nothing was attempted
