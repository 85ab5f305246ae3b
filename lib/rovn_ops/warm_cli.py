"""Warm CLI: `rovn-ops` run by a script (CI, tests: stdin not a terminal) hands its
command to a fork server (forkserver.py) that has imported the library, papermill,
nbconvert (its templates compiled), boto3 and psycopg once, instead of importing
them again: ~1 s of CPU per command.

The forked child is the command: it gets this process's stdin/stdout/stderr (the
same pipes or files), environment and working directory, runs `cli.main`, and
sends back its exit code, which this process exits with. Signals sent here (SIGINT,
SIGTERM, SIGHUP…) are passed on to it; if this process is killed, the child dies
with it (SIGKILL), as an in-process command would. On a terminal the command runs
in-process as always (the child could not be the terminal's foreground job). The
server is keyed by the library's files too: an edit gets a new server at once.
`ROVN_WARM_CLI=0` (or `ROVN_WARM=0`) runs every command in-process.
"""
from __future__ import annotations

import io
import os
import signal
import sys
from pathlib import Path

from . import forkserver

ROLE = "rovn_ops.warm_cli"
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
PRELOAD = ("rovn_ops.cli", "rovn_ops.runner", "rovn_ops.progress", "rovn_ops.params", "rovn_ops.catalog",
           "rovn_ops.evidence.archive", "rovn_ops.evidence.verify", "rovn_ops.evidence.index", "rovn_ops.db",
           "rovn_ops.audit", "rovn_ops.sandbox.control", "rovn_ops.report", "rovn_ops.protocol",
           "nbformat", "nbclient", "papermill", "jupyter_client.manager", "boto3", "botocore.client",
           "botocore.session", "psycopg", "pydantic", "yaml", "urllib3", "cryptography.fernet",
           "cryptography.hazmat.primitives.asymmetric.ed25519")


def enabled() -> bool:
    return forkserver.enabled("ROVN_WARM_CLI") and not _tty(0)


def _tty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def relay(argv: list[str]) -> int | None:
    """The command's exit code, run by a forked child; None when no server answers
    (the caller runs it in-process; a server starts for the next command)."""
    if not enabled():
        return None
    env = dict(os.environ)
    try:
        cwd = os.getcwd()
    except OSError:  # (a deleted directory: the command says so itself)
        return None
    path = forkserver.socket_path(ROLE, env, (forkserver.library_digest(),))
    if path is None:
        return None
    try:
        reply, pidfd, conn = forkserver.request(path, {"argv": argv, "env": env, "cwd": cwd}, [0, 1, 2])
    except OSError:  # nothing ran: the command runs here
        forkserver.start(ROLE, path, env)
        return None
    child = forkserver.Forked(reply["pid"], pidfd)
    received: list[int] = []

    def forward(signum, _frame):
        received.append(signum)
        child.send_signal(signum)

    def suspend(_signum, _frame):  # Ctrl-Z: the command stops with us, and goes on with us
        child.send_signal(signal.SIGSTOP)
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)
        signal.signal(signal.SIGTSTP, suspend)
        child.send_signal(signal.SIGCONT)
    for s in FORWARDED:
        signal.signal(s, forward)
    signal.signal(signal.SIGTSTP, suspend)
    with conn:
        status = b""
        while chunk := conn.recv(64):
            status += chunk
    child.wait()
    if status.strip().lstrip(b"-").isdigit():
        return int(status)
    if received:  # it died of a signal we passed on: so do we, as the shell expects
        signal.signal(received[-1], signal.SIG_DFL)
        os.kill(os.getpid(), received[-1])
    # Killed outright (the OOM killer, kill -9): say so with the shell's code for it, not 1
    # ("the runbook failed"): its evidence is a spool the next command archives.
    print("rovn-ops: the command's process was killed before it finished (out of memory?); the next "
          "rovn-ops command archives what it did as interrupted", file=sys.stderr)
    return 128 + signal.SIGKILL


# ------------------------------------------------------------- the server's side

def preload() -> None:
    from .evidence import render

    forkserver.preload(PRELOAD)
    render.prewarm()  # templates compiled, lexers and markdown loaded: every run renders at once


def check(req: dict, nfds: int) -> None:
    if nfds != 4 or not isinstance(req.get("argv"), list) or not all(isinstance(a, str) for a in req["argv"]):
        raise ValueError("expected argv and the three standard streams")


def child(req: dict, fds: list[int], conn) -> int:
    """Be the command: its streams, then cli.main; the exit code goes back to the client."""
    for target, fd in zip((0, 1, 2), fds):
        os.dup2(fd, target)
        os.close(fd)
    _reopen_stdio()
    sys.argv = ["rovn-ops", *req["argv"]]
    code = 1
    try:
        from . import cli

        code = cli.main(req["argv"])
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - printed as Python would, exit 1
        import traceback

        traceback.print_exc()
    finally:
        import atexit

        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        conn.sendall(str(code if isinstance(code, int) else 1).encode())
        conn.close()
    return code


def _reopen_stdio() -> None:
    """Streams buffered as Python would have opened them on these fds (line-buffered on
    a terminal; write-through under PYTHONUNBUFFERED)."""
    through = bool(os.environ.get("PYTHONUNBUFFERED"))
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        old = getattr(sys, name)
        stream = io.open(fd, mode, encoding=old.encoding, errors=old.errors, closefd=False)
        if mode == "w":
            stream.reconfigure(line_buffering=_tty(fd) or fd == 2, write_through=through)
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
