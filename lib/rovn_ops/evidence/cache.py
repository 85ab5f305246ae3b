"""The archive's fifth stage: the evidence directory, a local cache of the archive of
record (archive.py runs the stages).

An anchored run's staging directory, with its signed ledger entry as signature.json,
moves into <evidence>/<day>/<run id> in one rename; the cache's ledger is brought up to
the authoritative chain in audit_log, other machines' runs included; the public key is
exported beside it (for convenience: verify trusts the pinned key id)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from rovn_ops.evidence import anchor, ledger, signing


def store(conn, staging: Path, root: Path, rel: str, line: dict, key) -> Path:
    """The run's directory in the cache `root`, at `rel` (<day>/<run id>). `line`: the run's
    ledger entry as anchored. Idempotent: after the move, a recovery finds the staging
    directory gone and the archived copy stands."""
    final = root / rel
    if staging.is_dir():
        (staging / "signature.json").write_text(json.dumps(line, indent=2, sort_keys=True) + "\n")
        final.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staging, final)
    tip = (ledger.read_tail(root, 1) or [{}])[-1]
    after = (tip.get("seq") or 0) if tip.get("chain") == line["chain"] else 0
    ledger.sync(root, anchor.entries(conn, line["chain"], after))
    signing.export_public(key, root)
    return final


def written(final: Path) -> dict:
    """The manifest of a run an earlier attempt archived as far as the cache."""
    return json.loads((final / "manifest.json").read_text())
