"""Where the project's files live. ROVN_HOME overrides the project root."""
from __future__ import annotations

import os
from pathlib import Path


def root() -> Path:
    return Path(os.environ.get("ROVN_HOME") or Path(__file__).resolve().parents[3])


def runbooks() -> Path:
    return root() / "runbooks"


def parameters() -> Path:
    return root() / "parameters"


def evidence() -> Path:
    return Path(os.environ.get("ROVN_EVIDENCE_DIR") or root() / "evidence")


def sandbox_state() -> Path:
    return Path(os.environ.get("ROVN_SANDBOX_DIR") or root() / ".sandbox")


def project_path(value: str) -> Path:
    """A path from a parameter: absolute, or relative to the project root."""
    p = Path(value)
    return p if p.is_absolute() else root() / p


def spool() -> Path:
    """Runs' private working directories until their evidence is archived (see spool.py)."""
    return Path(os.environ.get("ROVN_SPOOL_DIR") or evidence() / ".spool")


def ensure_runtime_dir() -> str:
    """XDG_RUNTIME_DIR, set where it is unset (a container, CI, `su`): pgserver asks
    platformdirs for it at import and warns (RuntimeDirWarning) when it is missing. The
    value is the one platformdirs falls back to (/run/user/UID when it is ours and 0700,
    else /tmp/runtime-UID, made 0700), so every process agrees on pgserver's lock file."""
    if os.environ.get("XDG_RUNTIME_DIR"):
        return os.environ["XDG_RUNTIME_DIR"]
    uid = os.getuid()
    run = Path(f"/run/user/{uid}")
    try:
        st = run.lstat()
        ok = run.is_dir() and not run.is_symlink() and st.st_uid == uid and st.st_mode & 0o777 == 0o700
    except OSError:
        ok = False
    if not ok:
        run = Path(f"/tmp/runtime-{uid}")  # noqa: S108 - platformdirs' own fallback, checked below
        run.mkdir(mode=0o700, exist_ok=True)
        st = run.lstat()
        if run.is_symlink() or st.st_uid != uid:  # someone else's: leave the variable unset
            return ""
        os.chmod(run, 0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(run)
    return str(run)
