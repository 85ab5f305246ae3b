"""One sandbox for the whole test session, started in pytest_configure because nbval's
notebook items get no fixtures. Kernels, subprocesses and in-process clients reach it
through the exported environment, exactly as an operator's shell does."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

_started = {}


def pytest_configure(config):
    if hasattr(config, "workerinput") or os.environ.get("ROVN_TEST_SANDBOX_UP"):
        return
    from rovn_ops.sandbox import control

    base = Path(tempfile.mkdtemp(prefix="rovn-test-"))
    os.environ["ROVN_SANDBOX_DIR"] = str(base / "sandbox")
    os.environ["ROVN_EVIDENCE_DIR"] = str(base / "evidence")
    for k in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")] + ["DATABASE_URL"]:
        os.environ.pop(k, None)  # never a developer's own sandbox or database
    state, _ = control.up()
    control.apply_env(state)
    os.environ["ROVN_TEST_SANDBOX_UP"] = "1"
    _started["state"] = state


def pytest_unconfigure(config):
    if _started:
        from rovn_ops.sandbox import control

        control.down()


def pytest_runtest_setup(item):
    """Each notebook starts from the freshly seeded world."""
    if item.__class__.__name__ == "NbCellItem" and getattr(item, "cell_num", 1) == 0 and _started:
        from rovn_ops.sandbox import control

        control.reset(_started["state"])
