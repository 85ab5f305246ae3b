"""evidence verify across forked workers finds exactly what it finds in one process: every
tamper, in any run of any range, named the same way (issue 24: no speed-up weakens a check)."""
import importlib.util
import json
import os
import time

import pytest

from rovn_ops.evidence import fanout, ledger, verify
from tests.conftest import ROOT

_spec = importlib.util.spec_from_file_location("bench_evidence_verify", ROOT / "bench/evidence_verify.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_each_runs_in_forked_workers_in_order():
    # each item takes a moment, so the second worker has work whatever the load (a loaded
    # machine let one worker drain all eight ranges of instant items)
    pids = fanout.each(lambda x: (time.sleep(0.005), x, os.getpid())[1:], list(range(200)), min_items=1, workers=2)
    assert [x for x, _ in pids] == list(range(200))
    assert os.getpid() not in {p for _, p in pids} and len({p for _, p in pids}) == 2


def tamper(root):
    run = lambda i: root / f"2026-11-27/run-{i:06d}"  # noqa: E731
    (run(3) / "service_status.html").write_text("<p>edited</p>")
    (run(7) / "later.txt").write_text("added")
    (run(8) / "artifacts").mkdir()
    (run(8) / "artifacts" / "extra.sql").write_text("DROP TABLE x;")
    (run(11) / "service_status.ipynb").unlink()
    (run(13) / "service_status.html").unlink()
    (run(13) / "service_status.html").mkdir()  # a directory where the manifest lists a file
    m = json.loads((run(17) / "manifest.json").read_text())
    (run(17) / "manifest.json").write_text(json.dumps(m | {"runbook": "deploy"}))
    (run(19) / "signature.json").unlink()
    (root / "2026-11-28/run-planted").mkdir(parents=True)
    (root / "2026-11-28/run-planted/manifest.json").write_text("{}")
    lines = (root / ledger.LEDGER_FILE).read_text().splitlines()
    e = json.loads(lines[23])
    lines[23] = json.dumps(e | {"manifest_sha256": "1" * 64}, sort_keys=True)  # edited, hash not redone
    e = json.loads(lines[29])
    lines[29] = json.dumps(e | {"sig": e["checkpoint"]["sig"]}, sort_keys=True)  # a signature swapped
    (root / ledger.LEDGER_FILE).write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("all_signatures", [False, True])
def test_forked_verify_finds_every_tamper_the_serial_one_finds(tmp_path, monkeypatch, all_signatures):
    root = tmp_path / "archive"
    bench.synthesize(root, 40)
    tamper(root)

    def run(min_items):
        monkeypatch.setattr(fanout, "MIN_ITEMS", min_items)
        monkeypatch.setattr(fanout, "cores", lambda: 2)
        return verify.verify(verify.Local(root), env="sandbox", auditor_key=tmp_path / "archive-auditor.pem",
                             all_signatures=all_signatures)

    serial, forked = run(10**9), run(1)
    assert forked.problems == serial.problems
    found = "\n".join(f"{r}: {p}" for r, p in forked.problems)
    for expected in ("run-000003: service_status.html was modified",
                     "run-000007: later.txt is not in the manifest",
                     "run-000008: artifacts/extra.sql is not in the manifest",
                     "run-000011: service_status.ipynb is missing",
                     "run-000013: service_status.html is missing",
                     "run-000017: manifest.json was modified after it was signed",
                     "run-000019: signature.json is missing",
                     "run-000023: ledger entry 24 was edited",
                     "run-000029: ledger entry 30: bad signature",
                     "run-planted: is in the archive but not in the ledger"):
        assert expected in found, found
