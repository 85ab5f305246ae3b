"""The runner's kernels (lib/rovn_ops/run/kernels.py): launched by our provisioner, which
jupyter_client finds by its entry point and the kernel spec's metadata, as its docs say
a provisioner is installed and chosen
(https://jupyter-client.readthedocs.io/en/latest/provisioning.html)."""
from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

from jupyter_client.provisioning import KernelProvisionerFactory

from rovn_ops.run import kernels


def test_the_spec_names_our_provisioner_and_jupyter_client_finds_it_by_entry_point():
    spec = kernels.Specs().get_kernel_spec("python3")
    assert spec.metadata["kernel_provisioner"]["provisioner_name"] == kernels.NAME
    made = KernelProvisionerFactory.instance().create_provisioner_instance("k", spec, parent=None)
    assert type(made) is kernels.QuietProvisioner


def test_a_kernel_is_the_runners_own_child_quiet_and_its_real_exit_status_is_kept():
    started: list = []
    with tempfile.TemporaryDirectory(prefix="rk-") as sockets:
        km = kernels.manager_class(sockets, started)(kernel_name="python3")
        km.start_kernel()
        try:
            assert started == [km] and isinstance(km.provisioner, kernels.QuietProvisioner)
            process = km.provisioner.process
            stat = Path(f"/proc/{process.pid}/stat").read_text().split(")")[1].split()
            assert int(stat[1]) == os.getpid()  # launched here: no process kept warm elsewhere
            for fd in (1, 2):  # ipykernel's fd-level echo reaches no terminal, unscrubbed
                assert os.readlink(f"/proc/{process.pid}/fd/{fd}") == os.devnull
            assert km.transport == "ipc" and km.ip.startswith(sockets)  # Unix sockets in a private directory
        finally:
            km.shutdown_kernel(now=True)
        assert not km.has_kernel
        # what waitpid said, not a guess: the manager interrupts (SIGINT) before it kills (SIGKILL)
        assert process.returncode in (-signal.SIGINT, -signal.SIGKILL, -signal.SIGTERM)  # SIGTERM: under coverage
