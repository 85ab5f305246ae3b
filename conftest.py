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
    # Every response the suite's sandboxes give is recorded here (sandbox/wire.py), one file per
    # sandbox; pytest_sessionfinish checks them all against botocore's output shapes. Set before
    # xdist starts its workers, which inherit it.
    if not os.environ.get("ROVN_SANDBOX_RECORD") and not hasattr(config, "workerinput"):
        os.environ["ROVN_SANDBOX_RECORD"] = tempfile.mkdtemp(prefix="rovn-responses-")
        _started["records"] = os.environ["ROVN_SANDBOX_RECORD"]
    _kernels_save_coverage()
    if _xdist_controller(config) or os.environ.get("ROVN_TEST_SANDBOX_UP"):
        return
    from rovn_sandbox import control

    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    base = Path(tempfile.mkdtemp(prefix=f"rovn-test-{worker}-"))
    os.environ["ROVN_SANDBOX_DIR"] = str(base / "sandbox")
    os.environ["ROVN_EVIDENCE_DIR"] = str(base / "evidence")
    for k in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")] + ["DATABASE_URL"]:
        os.environ.pop(k, None)  # never a developer's own sandbox or database
    state, _ = _unmeasured(control.up)
    control.apply_env(state)
    os.environ["ROVN_TEST_SANDBOX_UP"] = "1"  # this process's subprocesses use it, never start another
    _started.update(state=state, base=base)


def _kernels_save_coverage() -> None:
    """Under `make test`'s coverage, nbval's kernels are launched by our provisioner too
    (jupyter_client's configurable default, KernelProvisionerFactory.default_provisioner_name):
    nbval stops a kernel with SIGKILL, which would lose what it ran; ours sends a measured
    kernel SIGTERM, on which coverage saves (lib/rovn_ops/run/kernels.py)."""
    from rovn_ops.run import kernels

    if os.environ.get(kernels.MEASURED):
        from jupyter_client.provisioning import KernelProvisionerFactory

        KernelProvisionerFactory.instance().default_provisioner_name = kernels.NAME


def _unmeasured(start):
    """The sandbox's server is not measured: it is the simulator, not a test of the library,
    and tracing its moto would slow every test's AWS call."""
    from rovn_ops.run import kernels

    saved = os.environ.pop(kernels.MEASURED, None)
    try:
        return start()
    finally:
        if saved is not None:
            os.environ[kernels.MEASURED] = saved


def pytest_sessionfinish(session, exitstatus):
    """Shape conformance of the whole session (every worker's sandbox): any response that
    botocore's output shape for its operation refuses fails the run (tests/conformance/shapes.py)."""
    if "records" not in _started or session.config.getoption("collectonly", False):
        return
    from pathlib import Path as _Path

    from tests.conformance import shapes

    entries = [e for f in sorted(_Path(_started["records"]).glob("*.jsonl")) for e in shapes.read(f)]
    violations, seen = shapes.check_all(entries)
    report = session.config.pluginmanager.get_plugin("terminalreporter")
    say = report.write_line if report else print
    say(f"shape conformance: {len(entries)} responses, {len(seen)} operations, {len(violations)} violations "
        f"(recordings in {_started['records']})")
    for v in violations[:50]:
        say(f"  {v}")
    if violations and session.exitstatus == 0:
        session.exitstatus = 1
    if not violations:
        import shutil

        shutil.rmtree(_started["records"], ignore_errors=True)


def pytest_unconfigure(config):
    if _started.get("state"):
        from rovn_sandbox import control

        control.down()  # its directory stays: sandbox.log explains a failed session


def pytest_runtest_setup(item):
    """Each notebook starts from the freshly seeded world, as each scenario test does (`fresh`):
    before its first code cell, whatever test ran before it on this worker. (The check once
    named a class nbval does not have, so a notebook ran on the last test's world.)"""
    from nbval.plugin import IPyNbCell

    if isinstance(item, IPyNbCell) and item.cell_num == 0 and _started.get("state"):
        from rovn_sandbox import control

        control.reset(_started["state"])
