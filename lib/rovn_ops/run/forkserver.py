"""Fork servers: a process that has imported what a role needs once, and forks a
ready child per request instead of a fresh Python importing it all again (1–2 s of
CPU each time). One role uses it: warm_kernels (a run's kernel).

Only the user who owns a server can reach it: its socket is in a 0700 directory
the user owns (checked, never followed through a symlink) and the server checks the
peer's uid. A server is keyed by its role, the interpreter, the installed packages
(a site-packages directory changes when one is installed or removed), the
environment variables libraries read when they are imported, and the library's own
files (the kernels import it), so a `make venv`, an edit or another
MPLBACKEND gets a new server. It gets only those variables, never a run's own. It
exits after IDLE_S without a request. `ROVN_WARM=0` turns both roles off.

A child gets the requester's whole environment and working directory, default
signal handlers, fresh random state, and dies when the requester dies (its pidfd
is passed along), as a launched process would with its parent.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

IDLE_S = 20 * 60
# Read by libraries when they are imported: a different value needs another server.
IMPORT_ENV = ("PYTHON", "MPL", "OMP_", "OPENBLAS", "MKL_", "NUMEXPR", "LD_", "JUPYTER", "IPYTHON", "XDG_",
              "HOME", "TZ", "LANG", "LC_", "PANDAS", "BOTO", "AWS_DATA_PATH")
MAX_REQUEST = 4 << 20


def enabled(switch: str) -> bool:
    return (os.environ.get("ROVN_WARM", "1") != "0" and os.environ.get(switch, "1") != "0"
            and hasattr(os, "pidfd_open") and hasattr(socket, "send_fds"))


SECRET_NAMES = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "_KEY")


def import_env(env: dict) -> dict:
    """What a server gets of a run's environment: what imports read, and PATH; never a
    variable named like a secret (JUPYTER_TOKEN)."""
    return {k: v for k, v in env.items() if (k.startswith(IMPORT_ENV) or k in ("PATH", "VIRTUAL_ENV"))
            and not any(n in k.upper() for n in SECRET_NAMES)}


def key(role: str, env: dict, extra: tuple = ()) -> str:
    import site

    dirs = [d for d in site.getsitepackages() if os.path.isdir(d)]
    parts = [role, sys.executable, sys.version, *(f"{d}:{os.stat(d).st_mtime_ns}" for d in dirs),
             *sorted(f"{k}={v}" for k, v in import_env(env).items()), *map(str, extra)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def library_digest() -> str:
    """The library's files as they are now, by content (a copied or extracted file can
    keep an old mtime and size): a server that imported other ones is another's."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(str(root).encode())
    for f in sorted(root.rglob("*.py")):
        digest.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()


def directory() -> Path | None:
    """Private to this user (0700, owned by it), or None: no fork servers then."""
    base = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "rovn-ops")
    d = Path(base) / "kernels"
    try:
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = d.lstat()
    except OSError:
        return None
    if d.is_symlink() or not d.is_dir() or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None
    return d


def socket_path(role: str, env: dict, extra: tuple = ()) -> Path | None:
    d = directory()
    path = d / f"{_prefix(role)}{key(role, env, extra)}.sock" if d else None
    return path if path and len(os.fsencode(path)) < 104 else None  # (a Unix socket's path limit)


def _prefix(role: str) -> str:
    """A role's servers on this interpreter: a new one retires the others (an edit, a
    `make venv`), rather than leaving them to idle out."""
    return f"{role.split('.')[-1]}-{hashlib.sha256(sys.executable.encode()).hexdigest()[:8]}-"


def process_context() -> dict:
    """What a forked child must share with its requester, beyond the environment: the
    umask, niceness and limits it applies, and the namespaces and cgroup it must be in
    already (a server elsewhere refuses, and the requester does the work itself)."""
    import resource

    limits = {name: list(resource.getrlimit(getattr(resource, name))) for name in dir(resource)
              if name.startswith("RLIMIT_")}
    return {"umask": _umask(), "nice": os.getpriority(os.PRIO_PROCESS, 0), "limits": limits, "where": _where()}


