"""§9's read-only root filesystem, per launch type.

§9 says "read-only root FS in production task def (writable tmpfs mount only)". What
that means depends on where the task runs:

- every container has `readonlyRootFilesystem: true`;
- the app's scratch paths (/tmp) are writable, and nothing else is: a writable mount
  is either a tmpfs (`linuxParameters.tmpfs`, where the launch type supports it) or a
  task-level volume with no host path, no EFS and no Docker volume driver, which on
  Fargate is the task's ephemeral storage, gone with the task;
- tmpfs only where the launch type supports it: EC2 and EXTERNAL always; Fargate since
  ECS added tmpfs for Fargate Linux tasks on 2026-01-06 (`FARGATE_TMPFS` below: set it
  False for an account or partition without that feature, and tmpfs is refused there).
"""
from __future__ import annotations

SCRATCH_PATHS = ("/tmp",)
FARGATE_TMPFS = True  # ECS: tmpfs mounts on Fargate Linux tasks, since 2026-01-06
_PERSISTENT = ("host", "efsVolumeConfiguration", "dockerVolumeConfiguration",
               "fsxWindowsFileServerVolumeConfiguration", "configuredAtLaunch")


def launch_types(spec: dict) -> list[str]:
    return list(spec.get("requiresCompatibilities") or ["EC2"])


def tmpfs_supported(spec: dict) -> bool:
    return "FARGATE" not in launch_types(spec) or FARGATE_TMPFS


def ephemeral(volume: dict | None) -> bool:
    """A task-level volume with nothing behind it: the task's own scratch storage."""
    return volume is not None and not any(volume.get(k) for k in _PERSISTENT)


def problems(spec: dict, container: dict) -> list[str]:
    """What breaks §9 in one container: a writable root, a writable path other than the
    scratch paths (or one that would outlive the task), a scratch path left read-only."""
    name = container["name"]
    if not container.get("readonlyRootFilesystem"):
        return [f"container {name}: root filesystem is writable (readonlyRootFilesystem is not true)"]
    writable = _mounts(spec, container) + _tmpfs(spec, container)  # (path, what is wrong with it, or "")
    found = [why for _, why in writable if why]
    found += _scratch_missing(spec, {path for path, _ in writable})
    return [f"container {name}: {why}" for why in found]


def _mounts(spec: dict, container: dict) -> list[tuple[str, str]]:
    """Each writable mount point: its path, and why it may not be writable."""
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    return [(m.get("containerPath", ""), _mount_problem(m, volumes.get(m.get("sourceVolume"))))
            for m in container.get("mountPoints") or [] if not m.get("readOnly")]


def _mount_problem(mount: dict, volume: dict | None) -> str:
    path = mount.get("containerPath", "")
    if not ephemeral(volume):
        kind = next((k for k in _PERSISTENT if (volume or {}).get(k)), "an undeclared volume")
        return (f"{path} is writable through {mount.get('sourceVolume')} ({kind}); "
                "only task-level volumes without host path or EFS may be writable")
    return "" if path in SCRATCH_PATHS else f"{path} is writable; only {', '.join(SCRATCH_PATHS)} may be"


def _tmpfs(spec: dict, container: dict) -> list[tuple[str, str]]:
    """Each tmpfs: its path, and why it may not be there."""
    mounts = [t.get("containerPath", "") for t in (container.get("linuxParameters") or {}).get("tmpfs") or []]
    return [(path, _tmpfs_problem(spec, path)) for path in mounts]


def _tmpfs_problem(spec: dict, path: str) -> str:
    if not tmpfs_supported(spec):
        return (f"tmpfs at {path} is not supported on {'/'.join(launch_types(spec))}; "
                "mount a task-level volume there instead")
    return "" if path in SCRATCH_PATHS else f"tmpfs at {path}; only {', '.join(SCRATCH_PATHS)} may be writable"


def _scratch_missing(spec: dict, writable: set[str]) -> list[str]:
    missing = [p for p in SCRATCH_PATHS if p not in writable]
    if not missing:
        return []
    return [f"no writable {', '.join(missing)}: mount a task-level volume (no host path, no EFS) there"
            + (" or a tmpfs" if tmpfs_supported(spec) else "")]
