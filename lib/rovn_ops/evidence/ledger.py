"""The ledger: one entry per archived run, hash-chained and Ed25519-signed, each with
the signed checkpoint written when it was anchored (evidence/anchor.py).

entry hash = sha256 of the canonical JSON of {seq, run_id, path, manifest_sha256,
prev, chain, key_id}; sig = Ed25519 over the entry hash. `chain` names the audit_log
the entries are ordered by (the hash of its first row): the authoritative ledger is
the `evidence` rows of that audit_log, copied to the bucket; `ledger.jsonl` in an
evidence directory is a local cache of it (a sandbox reset starts a new chain).
"""
from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
from pathlib import Path

GENESIS = "0" * 64
LEDGER_FILE = "ledger.jsonl"
ENTRY_FIELDS = ("seq", "run_id", "path", "manifest_sha256", "prev", "chain", "key_id")
CHECKPOINT_FIELDS = ("chain", "ledger_seq", "ledger_hash", "audit_log_id", "audit_log_hash", "at",
                     "previous", "key_id")


def canonical_hash(body: dict, fields: tuple[str, ...]) -> str:
    data = {k: body.get(k) for k in fields}
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def entry_hash(entry: dict) -> str:
    return canonical_hash(entry, ENTRY_FIELDS)


def checkpoint_hash(cp: dict) -> str:
    return canonical_hash(cp, CHECKPOINT_FIELDS)


def sign(body: dict, key, digest: str) -> dict:
    from rovn_ops.evidence import signing

    return body | {"hash": digest, "key_id": body.get("key_id") or signing.key_id(key.public_key()),
                   "sig": base64.b64encode(key.sign(bytes.fromhex(digest))).decode()}


def make_entry(*, seq: int, run_id: str, path: str, manifest_sha256: str, prev: str, chain: str, key) -> dict:
    from rovn_ops.evidence import signing

    entry = {"seq": seq, "run_id": run_id, "path": path, "manifest_sha256": manifest_sha256, "prev": prev,
             "chain": chain, "key_id": signing.key_id(key.public_key())}
    return sign(entry, key, entry_hash(entry))


def make_checkpoint(*, entry: dict, audit_head: dict, at: str, previous: dict | None, key) -> dict:
    """What CloudTrail's digest files are to its logs: both heads, signed, linked."""
    cp = {"chain": entry["chain"], "ledger_seq": entry["seq"], "ledger_hash": entry["hash"],
          "audit_log_id": audit_head["id"], "audit_log_hash": audit_head["row_hash"], "at": at,
          "previous": previous["hash"] if previous else GENESIS, "key_id": entry["key_id"]}
    return sign(cp, key, checkpoint_hash(cp))


def parse(lines: list[str]) -> list[dict]:
    out = []
    for n, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
            out.append(entry if isinstance(entry, dict) else {})
        except ValueError:
            out.append({"seq": None, "run_id": f"(ledger line {n} unreadable)", "line": n})
    return out


def read(root: Path) -> list[dict]:
    path = root / LEDGER_FILE
    if not path.exists():
        return []
    return parse([line for line in path.read_text().splitlines() if line.strip()])


def read_tail(root: Path, n: int) -> list[dict]:
    """The last n entries, read backwards from the file's end: the cost of checking the
    newest runs does not grow with the archive."""
    path = root / LEDGER_FILE
    if not path.exists():
        return []
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        end = pos = f.tell()
        chunk, data = 1 << 16, b""
        while pos > 0 and data.count(b"\n") <= n:
            pos = max(0, pos - chunk)
            f.seek(pos)
            data = f.read(end - pos)
    lines = [line for line in data.decode().splitlines() if line.strip()]
    return parse(lines[-n:])  # with pos > 0 the first line may be partial: more than n were read


def sync(root: Path, entries: list[dict]) -> None:
    """Bring the local cache up to the authoritative chain: append the entries it lacks
    (other machines' runs included), under an exclusive lock."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LEDGER_FILE, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        have = {(e.get("chain"), e.get("seq")) for e in parse([x for x in f.read().splitlines() if x.strip()])}
        for e in entries:
            if (e.get("chain"), e.get("seq")) not in have:
                f.write(json.dumps(e, sort_keys=True) + "\n")
        f.flush()


def signature_ok(body: dict, public_key) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        public_key.verify(base64.b64decode(body["sig"]), bytes.fromhex(body["hash"]))
        return True
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return False
