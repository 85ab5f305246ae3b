"""`rovn-ops evidence verify`: is every archived run intact, signed, complete and anchored?

The archive is read from an evidence directory (a cache) or from the bucket itself
(`--bucket`, for an auditor with read-only access and no operator's disk). Checks:

- the key: the pinned one of parameters/<env>.yaml, or the auditor's `--public-key`;
- the chain (seq, prev, hash) and its checkpoints (ledger head, audit_log head,
  previous checkpoint), signatures;
- each run: manifest, every file it lists (sha256), no file it does not list,
  signature.json is its ledger entry;
- online, audit_log: its evidence rows are exactly the ledger, every row naming a
  run has that run's evidence, the chain is intact and its head still hashes to what
  the latest checkpoint recorded (a recomputed chain or a deleted tail is found);
- online, the bucket: no delete marker, every version of a key the same bytes (a
  second version with other bytes is tampering), every run prefix in the ledger,
  the bucket's ledger not longer than this one, the run's copies intact and locked.

The first problem names the run; any problem means exit 1. `last=N` checks only the
newest N runs, anchored by the latest signed checkpoint: its cost does not grow with
the archive.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from . import bucket as bucket_mod, ledger, signing

FIXED_FILES = ("manifest.json", "signature.json")


@dataclass
class Report:
    checked: int = 0
    earlier_chains: int = 0  # runs of a chain before a sandbox reset: files and signatures only
    bucket_only: int = 0     # runs this directory does not hold, checked in the bucket
    written_again: list[str] = field(default_factory=list)  # bucket keys with extra versions of the same bytes
    problems: list[tuple[str, str]] = field(default_factory=list)  # (run id, what is wrong)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, run_id: str, message: str) -> None:
        self.problems.append((run_id, message))

    def __str__(self) -> str:
        notes = []
        if self.earlier_chains:
            notes.append(f"({self.earlier_chains} runs predate the sandbox's current world: their audit_log "
                         "rows and bucket copies went with the reset; their files, ledger entries and "
                         "signatures were checked)")
        if self.bucket_only:
            notes.append(f"({self.bucket_only} runs are not in this directory and were checked in the bucket; "
                         "`rovn-ops evidence pull` fetches them)")
        if self.written_again:
            notes.append(f"({len(self.written_again)} objects in the bucket were written again with the same "
                         f"bytes (machines racing, or an upload retried, before writes were conditional), "
                         f"which changes nothing a reader sees: "
                         f"{', '.join(self.written_again[:3])}{' …' if len(self.written_again) > 3 else ''})")
        if self.ok:
            return "\n".join([f"evidence OK: {self.checked} runs, chain and signatures intact", *notes])
        first_run, first = self.problems[0]
        lines = [f"evidence NOT OK: first bad run {first_run}: {first}"]
        lines += [f"  - {run}: {msg}" for run, msg in self.problems[1:]]
        return "\n".join(lines)


class Local:
    """An evidence directory: ledger.jsonl, the exported key, <date>/<run id>/ files."""

    def __init__(self, root: Path):
        self.root = root

    def entries(self, last: int | None) -> list[dict]:
        return ledger.read_tail(self.root, last) if last else ledger.read(self.root)

    def rotations(self) -> list[dict]:
        path = self.root / signing.ROTATIONS_FILE
        return [_json(line.encode()) or {} for line in path.read_text().splitlines()] if path.is_file() else []

    def exported_key(self, key_id: str) -> bytes | None:
        path = self.root / signing.PUBLIC_KEY_FILE
        return path.read_bytes() if path.is_file() else None

    def manifest(self, entry: dict) -> dict | None:
        return _json(_read(os.path.join(self.root, entry.get("path") or "", "manifest.json")))

    def stored_runs(self) -> dict[str, str]:
        return {str(p.parent.relative_to(self.root)): p.parent.name for p in self.root.glob("*/*/manifest.json")}

    def check_run(self, entry: dict) -> list[str] | None:
        """Plain paths and one read per file: this runs for every run in the archive.
        None: the run's directory is not here (a cache may lack other machines' runs)."""
        directory = os.path.join(self.root, entry.get("path") or "")
        try:
            with open(os.path.join(directory, "manifest.json"), "rb") as f:
                raw = f.read()
        except (FileNotFoundError, NotADirectoryError):
            return None if not os.path.isdir(directory) else [f"{entry.get('path')}/manifest.json is missing"]
        return _check_files(entry, raw, lambda rel: _digest(os.path.join(directory, rel)),
                            _listing(directory), lambda: _read(os.path.join(directory, "signature.json")))


class Bucket:
    """The archive of record: the Object Lock bucket, read-only."""

    def __init__(self, s3, name: str, listing: bucket_mod.Listing | None = None):
        self.s3, self.name = s3, name
        self.listing = listing or bucket_mod.Listing.of(s3, name)

    def entries(self, last: int | None) -> list[dict]:
        keys = self.listing.keys(bucket_mod.LEDGER_PREFIX)
        keys = keys[-last:] if last else keys
        return ledger.parse([(self.read(k) or b"").decode() for k in keys])

    def read(self, key: str) -> bytes | None:
        return bucket_mod.read(self.s3, self.name, key)

    def exported_key(self, key_id: str) -> bytes | None:
        return self.read(f"{bucket_mod.KEYS_PREFIX}{key_id}.pem")

    def rotations(self) -> list[dict]:
        return [_json(self.read(k)) or {} for k in self.listing.keys(bucket_mod.ROTATIONS_PREFIX)]

    def manifest(self, entry: dict) -> dict | None:
        return _json(self.read(f"{bucket_mod.RUNS_PREFIX}{entry.get('run_id')}/manifest.json"))

    def stored_runs(self) -> dict[str, str]:
        return {run: run for run in self.listing.run_ids()}

    def check_run(self, entry: dict) -> list[str]:
        prefix = f"{bucket_mod.RUNS_PREFIX}{entry.get('run_id')}/"
        obj = self._get(prefix + "manifest.json")
        if obj is None:
            return [f"s3://{self.name}/{prefix}manifest.json is missing"]
        raw = obj["Body"].read()
        problems = self._retention(prefix + "manifest.json", obj, raw)

        def digest(rel: str) -> str | None:
            o = self._get(prefix + rel)
            if o is None:
                return None
            body = o["Body"].read()
            problems.extend(self._retention(prefix + rel, o, raw))
            return hashlib.sha256(body).hexdigest()

        present = {k[len(prefix):] for k in self.listing.keys(prefix)}
        return problems + _check_files(entry, raw, digest, present, lambda: self.read(prefix + "signature.json"),
                                       where=f"s3://{self.name}/{prefix}")

    def _get(self, key: str):
        try:
            return self.s3.get_object(Bucket=self.name, Key=key)
        except self.s3.exceptions.ClientError:
            return None

    def _retention(self, key: str, obj: dict, manifest_raw: bytes) -> list[str]:
        try:
            archive = json.loads(manifest_raw).get("archive") or {}
        except ValueError:
            return []
        if not archive.get("retain_until"):
            return []
        return [f"s3://{self.name}/{key}: {p}" for p in bucket_mod.retention_problems(obj, archive)]


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _json(raw: bytes | None) -> dict | None:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _digest(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _listing(directory: str, prefix: str = "") -> set[str]:
    """Every file under a run directory, by relative path (one scandir per directory)."""
    out = set()
    with os.scandir(directory) as it:
        for d in it:
            if d.is_dir(follow_symlinks=False):
                out |= _listing(d.path, f"{prefix}{d.name}/")
            else:
                out.add(prefix + d.name)
    return out


def _check_files(entry: dict, raw: bytes, digest, present: set[str], signature, where: str = "") -> list[str]:
    if hashlib.sha256(raw).hexdigest() != entry.get("manifest_sha256"):
        return [f"{where}manifest.json was modified after it was signed"]
    try:
        m = json.loads(raw)
    except ValueError:
        return [f"{where}manifest.json is not JSON"]
    problems, listed = [], set(FIXED_FILES)
    for f in m.get("files", []):
        listed.add(f["path"])
        d = digest(f["path"])
        if d is None:
            problems.append(f"{where}{f['path']} is missing")
        elif d != f["sha256"]:
            problems.append(f"{where}{f['path']} was modified (sha256 differs from the manifest)")
    problems += [f"{where}{p} is not in the manifest (added after the run)" for p in sorted(present - listed)]
    sig = signature()  # a copy of the entry, for whoever reads the run alone: it names its hash
    if sig is None or f'"hash": "{entry.get("hash")}"'.encode() not in sig:
        problems.append(f"{where}signature.json is missing or is not the run's ledger entry")
    return problems


def _each(fn, items: list) -> list:
    """fn over items, in order, on a few threads: reading and hashing files release the GIL."""
    if len(items) < 64:
        return [fn(i) for i in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(4, (os.cpu_count() or 1) * 2)) as pool:
        return list(pool.map(fn, items, chunksize=32))


def _segments(entries: list[dict]) -> list[list[dict]]:
    """Entries split where the chain changes (a sandbox reset starts a new audit_log)."""
    out: list[list[dict]] = []
    for e in entries:
        if not out or out[-1][-1].get("chain") != e.get("chain"):
            out.append([])
        out[-1].append(e)
    return out


def _name(entry: dict, n: int) -> str:
    return entry.get("run_id") or f"(ledger entry {n})"


def check_chain(segment: list[dict], report: Report, keys: dict | None, partial: bool, all_signatures: bool) -> bool:
    """seq, prev, hashes, checkpoints; the tip's signatures vouch for the rest (each hash
    covers its predecessor's), every signature is checked when any link fails."""
    ok = True
    first = segment[0]
    prev = first.get("prev") if partial else ledger.GENESIS
    seq0 = (first.get("seq") or 1) if partial else 1
    prev_cp = None
    for n, e in enumerate(segment):
        run = _name(e, n + 1)
        cp = e.get("checkpoint") or {}
        if e.get("seq") != seq0 + n or e.get("prev") != prev:
            report.add(run, f"ledger entry {e.get('seq')} is out of order or its predecessor was removed "
                            f"(expected seq {seq0 + n}, chain broken)")
            ok = False
        elif ledger.entry_hash(e) != e.get("hash"):
            report.add(run, f"ledger entry {e.get('seq')} was edited (its hash does not match its fields)")
            ok = False
        elif (ledger.checkpoint_hash(cp) != cp.get("hash") or cp.get("ledger_hash") != e.get("hash")
              or cp.get("ledger_seq") != e.get("seq") or cp.get("chain") != e.get("chain")
              or (prev_cp is not None and cp.get("previous") != prev_cp.get("hash"))):
            report.add(run, f"the checkpoint of ledger entry {e.get('seq')} does not match its entry or "
                            "the checkpoint before it")
            ok = False
        prev, prev_cp = e.get("hash", ""), cp
    if keys is None:
        return ok

    def signed(e: dict) -> bool:
        key = keys.get(e.get("key_id"))
        return key is not None and ledger.signature_ok(e, key) and ledger.signature_ok(e.get("checkpoint") or {}, key)

    tip_ok = signed(segment[-1])
    if all_signatures or not tip_ok or not ok:
        trusted = ", ".join(keys)
        for n, e in enumerate(segment, 1):
            if not signed(e):
                other = e.get("key_id")
                why = f"signed by key {other}, not the trusted key {trusted}" if other not in keys else \
                    f"bad signature (not signed by key {other})"
                report.add(_name(e, n), f"ledger entry {e.get('seq')}: {why}")
    return ok and tip_ok


