"""One sandbox per test process, started in pytest_configure because nbval's notebook
items get no fixtures. Kernels, subprocesses and in-process clients reach it through
the exported environment, exactly as an operator's shell does.

Under pytest-xdist (`make test` runs `-n auto --dist loadscope`) every worker is such a
process with its own sandbox (its own moto server, PostgreSQL, ports, state and
evidence directories), so tests on different workers never share a world, and a new
test file needs nothing to run in parallel. `loadscope` keeps a module's tests (and a
notebook's cells) on one worker, in order. The xdist controller itself runs no test
and starts no sandbox."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

_started = {}


def _xdist_controller(config) -> bool:
    """The process that hands tests to workers and runs none itself."""
    if hasattr(config, "workerinput"):
        return False
    dist = config.getoption("dist", "no")
    return dist != "no" and bool(config.getoption("numprocesses", None))


def pytest_configure(config):
    if _xdist_controller(config) or os.environ.get("ROVN_TEST_SANDBOX_UP"):
        return
    from rovn_ops.sandbox import control

    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    base = Path(tempfile.mkdtemp(prefix=f"rovn-test-{worker}-"))
    os.environ["ROVN_SANDBOX_DIR"] = str(base / "sandbox")
    os.environ["ROVN_EVIDENCE_DIR"] = str(base / "evidence")
    for k in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")] + ["DATABASE_URL"]:
        os.environ.pop(k, None)  # never a developer's own sandbox or database
    state, _ = control.up()
    control.apply_env(state)
    os.environ["ROVN_TEST_SANDBOX_UP"] = "1"  # this process's subprocesses use it, never start another
    _started.update(state=state, base=base)


def pytest_unconfigure(config):
    if _started:
        from rovn_ops.sandbox import control

        control.down()  # its directory stays: sandbox.log explains a failed session


def pytest_runtest_setup(item):
    """Each notebook starts from the freshly seeded world."""
    if item.__class__.__name__ == "NbCellItem" and getattr(item, "cell_num", 1) == 0 and _started:
        from rovn_ops.sandbox import control

        control.reset(_started["state"])
