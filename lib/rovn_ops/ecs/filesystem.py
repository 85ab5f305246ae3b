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
    name = container["name"]
    if not container.get("readonlyRootFilesystem"):
        return [f"container {name}: root filesystem is writable (readonlyRootFilesystem is not true)"]
    found, writable = [], set()
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    for m in container.get("mountPoints") or []:
        if m.get("readOnly"):
            continue
        path, volume = m.get("containerPath", ""), volumes.get(m.get("sourceVolume"))
        if not ephemeral(volume):
            kind = next((k for k in _PERSISTENT if (volume or {}).get(k)), "an undeclared volume")
            found.append(f"container {name}: {path} is writable through {m.get('sourceVolume')} ({kind}); "
                         "only task-level volumes without host path or EFS may be writable")
        elif path not in SCRATCH_PATHS:
            found.append(f"container {name}: {path} is writable; only {', '.join(SCRATCH_PATHS)} may be")
        writable.add(path)
    for t in (container.get("linuxParameters") or {}).get("tmpfs") or []:
        path = t.get("containerPath", "")
        if not tmpfs_supported(spec):
            found.append(f"container {name}: tmpfs at {path} is not supported on "
                         f"{'/'.join(launch_types(spec))}; mount a task-level volume there instead")
        elif path not in SCRATCH_PATHS:
            found.append(f"container {name}: tmpfs at {path}; only {', '.join(SCRATCH_PATHS)} may be writable")
        writable.add(path)
    missing = [p for p in SCRATCH_PATHS if p not in writable]
    if missing:
        found.append(f"container {name}: no writable {', '.join(missing)}: mount a task-level volume "
                     "(no host path, no EFS) there" + (" or a tmpfs" if tmpfs_supported(spec) else ""))
    return found