def verify(store, *, env: str, auditor_key: Path | None = None, conn=None, bucket: Bucket | None = None,
           all_signatures: bool = False, last: int | None = None) -> Report:
    report = Report()
    entries = store.entries(last)
    keys = _trusted_keys(store, env, auditor_key, entries, report)
    segments = _segments(entries) or [[]]
    if env != "sandbox" and len(segments) > 1:
        report.add(_name(segments[1][0], 0), "the ledger holds more than one chain: only a sandbox reset "
                                             "starts a new one")
    current_chain = anchor_chain(conn) if conn is not None else segments[-1][0].get("chain") if entries else None
    for segment in segments:
        if not segment:
            continue
        report.checked += len(segment)
        check_chain(segment, report, keys, partial=bool(last), all_signatures=all_signatures)
        online = segment[0].get("chain") == current_chain
        if not online:
            report.earlier_chains += len(segment)
        for e, problems in zip(segment, _each(store.check_run, segment)):
            if problems is None and bucket is not None and online:
                report.bucket_only += 1
                problems = []
            elif problems is None:
                problems = [f"run directory {e.get('path')} is missing (not in this directory; online, "
                            "verify checks the bucket's copy, and `rovn-ops evidence pull` fetches it)"]
            if bucket is not None and online and bucket is not store:
                problems += bucket.check_run(e)
            report.problems += [(e.get("run_id", "?"), p) for p in problems]
    current = [e for e in entries if e.get("chain") == current_chain]
    if not last:
        named = {e.get("path") if isinstance(store, Local) else e.get("run_id") for e in entries}
        for where, run in store.stored_runs().items():
            if where not in named:
                report.add(run, "is in the archive but not in the ledger (inserted, or never signed)")
    if conn is not None:
        from . import online

        def manifest_of(e: dict) -> dict | None:
            return store.manifest(e) or (bucket.manifest(e) if bucket is not None else None)

        online.check_audit(conn, env, manifest_of, current, entries, report, partial=bool(last))
    if bucket is not None:
        from . import online

        online.check_bucket(bucket, current, entries, report)
    order = {e.get("run_id"): n for n, e in enumerate(entries)}
    report.problems.sort(key=lambda p: order.get(p[0], len(entries)))  # stable: ledger order first
    _gaps(report)
    return report


