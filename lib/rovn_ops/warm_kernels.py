"""Warm kernels: a run's kernel forked from a process that has already imported
ipykernel and the heavy libraries the runbooks use (pandas, numpy, matplotlib,
boto3, psycopg, sqlglot…), instead of a fresh Python that imports them again.

A kernel costs ~1–2 s of CPU in imports before its first cell; forked, ~20 ms. The
runner asks for a warm kernel first and launches a cold one as before when none is
there; it then starts the fork server in the background for the next run, which
exits by itself after IDLE_S without a request.

What a forked kernel gets is what a launched one would: the run's whole environment
(it replaces the server's), its working directory, a new session (Ctrl-C on the
terminal reaches the runner, not the kernel), /dev/null for fds 0–2, default signal
handlers, and fresh random state. It dies with the runner as a launched kernel does
(ipykernel's parent poller cannot see the runner: the server is the parent).

Only the runner's user can reach the server: its socket is in a 0700 directory the
user owns, and the server checks the peer's uid. It imports third-party libraries
only, never rovn_ops (an edit to the library takes effect at the next run), and a
server is keyed by the interpreter, the installed packages and the environment
variables those libraries read at import, so a `make venv` or another MPLBACKEND
gets another server. `ROVN_WARM_KERNELS=0` turns warm kernels off.
"""
from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

IDLE_S = 20 * 60
PRELOAD = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "IPython.core.interactiveshell",
           "matplotlib_inline.backend_inline", "jupyter_client.session", "numpy", "pandas", "matplotlib",
           "matplotlib.pyplot", "boto3", "botocore.client", "botocore.session", "s3transfer", "urllib3", "psycopg",
           "pydantic", "sqlglot", "yaml", "cryptography.hazmat.primitives.asymmetric.ed25519",
           "cryptography.fernet", "ahocorasick_rs", "IPython.core.debugger", "IPython.core.completerlib",
           "IPython.core.oinspect", "IPython.extensions.storemagic", "sqlite3", "psutil", "tornado.platform.asyncio",
           "tornado.queues")
# Read by those libraries when they are imported: a different value needs another server.
IMPORT_ENV = ("PYTHON", "MPL", "OMP_", "OPENBLAS", "MKL_", "NUMEXPR", "LD_", "JUPYTER", "IPYTHON", "XDG_",
              "HOME", "TZ", "LANG", "LC_", "PANDAS", "BOTO", "AWS_DATA_PATH")
INLINE = "module://matplotlib_inline.backend_inline"


def enabled() -> bool:
    return os.environ.get("ROVN_WARM_KERNELS", "1") != "0" and hasattr(os, "pidfd_open") and hasattr(os, "fork")


# ---------------------------------------------------------------------------- client

def launch(cmd: list[str], env: dict, cwd: str) -> "ForkedKernel | None":
    """A warm kernel for `cmd` (the kernel spec's argv), or None: the caller launches
    it cold, and the server is started for the runs after this one."""
    if not enabled() or not _is_ipykernel(cmd):
        return None
    path = socket_path(env)
    if path is None:
        return None
    try:
        return _request(path, cmd, env, cwd)
    except (OSError, ValueError):
        start_server(path, env)
        return None


def _is_ipykernel(cmd: list[str]) -> bool:
    """The stock python3 spec on this interpreter: `python -m ipykernel_launcher -f FILE`,
    plus the `--Trait=value` options nbclient adds."""
    return (len(cmd) >= 5 and cmd[1:4] == ["-m", "ipykernel_launcher", "-f"]
            and all(a.startswith("--") and "=" in a for a in cmd[5:])
            and os.path.realpath(cmd[0]) == os.path.realpath(sys.executable))


def key(env: dict) -> str:
    """The interpreter, the installed packages (a site-packages directory changes when
    one is installed or removed) and the import-time environment."""
    import site

    dirs = [d for d in site.getsitepackages() if os.path.isdir(d)]
    parts = [sys.executable, sys.version, *(f"{d}:{os.stat(d).st_mtime_ns}" for d in dirs),
             *sorted(f"{k}={v}" for k, v in env.items() if k.startswith(IMPORT_ENV))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def directory() -> Path | None:
    """Private to this user (0700, owned by it), or None: no warm kernels then."""
    base = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "rovn-ops")
    d = Path(base) / "kernels"
    try:
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = d.lstat()
    except OSError:
        return None
    if not d.is_dir() or d.is_symlink() or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None
    return d


def socket_path(env: dict) -> Path | None:
    d = directory()
    return d / f"{key(env)}.sock" if d else None


def _request(path: Path, cmd: list[str], env: dict, cwd: str) -> "ForkedKernel":
    """Ask the server for a kernel; our pidfd goes along, so the kernel dies with us."""
    me = os.pidfd_open(os.getpid())
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(str(path))
            body = json.dumps({"cmd": cmd, "env": env, "cwd": str(cwd)}).encode()
            socket.send_fds(s, [len(body).to_bytes(8, "big") + body], [me])
            data, fds, _, _ = socket.recv_fds(s, 1024, 1)
    finally:
        os.close(me)
    reply = json.loads(data or b"{}")
    if not fds or "pid" not in reply:
        for fd in fds:
            os.close(fd)
        raise ConnectionError(reply.get("error") or "no kernel from the warm-kernel server")
    return ForkedKernel(reply["pid"], fds[0])


