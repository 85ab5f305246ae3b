"""One archive across machines, and no run lost or left unscrubbed by a kill.

- Two CI runners and a laptop (each its own ROVN_EVIDENCE_DIR) run concurrently
  against one environment: one chain, which an auditor verifies from the bucket alone.
- `rovn-ops run` killed with SIGKILL: its raw notebook stays only in the run's private
  spool, and the next rovn-ops invocation scrubs it and archives it as `interrupted`.
"""
import hashlib
import json
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rovn_ops.evidence import ledger
from tests.conftest import ROOT, rovn_ops
from tests.scenarios.test_evidence import occurrences

BUCKET = "rovn-evidence-archive"


def _start(args: list[str], evidence: Path, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rovn_ops.cli", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "ROVN_EVIDENCE_DIR": str(evidence)}, **popen)


def test_three_machines_one_chain(fresh, aws, app_db, tmp_path):
    machines = {name: tmp_path / name / "evidence" for name in ("runner-1", "runner-2", "laptop")}
    procs = [_start(["run", "service_status", "--quiet"], d) for d in machines.values()]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    rows = [r[0] for r in app_db.execute("SELECT details FROM audit_log WHERE action = 'evidence' ORDER BY id")]
    assert [r["seq"] for r in rows] == [1, 2, 3] and len({r["chain"] for r in rows}) == 1
    assert [r["prev"] for r in rows] == [ledger.GENESIS, rows[0]["hash"], rows[1]["hash"]]
    for d in machines.values():  # each cache is a prefix of the one chain, holding its own run
        local = ledger.read(d)
        assert [e["hash"] for e in local] == [r["hash"] for r in rows[:len(local)]]
    auditor = tmp_path / "auditor" / "evidence"  # a fourth machine, empty
    env = {"ROVN_EVIDENCE_DIR": str(auditor)}
    res = rovn_ops("evidence", "verify", "--bucket", env=env)
    assert res.returncode == 0 and "evidence OK: 3 runs" in res.stdout, res.stdout
    assert "written again" not in res.stdout  # all three wrote keys/<key id>.pem: once, conditionally
    # The machine that anchored last holds the whole chain, and only its own run's files:
    # the others' are checked in the bucket.
    # (Which caches end up whole depends on the order the three archived in: another
    # machine may have synced the whole chain too.)
    [last] = [d for d in machines.values() if list(d.glob(f"*/{rows[-1]['run_id']}"))]
    assert len(ledger.read(last)) == 3
    res = rovn_ops("evidence", "verify", env={"ROVN_EVIDENCE_DIR": str(last)})
    assert res.returncode == 0 and "2 runs are not in this directory and were checked in the bucket" in res.stdout
    for stale in [d for d in machines.values() if len(ledger.read(d)) < 3][:1]:  # behind: says so, until pulled
        res = rovn_ops("evidence", "verify", env={"ROVN_EVIDENCE_DIR": str(stale)})
        assert res.returncode == 1 and "evidence pull" in res.stdout
        assert rovn_ops("evidence", "pull", env={"ROVN_EVIDENCE_DIR": str(stale)}).returncode == 0
        assert rovn_ops("evidence", "verify", env={"ROVN_EVIDENCE_DIR": str(stale)}).returncode == 0
    for d in machines.values():  # ephemeral runners' disks are gone
        shutil.rmtree(d.parent)
    assert rovn_ops("evidence", "verify", "--bucket", env=env).returncode == 0
    first = rows[0]["run_id"]
    assert rovn_ops("evidence", "pull", env=env).returncode == 0
    assert {e["run_id"] for e in ledger.read(auditor)} == {r["run_id"] for r in rows}
    res = rovn_ops("evidence", "verify", "--offline", env=env)
    assert res.returncode == 0 and "evidence OK: 3 runs" in res.stdout, res.stdout
    index = rovn_ops("evidence", "index", "--bucket", env=env)
    assert index.returncode == 0 and first in (auditor / "index.html").read_text()
    # Tampering in the bucket: a second version of a run's HTML copy.
    key = f"runs/{first}/service_status.html"
    head = aws("s3").head_object(Bucket=BUCKET, Key=key)
    aws("s3").put_object(Bucket=BUCKET, Key=key, Body=b"<p>nothing happened</p>", ObjectLockMode="COMPLIANCE",
                         ObjectLockRetainUntilDate=head["ObjectLockRetainUntilDate"])
    res = rovn_ops("evidence", "verify", "--bucket", env={"ROVN_EVIDENCE_DIR": str(tmp_path / "empty")})
    assert res.returncode == 1 and f"first bad run {first}" in res.stdout and "2 versions" in res.stdout


def _raw_copies(evidence: Path, needle: str) -> list[str]:
    """Where the value sits on disk: the evidence tree (spool included) and the temp
    directories a run used to write into."""
    found = [str(evidence / f) for f in occurrences(evidence, needle)] if evidence.exists() else []
    for d in Path(tempfile.gettempdir()).glob("rovn-run-*"):
        found += [str(d / f) for f in occurrences(d, needle)]
    return found


def test_sigkill_leaves_no_unscrubbed_notebook_and_the_next_invocation_archives_it(fresh, aws, evidence_dir,
                                                                                    tmp_path):
    canary = "canary-" + secrets.token_hex(16)
    aws("secretsmanager").create_secret(Name="rovn/sandbox/canary", SecretString=canary)
    ready = tmp_path / "ready"
    proc = _start(["run", str(ROOT / "tests/fixtures/secret_slow_probe.ipynb"), "--quiet",
                   "-p", f"ready_file={ready}"], evidence_dir)
    deadline = time.monotonic() + 120
    while not ready.exists() or not ready.read_text():  # the secret is printed; the kernel sleeps
        assert time.monotonic() < deadline and proc.poll() is None, "the probe never reached its long step"
        time.sleep(0.05)
    time.sleep(1.0)  # papermill saves the notebook after each cell
    proc.kill()  # SIGKILL: no handler runs, nothing is archived
    os.kill(int(ready.read_text()), signal.SIGKILL)  # and its kernel, as a killed CI job loses both
    proc.communicate(timeout=30)
    [spooled] = [d for d in (evidence_dir / ".spool").iterdir() if d.is_dir()]
    assert stat.S_IMODE(spooled.stat().st_mode) == 0o700
    assert _raw_copies(evidence_dir, canary) == [str(spooled / "secret_slow_probe.ipynb")]
    assert not list(evidence_dir.glob("*/*/manifest.json"))

    res = rovn_ops("evidence", "list", env={"ROVN_EVIDENCE_DIR": str(evidence_dir)})  # any next invocation
    assert f"recovered run {spooled.name}: archived as interrupted" in res.stderr, res.stderr
    assert not spooled.exists() and _raw_copies(evidence_dir, canary) == []
    [run_dir] = [p.parent for p in evidence_dir.glob("*/*/manifest.json")]
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["run_id"] == spooled.name and m["outcome"] == "interrupted" and "killed" in m["error"]
    cells = json.loads((run_dir / "secret_slow_probe.ipynb").read_text())["cells"]
    printed = json.dumps([c.get("outputs", []) for c in cells])
    assert "the value is [REDACTED]" in printed and "all done" not in printed
    res = rovn_ops("evidence", "verify", env={"ROVN_EVIDENCE_DIR": str(evidence_dir)})
    assert res.returncode == 0, res.stdout


def test_a_run_anchored_but_not_filed_is_finished_from_its_anchor_not_archived_twice(fresh, aws, app_db,
                                                                                    evidence_dir):
    """The archive's stages after the anchor (cache, upload; evidence/archive.py) resume from
    what the anchor signed: a day directory that cannot be made (a file in its place) stops
    the run after audit_log holds its ledger entry and before the move. The next invocation
    files and uploads the manifest that entry signs: one entry, never a second manifest."""
    from datetime import datetime, timedelta, timezone

    evidence_dir.mkdir(parents=True)
    now = datetime.now(timezone.utc)
    blockers = [evidence_dir / f"{day:%Y-%m-%d}" for day in (now, now + timedelta(days=1))]  # midnight
    for b in blockers:
        b.write_text("not a directory")
    env = {"ROVN_EVIDENCE_DIR": str(evidence_dir)}
    res = rovn_ops("run", "service_status", "--quiet", env=env)
    assert res.returncode != 0 and "could not be archived" in res.stderr, res.stderr
    [spooled] = [d for d in (evidence_dir / ".spool").iterdir() if d.is_dir()]
    [(outcome, anchored)] = app_db.execute("SELECT outcome, details FROM audit_log WHERE action = 'evidence' "
                                           "AND run_id = %s", [spooled.name]).fetchall()
    signed = anchored["manifest_sha256"]
    assert hashlib.sha256((spooled / "archive" / "manifest.json").read_bytes()).hexdigest() == signed

    for b in blockers:
        b.unlink()
    res = rovn_ops("evidence", "list", env=env)  # any next invocation
    assert f"recovered run {spooled.name}: archived as {outcome}" in res.stderr, res.stderr
    assert app_db.execute("SELECT count(*) FROM audit_log WHERE action = 'evidence' AND run_id = %s",
                          [spooled.name]).fetchone()[0] == 1
    [run_dir] = [p.parent for p in evidence_dir.glob("*/*/manifest.json")]
    assert hashlib.sha256((run_dir / "manifest.json").read_bytes()).hexdigest() == signed
    assert json.loads((run_dir / "signature.json").read_text()) == anchored
    s3 = aws("s3")
    stored = s3.get_object(Bucket=BUCKET, Key=f"runs/{spooled.name}/manifest.json")["Body"].read()
    assert stored == (run_dir / "manifest.json").read_bytes()
    res = rovn_ops("evidence", "verify", env=env)
    assert res.returncode == 0, res.stdout
