"""A run's kernel, launched through jupyter_client's public extension point: a kernel
provisioner (https://jupyter-client.readthedocs.io/en/latest/provisioning.html),
registered by entry point `jupyter_client.kernel_provisioners` (pyproject.toml) and
selected by the kernel spec's `metadata.kernel_provisioner`, as the spec's own
kernel.json would. Every run gets a fresh kernel: a process the runner launched, its
child, importing the library as it is on disk now.

What it changes of jupyter_client's LocalProvisioner:
- the kernel's fd 1 and 2 go to /dev/null: ipykernel echoes fd-level output
  (os.write(1, …), os.system, !cmd) to its own stdout/stderr, unscrubbed, into the
  runner's terminal or a CI log. What a cell writes still reaches the notebook and the
  progress stream, both redacted, over IOPub;
- its end is awaited by a thread blocked on the process (waitpid), not polled every
  100 ms: every run paid a tenth of a second before its archive could begin.

`launch` starts a run's kernel before the runner imports papermill, and hands it to
papermill's execute_notebook as `km` (a documented parameter, passed on to nbclient's
NotebookClient): the kernel boots, and imports the runbook's library modules
(preload.py), while the runner is still importing. nbclient leaves a kernel it was
given running, so `finish` does what nbclient does for a kernel it started.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from jupyter_client.provisioning import KernelProvisionerFactory, LocalProvisioner

from rovn_ops.core.errors import RovnError
from rovn_ops.run import preload

NAME = "rovn-kernel"  # the entry point's name (pyproject.toml)
KILL_WAIT_S = 5.0  # as KernelManager waits for a killed kernel
MEASURED = "COVERAGE_PROCESS_CONFIG"  # coverage's patch = subprocess sets it for every process it measures


class QuietProvisioner(LocalProvisioner):
    async def launch_kernel(self, cmd: list[str], **kwargs):
        kwargs.update(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return await super().launch_kernel(cmd, **kwargs)

    async def wait(self) -> int | None:
        process = self.process
        if process is None:
            return 0
        code = await asyncio.get_running_loop().run_in_executor(None, process.wait)
        if process.stdin:  # (a pipe jupyter_client's launcher opens; 1 and 2 are /dev/null)
            process.stdin.close()
        self.process = None  # has_process: False from now on, as LocalProvisioner.wait leaves it
        return code

    async def kill(self, restart: bool = False) -> None:
        """SIGKILL, then until the process has ended: the manager's own wait then finds it
        gone at its first look rather than after a 100 ms sleep. A kernel that measures
        coverage (the test suite's: pyproject [tool.coverage.run], sigterm) gets SIGTERM
        instead, on which it saves what it ran; SIGKILL would lose it."""
        if os.environ.get(MEASURED) and self.process is not None and self.process.poll() is None:
            await self.send_signal(signal.SIGTERM)
            await self._ended(self.process)
        await super().kill(restart)
        process = self.process
        if process is not None:
            await self._ended(process)

    @staticmethod
    async def _ended(process) -> None:
        try:
            await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, process.wait), KILL_WAIT_S)
        except asyncio.TimeoutError:
            pass  # the manager logs a kernel that would not die, as it always has


class Specs(KernelSpecManager):
    """The installed kernel specs, each with our provisioner in its metadata."""

    def get_kernel_spec(self, kernel_name: str):
        spec = super().get_kernel_spec(kernel_name)
        spec.metadata = {**spec.metadata, "kernel_provisioner": {"provisioner_name": NAME, "config": {}}}
        if not KernelProvisionerFactory.instance().is_provisioner_available(spec):
            # an install from before the entry point existed: one line, not jupyter_client's traceback
            raise RovnError(f"this install of rovn-ops lacks its kernel provisioner (entry point {NAME!r} "
                            "in pyproject.toml): run `make venv` (or `pip install -e .`) again")
        return spec


def manager_class(sockets: str, started: list) -> type[KernelManager]:
    """A KernelManager whose kernels talk over Unix sockets in the private directory
    `sockets` (no TCP port for another local user to reach, and no 'TCP without
    encryption' warning), launched by QuietProvisioner; each manager is appended to
    `started` (the runner interrupts their kernels on SIGINT/SIGTERM)."""

    class RunKernelManager(KernelManager):
        def __init__(self, **kw):
            super().__init__(transport="ipc", ip=os.path.join(sockets, "k"), kernel_spec_manager=Specs(), **kw)
            self.clients: list = []
            started.append(self)

        def client(self, **kw):
            kc = super().client(**kw)
            self.clients.append(kc)  # papermill's, stopped by finish
            return kc

        def finish(self) -> None:
            """nbclient's cleanup of a kernel it owns (NotebookClient._async_cleanup_kernel,
            shutdown "immediate"): once the last cell has replied the kernel holds nothing of
            the run (cells write the result file synchronously); a graceful shutdown could
            wait seconds for ipykernel to exit."""
            try:
                if self.has_kernel and self.is_alive():
                    self.shutdown_kernel(now=True)
            finally:
                self.cleanup_resources()
                for kc in self.clients:
                    kc.stop_channels()

    return RunKernelManager


# nbclient passes the same to a kernel it starts (NotebookClient.ipython_hist_file): no history database
ARGUMENTS = ["--HistoryManager.hist_file=:memory:", f"--IPKernelApp.extensions={preload.__name__}"]


def launch(sockets: str, started: list, notebook: str, cwd: str, kernel_name: str = "python3") -> KernelManager:
    """Start a run's kernel now, in the notebook's directory (as papermill's cwd), set to
    preload the notebook's library imports. The kernel inherits this process's environment."""
    km = manager_class(sockets, started)(kernel_name=kernel_name)
    km.start_kernel(extra_arguments=list(ARGUMENTS), cwd=cwd,
                    env={**os.environ, preload.ENV: preload.environment(notebook)})
    return km
