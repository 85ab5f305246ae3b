"""The evidence archive: scrubbed, signed, hash-chained, verifiable, mirrored to S3."""
import base64
import hashlib
import html
import json
import secrets
import shutil
from pathlib import Path

import psycopg
import pytest

from rovn_ops.evidence import index, ledger
from tests.conftest import ROOT, reverse_migration, rovn_ops

PROBE = str(ROOT / "tests/fixtures/secret_probe.ipynb")


def strings(node):
    """Every string in a JSON tree, with base64 payloads decoded too."""
    if isinstance(node, str):
        yield node
        try:
            yield base64.b64decode(node, validate=True).decode("utf-8", "ignore")
        except (ValueError, TypeError):
            pass
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)
    elif isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from strings(v)


def occurrences(root: Path, needle: str) -> list[str]:
    """Where a value appears in the archive: decoded notebook strings, HTML (entities
    unescaped), manifests, signatures, the ledger: every file under root."""
    found = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        texts = [text, html.unescape(text)]
        if path.suffix in (".ipynb", ".json"):
            texts += list(strings(json.loads(text)))
        if any(needle in t for t in texts):
            found.append(str(path.relative_to(root)))
    return found


def run(*args, **env):
    return rovn_ops("run", *args, "--quiet", env=env)


def test_canary_secret_is_scrubbed_everywhere(fresh, aws, evidence_dir):
    canary = "canary-" + secrets.token_hex(16)
    marker = "planted-" + secrets.token_hex(8)
    aws("secretsmanager").create_secret(Name="rovn/sandbox/canary", SecretString=canary)
    res = run(PROBE, "-p", f"note={canary}", "-p", f"marker={marker}")
    assert res.returncode == 1, res.stderr
    [run_dir] = [p.parent for p in evidence_dir.glob("*/*/manifest.json")]
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["outcome"] == "failed" and "[REDACTED]" in m["error"]
    kinds = {f["kind"] for f in m["files"]}
    assert kinds == {"notebook", "html"}
    assert occurrences(evidence_dir, canary) == []
    # positive control: the same scan finds what was deliberately planted, in every copy
    found = occurrences(evidence_dir, marker)
    assert any(f.endswith(".ipynb") for f in found) and any(f.endswith(".html") for f in found)
    assert any(f.endswith("manifest.json") for f in found)
    nb = json.loads((run_dir / "secret_probe.ipynb").read_text())
    assert "papermill" in nb["metadata"] and "[REDACTED]" in json.dumps(nb["metadata"]["papermill"]["parameters"])
    s3 = aws("s3")
    for obj in s3.list_objects_v2(Bucket="rovn-evidence-archive", Prefix=f"runs/{m['run_id']}/")["Contents"]:
        assert canary not in s3.get_object(Bucket="rovn-evidence-archive", Key=obj["Key"])["Body"].read().decode()


def test_parameters_that_look_secret_are_refused(fresh, evidence_dir):
    res = run("service_status", "-p", "service=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijklmnop")
    assert res.returncode == 2 and "looks like a secret value" in res.stderr
    assert not evidence_dir.exists()


@pytest.fixture(scope="module")
def archive(tmp_path_factory, sandbox):
    """Three signed runs, one of them a change with audit_log rows."""
    from rovn_sandbox import control

    control.reset(sandbox)
    d = tmp_path_factory.mktemp("archive") / "evidence"
    env = {"ROVN_EVIDENCE_DIR": str(d)}
    assert rovn_ops("run", "service_status", "--quiet", env=env).returncode == 0
    reverse_migration(env)
    return d


@pytest.fixture
def copy(archive, tmp_path, monkeypatch):
    d = tmp_path / "evidence"
    shutil.copytree(archive, d)
    monkeypatch.setenv("ROVN_EVIDENCE_DIR", str(d))
    return d


def verify(d: Path, *extra):
    return rovn_ops("evidence", "verify", *extra, env={"ROVN_EVIDENCE_DIR": str(d)})


def _runs(d: Path) -> list[Path]:
    return [d / e["path"] for e in ledger.read(d)]


def test_intact_archive_verifies(copy):
    res = verify(copy)
    assert res.returncode == 0 and "evidence OK: 3 runs" in res.stdout, res.stdout + res.stderr
    assert verify(copy, "--all-signatures").returncode == 0