def _gaps(report: Report) -> None:
    """What is not in the chain yet: audit_log rows kept while the database was unreachable,
    and runs spooled but not archived (audit_pending.py, spool.py). A gap until written."""
    from .. import audit_pending
    from .spool import orphans

    for path in audit_pending.kept():
        row = json.loads(path.read_text())
        report.add(str(row.get("run_id") or "-"), f"gap: its {row.get('action')} audit_log row (outcome "
                   f"{row.get('outcome')}) was kept at {row.get('kept_at')} while the database was unreachable and "
                   "is not written yet (the next rovn-ops command that reaches the database writes it)")
    for sp in orphans():
        report.add(sp.dir.name, "gap: the run is spooled, not archived yet (the next rovn-ops command archives it)")
        if sp._lock is not None:
            sp._lock.close()


def anchor_chain(conn) -> str | None:
    from . import anchor

    return anchor.chain_id(conn)


def _trusted_keys(store, env: str, auditor_key: Path | None, entries: list[dict], report: Report) -> dict | None:
    """{key id: key}: the pinned key (or the auditor's) and its predecessors, through
    rotation statements signed by both sides."""
    from ..errors import RovnError

    try:
        pinned = None if auditor_key else signing.pinned_id(env)
        key = signing.trusted(env, auditor_key, store.exported_key(pinned) if pinned else None)
    except RovnError as e:
        report.add(_name(entries[0], 1) if entries else "(archive)", str(e))
        return None
    return signing.with_predecessors(key, store.rotations())