def start_server(path: Path, env: dict) -> None:
    """In the background, with the run's import-time environment; one per key (a lock)."""
    import fcntl

    lock = open(f"{path}.lock", "a")  # noqa: SIM115 - held by the server's lifetime, released on exit
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # another run is starting it
        lock.close()
        return
    path.unlink(missing_ok=True)  # a server that died left its socket
    # Only what imports read (and PATH): never the run's own variables, its redaction key among them.
    server_env = {k: v for k, v in env.items() if k.startswith(IMPORT_ENV) or k in ("PATH", "VIRTUAL_ENV")}
    subprocess.Popen([sys.executable, "-m", "rovn_ops.warm_kernels", str(path), str(lock.fileno())],
                     pass_fds=(lock.fileno(),), env=server_env, start_new_session=True, cwd="/",
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lock.close()  # the server holds it now, for as long as it lives


class ForkedKernel:
    """The Popen-like handle jupyter_client's provisioner keeps, over a pidfd (the
    kernel is the server's child, not ours; a pidfd never points at a reused pid)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, pidfd: int):
        self.pid, self._fd, self.returncode = pid, pidfd, None

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._fd], [], [], 0)[0]:
            self.returncode = 0  # not our child: its exit status is the server's to read
            os.close(self._fd)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired("warm kernel", timeout)
            select.select([self._fd], [], [], left)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            signal.pidfd_send_signal(self._fd, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def stop(d: Path | None = None) -> list[int]:
    """Stop this user's servers (their kernels run on, each until its run ends)."""
    stopped = []
    for lock in (d or directory() or Path("/nonexistent")).glob("*.sock.lock"):
        try:
            pid = int(lock.read_text().strip() or 0)
            if pid and _is_server(pid):
                os.kill(pid, signal.SIGTERM)
                stopped.append(pid)
        except (OSError, ValueError):
            pass
    return stopped


def _is_server(pid: int) -> bool:
    try:
        return b"rovn_ops.warm_kernels" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


# ---------------------------------------------------------------------------- server

def serve(path: Path, lock_fd: int) -> None:
    os.ftruncate(lock_fd, 0)
    os.write(lock_fd, f"{os.getpid()}\n".encode())  # for stop()
    os.environ.setdefault("MPLBACKEND", INLINE)  # what ipykernel sets before a notebook imports matplotlib
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - a library missing here is imported by the kernel itself
            pass
    assert threading.active_count() == 1, "a preloaded library started a thread: forking would be unsafe"
    signal.signal(signal.SIGCHLD, _reap)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # (stop(): the socket goes with it)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    srv.bind(str(tmp))
    os.chmod(tmp, 0o600)
    srv.listen(16)
    os.rename(tmp, path)  # clients only ever see a socket that is listening
    srv.settimeout(IDLE_S)
    try:
        while True:
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                return
            with conn:
                _serve_one(srv, conn, lock_fd)
    finally:
        path.unlink(missing_ok=True)  # (no other server starts while this one holds the lock)


def _reap(*_) -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def _serve_one(srv, conn, lock_fd: int) -> None:
    import struct

    uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
    if uid != os.getuid():
        return
    conn.settimeout(10)
    head, fds, _, _ = socket.recv_fds(conn, 8, 1)
    body = b""
    size = int.from_bytes(head, "big") if len(head) == 8 else 0
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            break
        body += chunk
    try:
        req = json.loads(body)
        if not fds or not _is_ipykernel(req["cmd"]):
            raise ValueError("not a stock ipykernel command")
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})  # the child is not reaped before its pidfd exists
        try:
            pid = os.fork()
            if pid == 0:
                for held in (srv, conn):
                    held.close()
                os.close(lock_fd)  # the next server must not wait for this kernel to end
                _kernel(req, runner_fd=fds[0])  # never returns
            kernel_fd = os.pidfd_open(pid)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        socket.send_fds(conn, [json.dumps({"pid": pid}).encode()], [kernel_fd])
        os.close(kernel_fd)
    except Exception as e:  # noqa: BLE001 - the client launches a cold kernel instead
        conn.sendall(json.dumps({"error": f"{type(e).__name__}: {e}"}).encode())
    finally:
        for fd in fds:
            os.close(fd)


def _kernel(req: dict, runner_fd: int) -> None:
    """In the forked child: become the kernel the runner asked for."""
    try:
        os.setsid()
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        for s in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(s, signal.SIG_DFL if s != signal.SIGINT else signal.default_int_handler)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        time.tzset()
        for name in [m for m in sys.modules if m == "rovn_ops" or m.startswith("rovn_ops.")]:
            del sys.modules[name]  # the library as it is on disk now, not as the server found it
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()  # (the random module reseeds itself at fork)
        threading.Thread(target=_die_with, args=(runner_fd,), daemon=True).start()
        sys.argv = ["ipykernel_launcher", *req["cmd"][3:]]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
    finally:
        os._exit(0)


def _die_with(runner_fd: int) -> None:
    """As ipykernel's parent poller does for a launched kernel: the runner is gone, so
    is this kernel (and what it started, in its session)."""
    select.select([runner_fd], [], [])
    os.killpg(0, signal.SIGKILL)


if __name__ == "__main__":
    serve(Path(sys.argv[1]), int(sys.argv[2]))