def test_a_middle_entry_re_chained_without_the_key_is_found(copy):
    """Editing an entry and recomputing every later hash still fails: only the key signs."""
    path = copy / ledger.LEDGER_FILE
    entries = [json.loads(l) for l in path.read_text().splitlines()]
    entries[1]["manifest_sha256"] = "0" * 64
    prev = entries[0]["hash"]
    for e in entries[1:]:
        e["prev"] = prev
        e["hash"] = prev = ledger.entry_hash(e)
        e["checkpoint"]["ledger_hash"] = e["hash"]
    path.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))
    res = verify(copy, "--offline")
    assert res.returncode == 1 and f"first bad run {entries[1]['run_id']}" in res.stdout


def test_one_byte_changed_in_a_notebook(copy):
    run_dir = _runs(copy)[0]
    nb = next(run_dir.glob("*.ipynb"))
    data = bytearray(nb.read_bytes())
    data[len(data) // 2] ^= 0x01
    nb.write_bytes(bytes(data))
    res = verify(copy, "--offline")
    assert res.returncode == 1 and f"first bad run {run_dir.name}" in res.stdout and "was modified" in res.stdout


def test_a_run_directory_deleted(copy):
    run_dir = _runs(copy)[1]
    shutil.rmtree(run_dir)
    res = verify(copy, "--offline")
    assert res.returncode == 1 and f"first bad run {run_dir.name}" in res.stdout and "missing" in res.stdout


def test_two_ledger_lines_swapped(copy):
    path = copy / ledger.LEDGER_FILE
    lines = path.read_text().splitlines()
    lines[0], lines[1] = lines[1], lines[0]
    path.write_text("\n".join(lines) + "\n")
    res = verify(copy, "--offline")
    first = json.loads(lines[0])["run_id"]
    assert res.returncode == 1 and f"first bad run {first}" in res.stdout and "out of order" in res.stdout


def forge_entry(root: Path, run_dir: Path, key) -> dict:
    """What an insider without the key can do: append a well-formed, self-signed entry."""
    entries = ledger.read(root)
    tip = entries[-1]
    entry = ledger.make_entry(seq=tip["seq"] + 1, run_id=run_dir.name, path=str(run_dir.relative_to(root)),
                              manifest_sha256=hashlib.sha256((run_dir / "manifest.json").read_bytes()).hexdigest(),
                              prev=tip["hash"], chain=tip["chain"], key=key)
    cp = ledger.make_checkpoint(entry=entry, audit_head={"id": 1, "row_hash": "0" * 64}, at="2026-01-01T00:00:00",
                                previous=tip["checkpoint"], key=key)
    line = entry | {"checkpoint": cp}
    (run_dir / "signature.json").write_text(json.dumps(line))
    ledger.sync(root, [line])
    return line


def test_an_entry_appended_without_the_key(copy):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    forged_dir = copy / "2026-01-01" / "forged-run"
    forged_dir.mkdir(parents=True)
    (forged_dir / "manifest.json").write_text(json.dumps({"run_id": "forged-run", "files": []}))
    forge_entry(copy, forged_dir, Ed25519PrivateKey.generate())
    res = verify(copy, "--offline")
    assert res.returncode == 1 and "first bad run forged-run" in res.stdout and "not the trusted key" in res.stdout
    assert "evidence OK" not in verify(copy, "--offline", "--all-signatures").stdout


def test_an_audit_row_altered_by_a_superuser(copy, sandbox):
    m = json.loads((_runs(copy)[2] / "manifest.json").read_text())
    row = m["audit_log_ids"][-1]
    assert verify(copy).returncode == 0
    with psycopg.connect(sandbox["admin_database_url"], autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete")
        conn.execute("UPDATE audit_log SET outcome = 'failed' WHERE id = %s", [row])
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete")
    res = verify(copy)
    assert res.returncode == 1 and f"first bad run {m['run_id']}" in res.stdout
    assert f"audit_log row {row} was altered" in res.stdout


def test_bucket_copies_are_locked_and_checked(copy, aws):
    m = json.loads((_runs(copy)[0] / "manifest.json").read_text())
    s3 = aws("s3")
    key = m["archive"]["prefix"] + "manifest.json"
    head = s3.head_object(Bucket="rovn-evidence-archive", Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE" and head["ObjectLockRetainUntilDate"].year >= 2033
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="rovn-evidence-archive", Prefix=m["archive"]["prefix"])["Contents"]]
    assert len(keys) == 4  # notebook, HTML, manifest, signature: once, at the end
    s3.put_object(Bucket="rovn-evidence-archive", Key=m["archive"]["prefix"] + "signature.json", Body=b"{}",
                  ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=head["ObjectLockRetainUntilDate"])
    res = verify(copy)
    assert res.returncode == 1 and "signature.json" in res.stdout


def test_list_json_and_show(copy):
    res = rovn_ops("evidence", "list", "--json", env={"ROVN_EVIDENCE_DIR": str(copy)})
    runs = json.loads(res.stdout)
    assert len(runs) == 3 and {"run_id", "runbook", "outcome", "started_at", "path"} <= set(runs[0])
    show = rovn_ops("evidence", "show", runs[2]["run_id"], env={"ROVN_EVIDENCE_DIR": str(copy)})
    m = json.loads(show.stdout)
    assert m["approvals"][0]["approvers"] == ["giles"] and m["audit_log_ids"]
    assert m["suite"]["rovn_ops_version"] and m["source"]["sha256"]
    assert rovn_ops("evidence", "show", "nope", env={"ROVN_EVIDENCE_DIR": str(copy)}).returncode == 2


def test_after_a_sandbox_reset_older_runs_still_verify(copy, sandbox):
    """The sandbox's database and bucket are new after a reset; the archive outlives them."""
    from rovn_sandbox import control

    control.reset(sandbox)
    res = verify(copy)
    assert res.returncode == 0 and "3 runs predate the sandbox's current world" in res.stdout
    assert verify(copy, "--all-signatures").returncode == 0  # one sandbox key across resets


FORGE = """
import json, os, time
time.sleep(1)  # later than the runner's watch interval: the documented contract (a drop within it is a known gap)
print("the value:", value)
os.write(1, ("FD1 " + value + "\\n").encode()); os.system("echo SHELL " + value + " >&2")
path = os.environ["ROVN_RESULT_FILE"]
d = json.load(open(path))
d.pop("redact_sealed")
d["approvals"] = [{"approvers": ["giles", "christian"], "plan_hash": "deadbeef", "at": "2026-01-01"}]
d["acted_on"] = [{"action": "deploy", "target": "rovn-prod/rovn-passport-api", "outcome": "success"}]
d["targets"] = ["rovn-passport-api"]
json.dump(d, open(path, "w"))
"""


def test_a_draft_cannot_forge_approvals_or_switch_scrubbing_off(fresh, aws, evidence_dir, tmp_path):
    """The kernel writes its result file: a draft's approvals are claims, and a sealed secret
    it removes from the file is still redacted (the runner kept it) and the manifest says so.
    fd-level output (os.write, os.system) never reaches the runner's stdout/stderr in clear."""
    canary = "canary-" + secrets.token_hex(16)
    aws("secretsmanager").create_secret(Name="rovn/sandbox/canary", SecretString=canary)
    nb = json.loads(Path(PROBE).read_text())
    nb["cells"] = [c for c in nb["cells"] if "raise RuntimeError" not in "".join(c["source"])]
    nb["cells"].append({**nb["cells"][-1], "source": FORGE, "outputs": [], "execution_count": None})
    draft = tmp_path / "forge.ipynb"
    draft.write_text(json.dumps(nb))
    res = run(str(draft))
    assert res.returncode == 0, res.stdout + res.stderr
    [run_dir] = [p.parent for p in evidence_dir.glob("*/*/manifest.json")]
    m = json.loads((run_dir / "manifest.json").read_text())
    assert occurrences(evidence_dir, canary) == [] and canary not in res.stdout + res.stderr
    assert m["draft"] and m["approvals"] == [] and m["acted_on"] == [] and m["targets"] == []
    assert m["draft_claims"]["approvals"][0]["approvers"] == ["giles", "christian"]
    assert m["tampered"].startswith("the kernel removed") and "sealed secret" in m["tampered"]
    row = index._row({**m, "path": str(run_dir)}, evidence_dir, {})
    assert row["draft"] and not row["change"] and row["approvers"] == []  # never in the change view