def _umask() -> int:
    """Read, not set: os.umask(0) and back would let another thread of the runner (the
    archiver's) create a file with no mask in between."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Umask:"):
            return int(line.split()[1], 8)
    raise OSError("no Umask in /proc/self/status")  # (Linux < 4.7: no warm servers)


def _where() -> dict:
    where = {}
    for ns in ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts"):
        try:
            where[ns] = os.readlink(f"/proc/self/ns/{ns}")
        except OSError:
            where[ns] = ""
    try:
        where["cgroup_path"] = Path("/proc/self/cgroup").read_text()
    except OSError:
        where["cgroup_path"] = ""
    return where


# ---------------------------------------------------------------------------- client

class Unavailable(OSError):
    """No child will run the request (no server, a refusal, or a failure before our
    go): the caller does the work itself, and starts a server for the next time."""


def request(path: Path, payload: dict, fds: list[int]) -> tuple[dict, int, socket.socket]:
    """A child for `payload`: (reply, the child's pidfd, the open connection). Our own
    pidfd goes along after `fds`, so the child dies with us. A forked child runs only
    once it reads our go, sent last: whatever fails before that, nothing has run, and
    nothing will (the child reads the end of the connection and exits)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    got: list[int] = []
    me = -1
    try:
        s.settimeout(5)
        # Through the directory as opened and checked now (not a symlink, ours, 0700): a
        # directory renamed or swapped since directory() looked at it is not followed.
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            st = os.fstat(folder)
            if st.st_uid != os.getuid() or st.st_mode & 0o077:
                raise PermissionError(f"{path.parent} is not private to this user")
            s.connect(f"/proc/self/fd/{folder}/{path.name}")
        finally:
            os.close(folder)
        if _peer_uid(s) != os.getuid():  # a socket another user put there: tell it nothing
            raise PermissionError(f"the fork server at {path} is not this user's")
        s.settimeout(None)  # a slow server is waited for, however slow: nothing runs before our go
        me = os.pidfd_open(os.getpid())
        body = json.dumps(payload | {"context": process_context()}).encode()
        socket.send_fds(s, [len(body).to_bytes(8, "big") + body], [*fds, me])
        data, got, _, _ = socket.recv_fds(s, 1024, 1)
        try:
            reply = json.loads(data or b"{}")
        except ValueError:
            reply = {}
        if not (got and "pid" in reply):
            raise ConnectionError(reply.get("error") or "the fork server gave no child")
        s.sendall(b"g")  # go
        return reply, got[0], s
    except OSError as e:
        for fd in got:
            os.close(fd)
        s.close()
        raise Unavailable(f"no warm child from {path}: {e}") from None
    finally:
        if me >= 0:
            os.close(me)


def _peer_uid(s: socket.socket) -> int:
    return struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]


