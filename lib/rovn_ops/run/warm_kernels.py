"""Warm kernels: a run's kernel forked (forkserver.py) from a server that has already
imported ipykernel and the heavy libraries the runbooks use (pandas, numpy,
matplotlib, boto3, psycopg, sqlglot…), instead of a fresh Python importing them
again: ~1–2 s of CPU a kernel spends before its first cell; forked, ~20 ms.

The runner asks for a warm kernel first and launches a cold one as before when none
is there, starting the server for the next run. A forked kernel is what a launched
one would be: the run's whole environment and working directory, a session of its
own (Ctrl-C on the terminal reaches the runner, not the kernel), /dev/null for
fds 0–2, and it dies with its runner (ipykernel's parent poller cannot see the
runner: the server is the kernel's parent). The server imports the library's
runbook modules too, and is keyed by the library's contents: an edit gets a new
server at the next run.
`ROVN_WARM_KERNELS=0` (or `ROVN_WARM=0`) launches every kernel.
"""
from __future__ import annotations

import os
import sys

from rovn_ops.run import forkserver

ROLE = "rovn_ops.run.warm_kernels"
PRELOAD = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "IPython.core.interactiveshell",
           "matplotlib_inline.backend_inline", "jupyter_client.session", "numpy", "pandas", "matplotlib",
           "matplotlib.pyplot", "boto3", "botocore.client", "botocore.session", "s3transfer", "urllib3", "psycopg",
           "pydantic", "sqlglot", "yaml", "cryptography.hazmat.primitives.asymmetric.ed25519",
           "cryptography.fernet", "ahocorasick_rs", "IPython.core.debugger", "IPython.core.completerlib",
           "IPython.core.oinspect", "IPython.extensions.storemagic", "sqlite3", "psutil", "tornado.platform.asyncio",
           "tornado.queues", "ipykernel.debugger", "xmlrpc.server", "http.server", "pydoc",  # (the kernel's own init)
           # and what the runbooks import of the library (the server is keyed by its contents)
           "rovn_ops.run.context", "rovn_ops.ecs.service", "rovn_ops.rollback.steps", "rovn_ops.protocol.change", "rovn_ops.triage.gather",
           "rovn_ops.triage.classify", "rovn_ops.triage.correlate", "rovn_ops.triage.metrics",
           "rovn_ops.triage.plots", "rovn_ops.triage.postmortem", "rovn_ops.triage.report", "rovn_ops.triage.notify",
           "rovn_ops.triage.window", "rovn_ops.secrets.rotation", "rovn_ops.migrations.reverse",
           "rovn_ops.migrations.retention", "rovn_ops.migrations.baseline", "rovn_ops.deploy.steps",
           "rovn_ops.evidence.recorder")
INLINE = "module://matplotlib_inline.backend_inline"
SESSION = True  # a forked kernel has a session of its own, as a launched one has


def enabled() -> bool:
    return forkserver.enabled("ROVN_WARM_KERNELS")


def launch(cmd: list[str], env: dict, cwd: str) -> "forkserver.Forked | None":
    """A warm kernel for `cmd` (the kernel spec's argv), or None: the caller launches
    it cold, and the server is started for the runs after this one."""
    if not enabled() or not _is_ipykernel(cmd):
        return None
    path = forkserver.socket_path(ROLE, env, (forkserver.library_digest(),))
    if path is None:
        return None
    try:
        reply, pidfd, conn = forkserver.request(path, {"cmd": cmd, "env": env, "cwd": str(cwd)}, [])
    except OSError:  # no kernel was forked, or it never started: launch one
        forkserver.start(ROLE, path, env)
        return None
    conn.close()
    return forkserver.Forked(reply["pid"], pidfd)


def _is_ipykernel(cmd: list[str]) -> bool:
    """The stock python3 spec on this interpreter: `python -m ipykernel_launcher -f FILE`,
    plus the `--Trait=value` options nbclient adds."""
    return (len(cmd) >= 5 and cmd[1:4] == ["-m", "ipykernel_launcher", "-f"]
            and all(a.startswith("--") and "=" in a for a in cmd[5:])
            and os.path.realpath(cmd[0]) == os.path.realpath(sys.executable))


# ------------------------------------------------------------- the server's side

def preload() -> None:
    os.environ.setdefault("MPLBACKEND", INLINE)  # what ipykernel sets before a notebook imports matplotlib
    forkserver.preload(PRELOAD)


def check(req: dict, nfds: int) -> None:
    if nfds != 1 or not _is_ipykernel(req.get("cmd") or []):
        raise ValueError("not a stock ipykernel command")


def child(req: dict, fds: list[int], conn) -> int:
    """Become the kernel the runner asked for."""
    conn.close()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    sys.argv = ["ipykernel_launcher", *req["cmd"][3:]]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()
    return 0
