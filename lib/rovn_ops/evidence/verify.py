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
import stat
from dataclasses import dataclass, field
from pathlib import Path

from rovn_ops.evidence import bucket as bucket_mod, fanout, ledger, signing

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

    def stored_runs(self, named: frozenset = frozenset()) -> dict[str, str]:
        """{<date>/<run id>: run id} for every directory two levels down that holds a
        manifest (hidden ones too, as `*/*/manifest.json` matches them); the ledger's own
        `named` runs are checked by check_run, so only the others are stat'ed."""
        out = {}
        for top in _dirs(str(self.root)):
            for run in _dirs(top.path):
                where = f"{top.name}/{run.name}"
                if where not in named and os.path.isfile(os.path.join(run.path, "manifest.json")):
                    out[where] = run.name
        return out

    def check_run(self, entry: dict) -> list[str] | None:
        return self.inspect(entry)[0]

    def inspect(self, entry: dict) -> tuple[list[str] | None, dict | None]:
        """(problems, the manifest parsed) for one run: plain paths and one read per file, as
        this runs for every run in the archive. None: the run's directory is not here (a
        cache may lack other machines' runs)."""
        directory = os.path.join(self.root, entry.get("path") or "")
        try:
            raw = _read_file(os.path.join(directory, "manifest.json"))
        except (FileNotFoundError, NotADirectoryError):
            return (None if not os.path.isdir(directory) else [f"{entry.get('path')}/manifest.json is missing"]), None
        return _check_files(entry, raw, lambda rel: _digest(os.path.join(directory, rel)),
                            lambda listed: _listing(directory, listed),
                            lambda: _read(os.path.join(directory, "signature.json")))


class Bucket:
    """The archive of record: the Object Lock bucket, read-only."""

    def __init__(self, s3, name: str, listing: bucket_mod.Listing | None = None):
        self.s3, self.name = s3, name
        self.listing = listing or bucket_mod.Listing.of(s3, name)
        self._manifests: dict[str, dict | None] = {}

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
        run = entry.get("run_id")
        if run not in self._manifests:  # check_run parsed it already: one GET per run
            self._manifests[run] = _json(self.read(f"{bucket_mod.RUNS_PREFIX}{run}/manifest.json"))
        return self._manifests[run]

    def stored_runs(self, named: frozenset = frozenset()) -> dict[str, str]:
        return {run: run for run in self.listing.run_ids() if run not in named}

    def check_run(self, entry: dict) -> list[str]:
        prefix = f"{bucket_mod.RUNS_PREFIX}{entry.get('run_id')}/"
        obj = self._get(prefix + "manifest.json")
        if obj is None:
            return [f"s3://{self.name}/{prefix}manifest.json is missing"]
        raw = obj["Body"].read()
        self._manifests[entry.get("run_id")] = _json(raw)
        problems = self._retention(prefix + "manifest.json", obj, raw)

        def digest(rel: str) -> str | None:
            o = self._get(prefix + rel)
            if o is None:
                return None
            body = o["Body"].read()
            problems.extend(self._retention(prefix + rel, o, raw))
            return hashlib.sha256(body).hexdigest()

        present = {k[len(prefix):] for k in self.listing.keys(prefix)}
        return problems + _check_files(entry, raw, digest, lambda listed: present,
                                       lambda: self.read(prefix + "signature.json"), where=f"s3://{self.name}/{prefix}")[0]

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


def _read_file(path: str) -> bytes:
    """A file's bytes through the raw descriptor (no buffered layer: runs hold small files)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _read(path: str) -> bytes | None:
    try:
        return _read_file(path)
    except OSError:
        return None


def _json(raw: bytes | None) -> dict | None:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _digest(path: str) -> str | None:
    """sha256 in 1 MiB reads (hashlib drops the GIL on each), without file_digest's
    256 KiB buffer per call."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        h = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            h.update(chunk)
        return h.hexdigest()
    except IsADirectoryError:  # a directory where the manifest lists a file: the file is missing
        return None
    finally:
        os.close(fd)


