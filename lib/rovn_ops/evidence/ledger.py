"""ledger.jsonl: one line per archived run, hash-chained and Ed25519-signed.

entry hash = sha256 of the canonical JSON of {seq, run_id, path, manifest_sha256, prev};
signature = Ed25519 over the entry hash. Appends hold an exclusive file lock, so
concurrent runs extend one chain.
"""
from __future__ import annotations

import base64
import fcntl
import hashlib
import json
from pathlib import Path

GENESIS = "0" * 64
LEDGER_FILE = "ledger.jsonl"


def entry_hash(entry: dict) -> str:
    body = {k: entry[k] for k in ("seq", "run_id", "path", "manifest_sha256", "prev")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def read(root: Path) -> list[dict]:
    path = root / LEDGER_FILE
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"seq": None, "run_id": f"(ledger line {n} unreadable)", "line": n})
    return out


def append(root: Path, *, run_id: str, run_dir: Path, manifest_sha256: str, key) -> dict:
    from . import signing

    root.mkdir(parents=True, exist_ok=True)
    with open(root / LEDGER_FILE, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        lines = [json.loads(line) for line in f.read().splitlines() if line.strip()]
        prev = lines[-1]["hash"] if lines else GENESIS
        entry = {"seq": len(lines) + 1, "run_id": run_id, "path": str(run_dir.relative_to(root)),
                 "manifest_sha256": manifest_sha256, "prev": prev}
        entry["hash"] = entry_hash(entry)
        entry["key_id"] = signing.key_id(key.public_key())
        entry["sig"] = base64.b64encode(key.sign(bytes.fromhex(entry["hash"]))).decode()
        f.write(json.dumps(entry, sort_keys=True) + "\n")
        f.flush()
    return entry


def signature_ok(entry: dict, public_key) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        public_key.verify(base64.b64decode(entry["sig"]), bytes.fromhex(entry["hash"]))
        return True
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return False
