"""Where the project's files live. ROVN_HOME overrides the project root."""
from __future__ import annotations

import os
from pathlib import Path


def root() -> Path:
    return Path(os.environ.get("ROVN_HOME") or Path(__file__).resolve().parents[2])


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