def _dirs(path: str) -> list:
    with os.scandir(path) as it:
        return [d for d in it if d.is_dir()]


def _listing(directory: str, listed: set[str]) -> set[str]:
    """Every file under a run directory, by relative path: one listdir, and a walk only
    into names that are not files the manifest lists (artifacts/, or something added).
    A listed name that is not a file fails its digest, so it is never taken on trust."""
    out = set()
    for name in os.listdir(directory):
        out |= {name} if name in listed else _walk(os.path.join(directory, name), name)
    return out


def _walk(path: str, rel: str) -> set[str]:
    if not stat.S_ISDIR(os.lstat(path).st_mode):  # a symlink is a file here, never followed
        return {rel}
    out = set()
    for name in os.listdir(path):
        out |= _walk(os.path.join(path, name), f"{rel}/{name}")
    return out


def _check_files(entry: dict, raw: bytes, digest, present, signature, where: str = "") -> tuple[list[str], dict | None]:
    """(problems, the manifest): `present(listed)` names every file the run holds."""
    if hashlib.sha256(raw).hexdigest() != entry.get("manifest_sha256"):
        return [f"{where}manifest.json was modified after it was signed"], None
    try:
        m = json.loads(raw)
    except ValueError:
        return [f"{where}manifest.json is not JSON"], None
    problems, listed = [], set(FIXED_FILES)
    for f in m.get("files", []):
        listed.add(f["path"])
        d = digest(f["path"])
        if d is None:
            problems.append(f"{where}{f['path']} is missing")
        elif d != f["sha256"]:
            problems.append(f"{where}{f['path']} was modified (sha256 differs from the manifest)")
    problems += [f"{where}{p} is not in the manifest (added after the run)" for p in sorted(present(listed) - listed)]
    sig = signature()  # a copy of the entry, for whoever reads the run alone: it names its hash
    if sig is None or f'"hash": "{entry.get("hash")}"'.encode() not in sig:
        problems.append(f"{where}signature.json is missing or is not the run's ledger entry")
    return problems, m


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


def _signed(e: dict, keys: dict) -> bool:
    key = keys.get(e.get("key_id"))
    return key is not None and ledger.signature_ok(e, key) and ledger.signature_ok(e.get("checkpoint") or {}, key)


def _seal(e: dict, keys: dict | None, signatures: bool) -> tuple[bool, bool, bool | None]:
    """What an entry says of itself: its hash, its checkpoint's hash, and (when asked) its
    signatures. Computed where its run is checked, in the same worker."""
    cp = e.get("checkpoint") or {}
    return (ledger.entry_hash(e) == e.get("hash"), ledger.checkpoint_hash(cp) == cp.get("hash"),
            _signed(e, keys) if signatures and keys is not None else None)


def check_chain(segment: list[dict], report: Report, keys: dict | None, partial: bool, all_signatures: bool,
                seals: list[tuple] | None = None) -> bool:
    """seq, prev, hashes, checkpoints; the tip's signatures vouch for the rest (each hash
    covers its predecessor's), every signature is checked when any link fails.
    `seals`: each entry's _seal, when the sweep over the runs has computed them."""
    seals = seals or [_seal(e, keys, all_signatures) for e in segment]
    ok = _check_links(segment, report, seals, partial)
    if keys is None:
        return ok
    tip_ok = seals[-1][2] if seals[-1][2] is not None else _signed(segment[-1], keys)
    if all_signatures or not tip_ok or not ok:
        _check_signatures(segment, report, keys, seals)
    return ok and tip_ok


def _check_links(segment: list[dict], report: Report, seals: list[tuple], partial: bool) -> bool:
    """Each entry follows its predecessor, hashes as it says, and its checkpoint matches it."""
    first = segment[0]
    prev = first.get("prev") if partial else ledger.GENESIS
    seq0 = (first.get("seq") or 1) if partial else 1
    ok, prev_cp = True, None
    for n, e in enumerate(segment):
        problem = _link_problem(e, seq0 + n, prev, prev_cp, seals[n])
        if problem:
            report.add(_name(e, n + 1), problem)
            ok = False
        prev, prev_cp = e.get("hash", ""), e.get("checkpoint") or {}
    return ok


