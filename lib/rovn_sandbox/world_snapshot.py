"""The seeded world, kept once and restored by every reset.

Seeding through moto's HTTP API, building the database's history with the real
migration engine and creating the source repository cost ~0.8 s a reset (more
under load), and the tests reset before most of their cases. What seeding builds
depends only on parameters/sandbox.yaml (read once per process) and on the sample
source, migrations and PHI registry, so the sandbox seeds once and keeps:

- moto's state: every service backend, pickled in one piece (moto runs in this
  process; one pickle keeps the references between services' objects);
- the database: a template database, copied back by CREATE DATABASE … TEMPLATE;
- the source checkout and its remote: a copy of both directories.

A reset restores those: a test's task definitions, secret versions, evidence
objects (object lock included), audit rows, commits and tags are gone, and ARNs,
revisions, version ids, rows and SHAs are those of the seed, byte for byte.
"""
from __future__ import annotations

import io
import os
import pickle
import shutil
import stat
import threading
import typing
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import types as key_types

from rovn_sandbox import moto_guard

_LOCKS = {type(threading.Lock()): threading.Lock, type(threading.RLock()): threading.RLock}
_KEYS = typing.get_args(key_types.PrivateKeyTypes) + typing.get_args(key_types.PublicKeyTypes)
_is_key: dict[type, bool] = {}
# A BackendDict's own attributes; any other (S3's bucket_accounts) is state to keep.
_STRUCTURE = {"backend", "service_name", "_use_boto3_regions", "_additional_regions", "_id"}


class _Pickler(pickle.Pickler):
    """Backend containers stay the live objects, by reference (`live`); so do
    cryptographic keys (KMS keys, RDS certificates), which pickle refuses and which are
    immutable. Locks, which pickle refuses too, come back as new locks."""

    def __init__(self, file, live: dict[tuple, object]):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.live = live
        self.refs = {id(obj): pid for pid, obj in live.items()}

    def persistent_id(self, obj):
        kind = type(obj)
        if kind not in _is_key:  # isinstance against the key ABCs, once per type
            _is_key[kind] = isinstance(obj, _KEYS)
        if _is_key[kind] and id(obj) not in self.refs:
            pid = ("key", len(self.refs))
            self.refs[id(obj)], self.live[pid] = pid, obj
        return self.refs.get(id(obj))

    def reducer_override(self, obj):
        if type(obj) in _LOCKS:
            return _LOCKS[type(obj)], ()
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, live: dict[tuple, object]):
        super().__init__(file)
        self.live = live

    def persistent_load(self, pid):
        return self.live[pid]


class MotoState:
    """Every moto backend in this process as it is now; `restore` puts it back. It reads
    and writes moto 5.2.5's private registry of backends (BackendDict._instances) and
    its model-instance tracker, which moto may change in any release: hence the guard."""

    @moto_guard.patches
    def __init__(self):
        from moto.core.base_backend import BackendDict, backend_lock

        with backend_lock:
            self.services = list(BackendDict._instances)
            self.live: dict[tuple, object] = {}
            for i, service in enumerate(self.services):
                self.live[("service", i)] = service
                for account, regions in service.items():
                    self.live[("account", i, account)] = regions
            state = [({account: dict(regions) for account, regions in service.items()},
                      {k: v for k, v in vars(service).items() if k not in _STRUCTURE})
                     for service in self.services]
            buf = io.BytesIO()
            _Pickler(buf, self.live).dump(state)
            self.blob = buf.getvalue()

    def restore(self) -> None:
        from moto.core.base_backend import BackendDict, backend_lock
        from moto.core.model_instances import reset_model_data

        with backend_lock:
            # The live keys' buffers closed first: the restored keys' new buffers are
            # tracked too (moto's instance tracker), and disposing after would close them,
            # leaving every seeded object unreadable (500 "I/O operation on closed file").
            _dispose_s3_buffers()
            state = _Unpickler(io.BytesIO(self.blob), self.live).load()
            reset_model_data()
            for service in BackendDict._instances:
                if not any(service is kept for kept in self.services):
                    dict.clear(service)  # a service first used after the seed: back to unused
            BackendDict._instances[:] = self.services
            for i, (service, (accounts, extra)) in enumerate(zip(self.services, state)):
                dict.clear(service)
                for account, regions in accounts.items():
                    per_account = self.live[("account", i, account)]
                    dict.clear(per_account)
                    dict.update(per_account, regions)
                    dict.__setitem__(service, account, per_account)
                vars(service).update(extra)


def _dispose_s3_buffers() -> None:
    """S3 objects hold temporary files: close them, as moto's own reset does."""
    from moto.s3.models import FakeKey, FakeMultipart, s3_backends

    for backend in (b for regions in s3_backends.values() for b in regions.values()):
        for bucket in backend.buckets.values():
            for key in bucket.keys.values():
                if isinstance(key, FakeKey):
                    key.dispose()
            for part in bucket.multiparts.values():
                part.dispose()
    for tracked in (*FakeKey.instances_tracked, *FakeMultipart.instances_tracked):
        tracked.dispose()


class Directories:
    """Directories (the source checkout, its bare remote) as they are now, held in memory
    (~70 entries, ~300 kB); `restore` puts back what differs, and removes what was added.
    Most tests leave the checkout alone: then restoring is reading it once."""

    def __init__(self, *dirs: Path):
        self.trees = {d: _tree(d) for d in dirs}

    def restore(self) -> None:
        for root, kept in self.trees.items():
            try:
                _sync(root, kept)
            except OSError:  # something _sync cannot undo in place (a read-only directory): all anew
                shutil.rmtree(root, ignore_errors=True)
                _sync(root, kept)


def _tree(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every entry under root: relative path -> (mode, content; a link's target; None for a directory)."""
    tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISDIR(st.st_mode):
                data = None
            elif stat.S_ISLNK(st.st_mode):
                data = os.readlink(path).encode()
            else:
                with open(path, "rb") as f:
                    data = f.read()
            tree[os.path.relpath(path, root)] = (st.st_mode, data)
    return tree


def _sync(root: Path, kept: dict[str, tuple[int, bytes | None]]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    now = _tree(root)
    for rel in sorted(now, reverse=True):  # children before their directory
        if rel not in kept or now[rel] != kept[rel] and (now[rel][1] is None) != (kept[rel][1] is None):
            path = root / rel
            shutil.rmtree(path) if now[rel][1] is None and not path.is_symlink() else path.unlink()
            del now[rel]
    for rel in sorted(kept):  # parents before their entries
        if now.get(rel) == kept[rel]:
            continue
        mode, data = kept[rel]
        path = root / rel
        if data is None:
            path.mkdir(exist_ok=True)
        elif stat.S_ISLNK(mode):
            path.unlink(missing_ok=True)
            path.symlink_to(data.decode())
            continue
        else:
            path.unlink(missing_ok=True)  # a new inode: a hard link elsewhere keeps its bytes
            path.write_bytes(data)
        path.chmod(stat.S_IMODE(mode))


def inputs_stamp(*paths: Path) -> tuple:
    """What the seeded database and checkout are built from, as names, sizes and times:
    an edited sample migration rebuilds them at the next reset."""
    files = []
    for root in paths:
        for p in sorted([root] if root.is_file() else root.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                st = p.stat()
                files.append((str(p), st.st_size, st.st_mtime_ns))
    return tuple(files)
