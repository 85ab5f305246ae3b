"""`rovn-ops evidence pull`: bring an evidence directory (a cache) up to the bucket,
the archive of record: the ledger entries it lacks, their runs' files, the public
key. What is already here is kept; `verify` checks the result."""
from __future__ import annotations

from pathlib import Path

from rovn_ops.evidence import bucket as bucket_mod, ledger, signing


def pull(s3, name: str, root: Path) -> tuple[int, int]:
    """Returns (ledger entries added, run files fetched)."""
    listing = bucket_mod.Listing.of(s3, name)
    have = {(e.get("chain", "")[:16], e.get("seq")) for e in ledger.read(root)}
    missing = []
    for key in listing.keys(bucket_mod.LEDGER_PREFIX):
        chain, seq = key[len(bucket_mod.LEDGER_PREFIX):].rsplit(".", 1)[0].split("/")
        if (chain, int(seq)) not in have:
            missing += ledger.parse([(bucket_mod.read(s3, name, key) or b"").decode()])
    fetched = 0
    # every entry whose files are not here: the new ones, and those this ledger already had
    # without their files (a run archived elsewhere, a remote task's, joins the ledger when
    # this machine next signs; its files are only in the bucket)
    for entry in ledger.read(root) + missing:
        prefix = f"{bucket_mod.RUNS_PREFIX}{entry.get('run_id')}/"
        run_dir = root / (entry.get("path") or "")
        if not entry.get("path") or ".." in Path(entry["path"]).parts:
            continue  # a path that would leave the archive: verify reports the entry
        for key in listing.keys(prefix):
            dest = run_dir / key[len(prefix):]
            if ".." in Path(key[len(prefix):]).parts or dest.exists():
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(bucket_mod.read(s3, name, key) or b"")
            fetched += 1
    ledger.sync(root, missing)
    _public_key(s3, name, listing, root, missing)
    _rotations(s3, name, listing, root)
    return len(missing), fetched


def _public_key(s3, name: str, listing, root: Path, entries: list[dict]) -> None:
    """The signing key's public half, for convenience: verify trusts it only if its id is pinned."""
    path = root / signing.PUBLIC_KEY_FILE
    key_ids = [e.get("key_id") for e in entries if e.get("key_id")]
    if path.exists() or not key_ids:
        return
    pem = bucket_mod.read(s3, name, f"{bucket_mod.KEYS_PREFIX}{key_ids[-1]}.pem")
    if pem:
        path.write_bytes(pem)


def _rotations(s3, name: str, listing, root: Path) -> None:
    """Key rotation statements: verify follows them back from the pinned key."""
    path = root / signing.ROTATIONS_FILE
    have = set(path.read_text().splitlines()) if path.exists() else set()
    new = [(bucket_mod.read(s3, name, k) or b"").decode().strip() for k in listing.keys(bucket_mod.ROTATIONS_PREFIX)]
    with open(path, "a") as f:
        f.writelines(line + "\n" for line in new if line and line not in have)