def start(role: str, path: Path, env: dict) -> None:
    """Start the role's server in the background, unless another run is starting it;
    the role's other servers on this interpreter are retired."""
    import fcntl

    for old in path.parent.glob(f"{_prefix(role)}*.sock.lock"):
        if old.name != f"{path.name}.lock":
            stop_one(old)

    lock = open(f"{path}.lock", "a")  # noqa: SIM115 - the server holds it for its lifetime
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        return
    path.unlink(missing_ok=True)  # a server that died left its socket
    log = os.open(path.with_suffix(".log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # why it failed, if it does
    subprocess.Popen([sys.executable, "-m", "rovn_ops.run.forkserver", role, str(path), str(lock.fileno())],
                     pass_fds=(lock.fileno(),), env=import_env(env), start_new_session=True, cwd="/",
                     stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    os.close(log)
    lock.close()


def stop(d: Path | None = None) -> list[int]:
    """Stop this user's servers (children already forked run on to their end)."""
    return [pid for lock in (d or directory() or Path("/nonexistent")).glob("*.sock.lock") if (pid := stop_one(lock))]


def stop_one(lock: Path) -> int:
    """The server holding `lock` (it wrote its pid there), told to stop; 0 if none holds
    it. The flock, not the pid, says a server lives: a dead server's pid may be reused,
    even by a child another server forked (a run), which shares its command line."""
    import fcntl

    try:
        with open(lock) as f:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return 0  # nobody holds it: that server is gone
            except OSError:
                pid = int(f.read().strip() or 0)
        if pid and pid != os.getpid():
            os.kill(pid, signal.SIGTERM)
            return pid
    except (OSError, ValueError):
        pass
    return 0


class Forked:
    """The Popen-like handle of a child the server forked (not ours: its exit status
    is the server's), over a pidfd, which never points at a reused pid."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, pidfd: int):
        self.pid, self._fd, self.returncode = pid, pidfd, None

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._fd], [], [], 0)[0]:
            self.returncode = 0
            os.close(self._fd)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired("forked child", timeout)
            select.select([self._fd], [], [], left)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            try:
                signal.pidfd_send_signal(self._fd, signum)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


# ---------------------------------------------------------------------------- server

SERVICES = ("secretsmanager", "ecs", "cloudwatch", "rds", "s3", "ecr", "logs", "codebuild", "synthetics", "sts",
            "iam", "elbv2")


def preload(modules: tuple[str, ...]) -> None:
    """A role's imports, and botocore's models parsed for every child to share. A module
    that fails here is imported (and fails, if it must) in the child that needs it."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001
            pass
    share_botocore_models()


def share_botocore_models() -> None:
    """Every botocore session in a child shares one loader with the service models the
    library uses already parsed (a fresh session parses endpoints.json and each model
    again: ~0.1 s of CPU for the clients of one run). Loaded data is read-only to
    botocore: within one process its sessions' clients share it already."""
    import botocore.session

    loaders: dict = {}
    create = botocore.session.create_loader

    def shared(search_path_string=None):
        if search_path_string not in loaders:
            loaders[search_path_string] = create(search_path_string)
        return loaders[search_path_string]
    botocore.session.create_loader = shared
    session = botocore.session.Session()
    for name in SERVICES:
        try:
            session.create_client(name, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        except Exception:  # noqa: BLE001 - a model this botocore lacks is loaded by whoever needs it
            pass


def serve(role: str, path: Path, lock_fd: int) -> None:
    os.ftruncate(lock_fd, 0)
    os.write(lock_fd, f"{os.getpid()}\n".encode())  # for stop()
    handler = importlib.import_module(role)
    handler.preload()
    import gc

    gc.freeze()  # what is loaded stays shared: a child's collections never touch (and copy) it
    if threading.active_count() != 1:
        raise SystemExit("a preloaded library started a thread: forking would be unsafe")
    signal.signal(signal.SIGCHLD, _reap)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
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
                _serve_one(handler, srv, conn, lock_fd)
    finally:
        path.unlink(missing_ok=True)  # (no other server starts while this one holds the lock)


def _reap(*_) -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def _read_request(conn) -> tuple[dict, list[int]]:
    conn.settimeout(2)  # a client sends at once; a silent one holds up the queue no longer (it then runs here)
    head, fds, _, _ = socket.recv_fds(conn, 8, 8)
    size = int.from_bytes(head, "big") if len(head) == 8 else 0
    if not 0 < size <= MAX_REQUEST:
        raise ValueError("bad request size")
    body = bytearray()
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise ValueError("short request")
        body += chunk
    return json.loads(body), fds


def _serve_one(handler, srv, conn, lock_fd: int) -> None:
    import traceback

    uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
    if uid != os.getuid():
        return
    fds: list[int] = []
    try:
        try:
            req, fds = _read_request(conn)
            handler.check(req, len(fds))
            _check_context(req.get("context") or {})
        except Exception as e:  # noqa: BLE001 - refused before forking: the client does the work itself
            traceback.print_exc()  # into the server's log
            conn.sendall(json.dumps({"error": f"{type(e).__name__}: {e}"}).encode())
            return
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})  # not reaped before its pidfd exists
        try:
            pid = os.fork()
            if pid == 0:
                srv.close()
                os.close(lock_fd)  # the next server must not wait for this child to end
                _child(handler, req, fds, conn)  # never returns
            child_fd = os.pidfd_open(pid)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        try:
            socket.send_fds(conn, [json.dumps({"pid": pid}).encode()], [child_fd])
        except OSError:  # the client cannot know of the child: it must not run on unseen
            traceback.print_exc()
            signal.pidfd_send_signal(child_fd, signal.SIGKILL)
        finally:
            os.close(child_fd)
    except OSError:
        traceback.print_exc()
    finally:
        for fd in fds:
            os.close(fd)


def _check_context(ctx: dict) -> None:
    """A requester in other namespaces or another cgroup (unshare, a container, a
    systemd scope), or with limits or a priority a child could not take on, is refused."""
    import resource

    if ctx.get("where") != _where():
        raise ValueError("the requester runs in other namespaces or another cgroup")
    if ctx.get("nice", 0) < os.getpriority(os.PRIO_PROCESS, 0):
        raise ValueError("the requester has a higher priority than the server")
    for name, (_soft, hard) in (ctx.get("limits") or {}).items():
        mine = resource.getrlimit(getattr(resource, name))[1]
        if mine != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or hard > mine):
            raise ValueError(f"the requester's {name} is above the server's")


def _apply_context(ctx: dict) -> None:
    import resource

    os.umask(ctx.get("umask", 0o022))
    nice = ctx.get("nice", 0)
    if nice != os.getpriority(os.PRIO_PROCESS, 0):
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    for name, (soft, hard) in (ctx.get("limits") or {}).items():
        resource.setrlimit(getattr(resource, name), (soft, hard))


def _child(handler, req: dict, fds: list[int], conn) -> None:
    """In the forked child: the requester's environment, then the role's work."""
    code = 1
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        for s in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as Python starts: a closed pipe is an error, not death
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if getattr(handler, "SESSION", False):  # a session of its own (a kernel: Ctrl-C reaches the runner)
            os.setsid()
        else:  # a group of its own: what it starts dies with it (_die_with)
            os.setpgid(0, 0)
        threading.Thread(target=_die_with, args=(fds[-1],), daemon=True).start()
        if conn.recv(1) != b"g":  # the requester gave up before it was told of this child
            os._exit(0)
        _apply_context(req.get("context") or {})
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        time.tzset()
        import tempfile

        tempfile.tempdir = None  # (cached by the server from its own TMPDIR)
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()  # (the random module reseeds itself at fork)
        code = handler.child(req, fds[:-1], conn)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - as an uncaught exception ends a process
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code if isinstance(code, int) else 1)


def _die_with(requester_fd: int) -> None:
    """The requester is gone (killed, even by SIGKILL): so is this child, and what it
    started in its process group, as with a process whose parent died."""
    select.select([requester_fd], [], [])
    if os.getpgid(0) == os.getpid():  # its own group (or session, a kernel's): what it started too
        os.killpg(0, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    serve(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]))