def _link_problem(e: dict, seq: int, prev: str, prev_cp: dict | None, seal: tuple) -> str | None:
    cp = e.get("checkpoint") or {}
    if e.get("seq") != seq or e.get("prev") != prev:
        return (f"ledger entry {e.get('seq')} is out of order or its predecessor was removed "
                f"(expected seq {seq}, chain broken)")
    if not seal[0]:
        return f"ledger entry {e.get('seq')} was edited (its hash does not match its fields)"
    if (not seal[1] or cp.get("ledger_hash") != e.get("hash") or cp.get("ledger_seq") != e.get("seq")
            or cp.get("chain") != e.get("chain") or (prev_cp is not None and cp.get("previous") != prev_cp.get("hash"))):
        return f"the checkpoint of ledger entry {e.get('seq')} does not match its entry or the checkpoint before it"
    return None


def _check_signatures(segment: list[dict], report: Report, keys: dict, seals: list[tuple]) -> None:
    """Every entry's signatures, each named when it is not the trusted key's."""
    signed = [s[2] for s in seals] if all(s[2] is not None for s in seals) else \
        fanout.each(lambda e: _signed(e, keys), segment)  # every one, across the cores
    trusted = ", ".join(keys)
    for n, e in enumerate(segment, 1):
        if not signed[n - 1]:
            other = e.get("key_id")
            why = f"signed by key {other}, not the trusted key {trusted}" if other not in keys else \
                f"bad signature (not signed by key {other})"
            report.add(_name(e, n), f"ledger entry {e.get('seq')}: {why}")


def _sweep(store, segment: list[dict], keys: dict | None, signatures: bool, manifests: bool) -> list[tuple]:
    """(seal, the run's problems, what audit_log's check needs of its manifest) per entry:
    a directory across forked workers (Python work per run), the bucket on threads (round
    trips)."""
    if isinstance(store, Local):
        def one(e: dict) -> tuple:
            problems, m = store.inspect(e)
            slim = {"run_id": m.get("run_id"), "audit_log": m.get("audit_log", [])} if manifests and m else None
            return _seal(e, keys, signatures), problems, slim
        return fanout.each(one, segment)
    return [(_seal(e, keys, signatures), p, None) for e, p in zip(segment, _each(store.check_run, segment))]


def verify(store, *, env: str, auditor_key: Path | None = None, conn=None, bucket: Bucket | None = None,
           all_signatures: bool = False, last: int | None = None) -> Report:
    """The ledger's chains, each run against its entry, then (online) audit_log and the bucket."""
    report = Report()
    entries = store.entries(last)
    keys = _trusted_keys(store, env, auditor_key, entries, report)
    segments, current_chain = _chains(entries, env, conn, report)
    parsed: dict[str, dict] = {}  # run id: its manifest as the sweep read it, for audit_log's check
    for segment in segments:
        _check_segment(store, segment, report, keys, all_signatures, bool(last), conn is not None,
                       bucket if segment[0].get("chain") == current_chain else None, parsed)
    report.earlier_chains = sum(len(s) for s in segments if s[0].get("chain") != current_chain)
    current = [e for e in entries if e.get("chain") == current_chain]
    if not last:
        _unlisted_runs(store, entries, report)
    if conn is not None:
        _check_audit_log(store, conn, env, bucket, parsed, current, entries, report, bool(last))
    if bucket is not None:
        from rovn_ops.evidence import online

        online.check_bucket(bucket, current, entries, report, partial=bool(last))
        if conn is not None and not last:
            online.check_approval_anchors(conn, bucket, report)
    _in_ledger_order(report, entries)
    _gaps(report)
    return report


def _chains(entries: list[dict], env: str, conn, report: Report) -> tuple[list[list[dict]], str | None]:
    """The ledger's chains (a sandbox reset starts one; elsewhere one is all there may be),
    and which is current: audit_log's anchor names it online, else the newest."""
    segments = [s for s in _segments(entries) if s]
    if env != "sandbox" and len(segments) > 1:
        report.add(_name(segments[1][0], 0), "the ledger holds more than one chain: only a sandbox reset "
                                             "starts a new one")
    if conn is not None:
        return segments, anchor_chain(conn)
    return segments, segments[-1][0].get("chain") if segments else None


