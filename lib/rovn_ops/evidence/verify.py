"""`rovn-ops evidence verify`: is every archived run intact, signed and complete?

Checks, in ledger order: the chain (seq, prev, hash), each Ed25519 signature, the
run's manifest and every file it lists (sha256), the audit_log rows it names
(present, and unchanged since: their contents still hash to what the run saw),
and the bucket's Object Lock copies. Runs on disk that the ledger lacks are
reported too. The first problem names the run; any problem means exit 1.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from . import bucket, ledger, signing


@dataclass
class Report:
    checked: int = 0
    predate: int = 0  # sandbox runs older than the sandbox's current world
    problems: list[tuple[str, str]] = field(default_factory=list)  # (run id, what is wrong)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, run_id: str, message: str) -> None:
        self.problems.append((run_id, message))

    def __str__(self) -> str:
        note = (f"\n({self.predate} runs predate the sandbox's current world: their audit_log rows and "
                "bucket copies went with the reset; their files, ledger entries and signatures were checked)"
                if self.predate else "")
        if self.ok:
            return f"evidence OK: {self.checked} runs, chain and signatures intact{note}"
        first_run, first = self.problems[0]
        lines = [f"evidence NOT OK: first bad run {first_run}: {first}"]
        lines += [f"  - {run}: {msg}" for run, msg in self.problems[1:]]
        return "\n".join(lines)


def verify(root: Path, public_key=None, conn=None, s3=None, all_signatures: bool = False,
           world_since: str | None = None) -> Report:
    """Every entry's hash is recomputed and linked to the one before, so a valid
    signature on the last entry vouches for the whole chain (each entry's hash
    covers its predecessor's). Every signature is checked when that one fails (to
    name the first bad entry) or when all_signatures is set."""
    report = Report()
    public_key = public_key or signing.load_public(root / signing.PUBLIC_KEY_FILE)
    entries = ledger.read(root)
    chain_ok = _check_chain(entries, report)
    tip_ok = not entries or ledger.signature_ok(entries[-1], public_key)
    if all_signatures or not tip_ok or not chain_ok:
        for n, entry in enumerate(entries, 1):
            if not ledger.signature_ok(entry, public_key):
                report.add(entry.get("run_id", f"(ledger line {n})"),
                           f"ledger line {n}: bad signature (not signed by key {signing.key_id(public_key)})")
    for entry in entries:
        report.problems += _check_run(root, entry, conn, s3, world_since, report)
    seen = {e.get("path") for e in entries}
    for run_dir in sorted(root.glob("*/*/manifest.json")):
        if str(run_dir.parent.relative_to(root)) not in seen:
            report.add(run_dir.parent.name, "on disk but not in the ledger (inserted, or never signed)")
    order = {e.get("run_id"): n for n, e in enumerate(entries)}
    report.problems.sort(key=lambda p: order.get(p[0], len(entries)))  # stable: ledger order first
    return report


def _check_chain(entries: list[dict], report: Report) -> bool:
    prev, ok = ledger.GENESIS, True
    for n, entry in enumerate(entries, 1):
        report.checked += 1
        run = entry.get("run_id", f"(ledger line {n})")
        if entry.get("seq") != n or entry.get("prev") != prev:
            report.add(run, f"ledger line {n} is out of order or its predecessor was removed "
                            f"(seq {entry.get('seq')}, chain broken)")
            ok = False
        elif ledger.entry_hash(entry) != entry.get("hash"):
            report.add(run, f"ledger line {n} was edited (its hash does not match its fields)")
            ok = False
        prev = entry.get("hash", "")
    return ok


def _digest(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except FileNotFoundError:
        return None


def _check_run(root: Path, entry: dict, conn, s3, world_since: str | None = None,
               report: Report | None = None) -> list[tuple[str, str]]:
    """Plain paths and one read per file: this runs for every run in the archive."""
    run, directory = entry.get("run_id", "?"), os.path.join(root, entry.get("path", ""))
    try:
        with open(os.path.join(directory, "manifest.json"), "rb") as f:
            raw = f.read()
    except (FileNotFoundError, NotADirectoryError):
        return [(run, f"run directory {entry.get('path')} or its manifest is missing")]
    if hashlib.sha256(raw).hexdigest() != entry.get("manifest_sha256"):
        return [(run, "manifest.json was modified after it was signed")]
    m = json.loads(raw)
    problems = []
    for f in m.get("files", []):
        digest = _digest(os.path.join(directory, f["path"]))
        if digest is None:
            problems.append((run, f"{f['path']} is missing"))
        elif digest != f["sha256"]:
            problems.append((run, f"{f['path']} was modified (sha256 differs from the manifest)"))
    if world_since and m.get("started_at", "") < world_since:
        report.predate += 1  # a sandbox restart or reset since: its database and bucket are new
        return problems
    if conn is not None:
        problems += _check_audit(m, conn)
    if s3 is not None and m.get("archive"):
        from .archive import uploads

        problems += [(run, p) for p in bucket.check(s3, m["archive"], uploads(Path(directory), m))]
    return problems


def _check_audit(m: dict, conn) -> list[tuple[str, str]]:
    from .. import audit

    rows = m.get("audit_log", [])
    found = audit.content_hashes(conn, [r["id"] for r in rows])
    problems = []
    for r in rows:
        if r["id"] not in found:
            problems.append((m["run_id"], f"audit_log row {r['id']} is missing"))
            continue
        recomputed, stored = found[r["id"]]
        if recomputed != r["row_hash"] or stored != r["row_hash"]:
            problems.append((m["run_id"], f"audit_log row {r['id']} was altered since the run wrote it"))
    return problems
