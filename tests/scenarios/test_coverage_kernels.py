"""`make test`'s coverage counts what ran in the kernels (issue 23, acceptance 1).

A run under coverage as `make test` measures it (pyproject [tool.coverage.run]: patch =
subprocess, parallel, sigterm): the runner's kernel records into a data file of its own
and saves it when the provisioner stops it (SIGTERM, where SIGKILL would lose it). The
line that shows it is in `preload.load_ipython_extension`, which only a kernel calls
(IPython loads it as an extension). Coverage's subprocess measurement:
https://coverage.readthedocs.io/en/latest/subprocess.html
"""
from __future__ import annotations

import inspect
import os
import subprocess
import sys

from coverage import CoverageData

from rovn_ops.run import preload
from tests.conftest import PROBE, ROOT, probe_report


def test_a_line_only_a_kernel_runs_is_counted_as_covered(sandbox, tmp_path):
    data = tmp_path / ".coverage"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}  # not the suite's own
    res = subprocess.run([sys.executable, "-m", "coverage", "run", f"--data-file={data}", "-m", "rovn_ops.cli",
                          "run", str(PROBE), "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    kernel = probe_report(res.stdout)["pid"]
    source, first = inspect.getsourcelines(preload.load_ipython_extension)
    line = first + 1  # the function's first statement
    path = inspect.getsourcefile(preload)
    files = {f.name: f for f in tmp_path.glob(".coverage.*")}
    [kernels] = [f for name, f in files.items() if f".pid{kernel}." in name]  # the kernel saved its own
    assert line in _lines(kernels, path)
    assert all(line not in _lines(f, path) for f in files.values() if f != kernels)  # only the kernel ran it
    combined = subprocess.run([sys.executable, "-m", "coverage", "combine", f"--data-file={data}"], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=120)
    assert combined.returncode == 0, combined.stderr
    assert line in _lines(data, path)  # and the total counts it


def _lines(data_file, path: str) -> set[int]:
    data = CoverageData(basename=str(data_file))
    data.read()
    return set(data.lines(path) or ())