def _in_ledger_order(report: Report, entries: list[dict]) -> None:
    """Problems in ledger order, those of no entry last (a stable sort keeps each run's own order)."""
    order = {e.get("run_id"): n for n, e in enumerate(entries)}
    report.problems.sort(key=lambda p: order.get(p[0], len(entries)))


def _check_segment(store, segment: list[dict], report: Report, keys: dict | None, all_signatures: bool,
                   partial: bool, manifests: bool, bucket: Bucket | None, parsed: dict) -> None:
    """One chain: its links and signatures, and each run's files here and (for the current
    chain, online) in the bucket. `parsed` collects the manifests audit_log's check needs."""
    report.checked += len(segment)
    swept = _sweep(store, segment, keys, all_signatures, manifests=manifests)
    check_chain(segment, report, keys, partial=partial, all_signatures=all_signatures,
                seals=[s for s, _, _ in swept])
    in_bucket = _each(bucket.check_run, segment) if bucket is not None and bucket is not store \
        else [[]] * len(segment)
    for e, (_, problems, slim), theirs in zip(segment, swept, in_bucket):
        if slim:
            parsed[e.get("run_id")] = slim
        if problems is None and bucket is not None:
            report.bucket_only += 1
            problems = []
        elif problems is None:
            problems = [f"run directory {e.get('path')} is missing (not in this directory; online, "
                        "verify checks the bucket's copy, and `rovn-ops evidence pull` fetches it)"]
        report.problems += [(e.get("run_id", "?"), p) for p in problems + theirs]


def _unlisted_runs(store, entries: list[dict], report: Report) -> None:
    named = frozenset(e.get("path") if isinstance(store, Local) else e.get("run_id") for e in entries)
    for where, run in store.stored_runs(named).items():
        if where not in named:
            report.add(run, "is in the archive but not in the ledger (inserted, or never signed)")


def _check_audit_log(store, conn, env: str, bucket: Bucket | None, parsed: dict, current: list[dict],
                     entries: list[dict], report: Report, partial: bool) -> None:
    from rovn_ops.evidence import online

    def manifest_of(e: dict) -> dict | None:
        return parsed.get(e.get("run_id")) or store.manifest(e) or (bucket.manifest(e) if bucket is not None else None)

    online.check_audit(conn, env, manifest_of, current, entries, report, partial=partial)
    _approvals(conn, env, report)


def _approvals(conn, env: str, report: Report) -> None:
    """Every approval record in audit_log carries its approver's valid signature: a row
    written with the database credential alone is reported, not trusted (approval_records.py)."""
    from rovn_ops.protocol import approval_records
    from rovn_ops.protocol.authorization import Lists

    for row, why in approval_records.problems(conn, Lists.of(env)):
        report.add(f"audit_log row {row}", why)


def _gaps(report: Report) -> None:
    """What is not in the chain yet: audit_log rows kept while the database was unreachable,
    and runs spooled but not archived (audit_pending.py, spool.py). A gap until written."""
    from rovn_ops.audit import pending as audit_pending
    from rovn_ops.evidence.spool import orphans

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
    from rovn_ops.evidence import anchor

    return anchor.chain_id(conn)


def _trusted_keys(store, env: str, auditor_key: Path | None, entries: list[dict], report: Report) -> dict | None:
    """{key id: key}: the pinned key (or the auditor's) and its predecessors, through
    rotation statements signed by both sides."""
    from rovn_ops.core.errors import RovnError

    try:
        pinned = None if auditor_key else signing.pinned_id(env)
        key = signing.trusted(env, auditor_key, store.exported_key(pinned) if pinned else None)
    except RovnError as e:
        report.add(_name(entries[0], 1) if entries else "(archive)", str(e))
        return None
    return signing.with_predecessors(key, store.rotations())
