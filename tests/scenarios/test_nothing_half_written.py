"""No traceback, no hang, nothing half-written (issue 20, class 7): bad input found
inside the kernel, and an evidence directory that cannot take the run, each end in one
line and exit 2 with nothing archived, nothing left in the spool."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import rovn_ops


def _draft(tmp_path: Path, body: str) -> str:
    cells = [{"cell_type": "code", "id": "p", "metadata": {"tags": ["parameters"]}, "outputs": [],
              "execution_count": None, "source": "env: str = 'sandbox'\nregion: str = 'us-east-2'\nx: int = 1\n"},
             {"cell_type": "code", "id": "b", "metadata": {}, "outputs": [], "execution_count": None, "source": body}]
    path = tmp_path / "in_kernel.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {"kernelspec": {
        "name": "python3", "language": "python", "display_name": "Python 3"}}, "nbformat": 4, "nbformat_minor": 5}))
    return str(path)


def _nothing_archived(evidence: Path) -> bool:
    spool = evidence / ".spool"
    return not list(evidence.rglob("manifest.json")) and (not spool.exists() or not [
        p for p in spool.iterdir() if not p.name.startswith(".")])


def test_a_draft_that_raises_bad_input_is_still_archived(fresh, tmp_path, evidence_dir):
    """Only a reviewed runbook's BadInput archives nothing: a draft could raise one to leave
    no evidence of what it did."""
    raise_it = "from rovn_ops.core.errors import BadInput\nraise BadInput(\"parameter 'x': expected a known thing, got 1\")\n"
    run = rovn_ops("run", _draft(tmp_path, raise_it), "--quiet")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr and list(evidence_dir.rglob("manifest.json"))


def test_bad_input_after_the_run_acted_is_a_failure_and_archived(fresh, tmp_path, evidence_dir):
    body = ("from rovn_ops.core import record\nfrom rovn_ops.core.errors import BadInput\n"
            "record.record(acted_on=['something'])\nraise BadInput('too late to be bad input')\n")
    run = rovn_ops("run", _draft(tmp_path, body), "--quiet")
    assert run.returncode == 1, run.stdout + run.stderr
    assert list(evidence_dir.rglob("manifest.json"))


def test_a_secret_that_does_not_exist_is_bad_input(fresh, evidence_dir):
    run = rovn_ops("run", "secret_rotation", "--quiet", "-p", "secret=no/such/secret")
    assert run.returncode == 2 and "parameter 'secret'" in run.stderr, run.stdout + run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and _nothing_archived(evidence_dir)


@pytest.fixture
def small_mount(tmp_path):
    """A tmpfs of our own: read-only, or nearly full (needs root; skipped without)."""
    mounted = []

    def make(options: str) -> Path:
        d = tmp_path / f"mnt{len(mounted)}"
        d.mkdir()
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(d)], capture_output=True)
        if res.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode().strip()}")
        mounted.append(d)
        return d
    yield make
    for d in mounted:
        subprocess.run(["umount", str(d)], check=False)


@pytest.mark.parametrize("options, expect", [("ro,size=64m", "cannot be written (Read-only file system)"),
                                             ("size=256k", "KiB free, a run needs 20 MiB")])
def test_an_evidence_directory_that_cannot_take_the_run_refuses_it(fresh, small_mount, options, expect):
    d = small_mount(options)
    run = rovn_ops("run", "service_status", "--quiet", env={"ROVN_EVIDENCE_DIR": str(d / "evidence")
                                                            if "ro" not in options else str(d)})
    assert run.returncode == 2, run.stdout + run.stderr
    [line] = run.stderr.strip().splitlines()
    assert expect in line and "Traceback" not in run.stdout
