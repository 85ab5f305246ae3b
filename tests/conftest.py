from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from rovn_sandbox import control

ROOT = Path(__file__).resolve().parents[1]
collect_ignore_glob = ["fixtures/*"]  # notebooks the tests run, not tests
PROBE = ROOT / "tests/fixtures/kernel_probe.ipynb"  # what a run's kernel is: parent, session, env, cwd


@pytest.fixture(scope="session")
def sandbox() -> dict:
    return control.require()


def probe_report(stdout: str) -> dict:
    """What tests/fixtures/kernel_probe.ipynb printed, from the run's archived notebook."""
    notebook = Path(stdout.split("evidence: ", 1)[1].split()[0])
    text = "".join("".join(o.get("text", "")) for c in json.loads(notebook.read_text())["cells"]
                   for o in c.get("outputs", []))
    return json.loads(text.split("PROBE ", 1)[1].splitlines()[0])


def checkout(tmp_path: Path, edit) -> Path:
    """This checkout as another ROVN_HOME, its parameters/ files' text as `edit(name, text)`
    returns it (a reviewed change to the committed environment files)."""
    home = tmp_path / "checkout"
    home.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in ("parameters", ".git"):
            (home / entry.name).symlink_to(entry)
    (home / "parameters").mkdir()
    for f in (ROOT / "parameters").iterdir():
        (home / "parameters" / f.name).write_text(edit(f.name, f.read_text()))
    return home


def process_alive(pid: int) -> bool:
    """Running (a zombie, ended but not yet reaped, is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def fresh(sandbox) -> dict:
    """The seeded world, undisturbed by earlier tests."""
    control.reset(sandbox)
    return sandbox


@pytest.fixture
def aws(sandbox):
    import boto3

    def make(service: str):
        return boto3.client(service, region_name=sandbox["region"], endpoint_url=sandbox["endpoint"],
                            aws_access_key_id=sandbox["access_key_id"],
                            aws_secret_access_key=sandbox["secret_access_key"])
    return make


@pytest.fixture
def app_db(fresh):
    with psycopg.connect(fresh["database_url"], autocommit=True) as conn:
        yield conn


@pytest.fixture
def admin_db(fresh):
    with psycopg.connect(fresh["admin_database_url"], autocommit=True) as conn:
        yield conn


@pytest.fixture
def evidence_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "evidence"
    monkeypatch.setenv("ROVN_EVIDENCE_DIR", str(d))
    return d


def rovn_ops(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The CLI as a user runs it: a subprocess with this session's environment."""
    return subprocess.run([sys.executable, "-m", "rovn_ops.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, cwd=ROOT)


def commit_reversal(sandbox: dict, migration: str = "0011_add_worker_npi.sql") -> Path:
    """The reversal the preview generates, written and committed in the sandbox's checkout."""
    from rovn_sandbox import drills

    return drills.commit_reversal(sandbox, migration)


def reverse_migration(env: dict) -> None:
    """Commit the reversal of 0011, preview migration_reversal, then execute exactly that
    plan (approved by giles)."""
    import re

    commit_reversal(control.require())
    assert rovn_ops("run", "migration_reversal", "--quiet", env=env).returncode == 0
    evidence = Path(env["ROVN_EVIDENCE_DIR"])
    previews = sorted(evidence.glob("*/*migration_reversal*/migration_reversal.ipynb"), key=lambda p: p.stat().st_mtime)
    plan = re.search(r"plan_hash=([0-9a-f]{64})", previews[-1].read_text()).group(1)
    done = rovn_ops("run", "migration_reversal", "--quiet", "-p", "confirm=true", "-p", "approved_by=giles",
                    "-p", f"plan_hash={plan}", env=env)
    assert done.returncode == 0, done.stdout + done.stderr


def commit_source(sandbox: dict, message: str = "a change for the test") -> str:
    """Commit everything in the sandbox's source checkout and push it to main (the
    sandbox's GitHub), as an engineer does before a deploy (§2); returns the SHA."""
    from rovn_sandbox import github

    src = Path(sandbox["source_dir"])
    github.git(src, "add", "-A")
    github.git(src, "commit", "-q", "--allow-empty", "-m", message)  # the change may be committed already
    github.git(src, "push", "-q", "origin", "main")
    return github.git(src, "rev-parse", "HEAD")


def kill_when(args: list[str], reached, timeout: float = 120) -> None:
    """Start `rovn-ops ARGS` and SIGKILL it and its kernel (kill_tree) as soon as
    `reached()` is true, or when it exits or the timeout passes: a crash at a chosen step."""
    import time

    proc = subprocess.Popen([sys.executable, "-m", "rovn_ops.cli", *args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while not reached() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            kill_tree(proc.pid)
        proc.wait()


def kill_tree(pid: int) -> None:
    """SIGKILL a run and its kernel at once, as when the machine dies: what it launched
    (jupyter starts kernels in a session of their own, out of reach of a process-group
    kill). Returns when none of those it launched runs any more."""
    import time

    import psutil

    parent = psutil.Process(pid)
    procs = [parent, *parent.children(recursive=True)]
    for p in procs:
        p.kill()
    deadline = time.monotonic() + 10
    for p in procs:
        try:
            while p.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
                time.sleep(0.01)
        except psutil.NoSuchProcess:
            pass
