"""The leak suite: a draft notebook reads canary secrets through the library and
emits them in every form the issue lists (repr, JSON with \\u escapes, HTML, a
DataFrame's text/html, URL-encoded, base64 and base64url, hex, upper and lower case,
printed in two flushed parts, stderr, logging, warnings, a traceback, a nested JSON
leaf, a webhook URL behind a failed delivery, an audit_log row). None of them may
reach the notebook, the HTML, the manifest, the S3 copies, stdout, stderr or
audit_log. The same forms of a non-secret marker must all be found (the scan works)."""
import base64
import html
import json
import secrets
import socket
import urllib.parse
from pathlib import Path

import psycopg

from tests.conftest import ROOT, rovn_ops
from tests.scenarios.test_evidence import strings  # every JSON string, base64 payloads decoded too

PROBE = str(ROOT / "tests/fixtures/leak_probe.ipynb")
NAMES = {"secret_name": "rovn/sandbox/leak-canary", "json_secret_name": "rovn/sandbox/leak-canary-json",
         "short_secret_name": "rovn/sandbox/leak-canary-short", "webhook_secret_name": "rovn/sandbox/leak-canary-webhook"}


def forms(v: str) -> dict[str, str]:
    b = v.encode()
    return {
        "plain": v, "repr": repr(v)[1:-1], "json": json.dumps(v)[1:-1], "html": html.escape(v),
        "url": urllib.parse.quote(v, safe=""),
        "url-plus": urllib.parse.quote_plus(v), "base64": base64.b64encode(b).decode().rstrip("="),
        "base64url": base64.urlsafe_b64encode(b).decode().rstrip("="),
        "base64-inside": base64.b64encode(b"Authorization: " + b).decode()[20:-4],
        "hex": b.hex(), "HEX": b.hex().upper(), "upper": v.upper(), "lower": v.lower()}


def cell_streams(nb: dict):
    """Each cell's stream output joined, as a reader sees it."""
    for cell in nb.get("cells", []):
        texts = [o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream"]
        yield "".join("".join(t) if isinstance(t, list) else t for t in texts)


def texts_of(path: Path) -> list[str]:
    text = path.read_text(errors="replace")
    out = [text, html.unescape(text)]
    if path.suffix in (".ipynb", ".json") and text.strip():
        data = json.loads(text)
        out += list(strings(data)) + list(cell_streams(data))
    return out


def sources(evidence: Path, s3_objects: dict, stdout: str, stderr: str, audit_rows: list[str]) -> dict[str, list[str]]:
    found = {str(p.relative_to(evidence)): texts_of(p) for p in evidence.rglob("*") if p.is_file()}
    found |= {f"s3://{k}": [v, html.unescape(v)] for k, v in s3_objects.items()}
    return found | {"stdout": [stdout], "stderr": [stderr], "audit_log": audit_rows}


def where(all_sources: dict, needle: str) -> list[str]:
    return [name for name, texts in all_sources.items() if any(needle in t for t in texts)]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_form_of_a_secret_reaches_any_copy(fresh, aws, evidence_dir):
    tag = secrets.token_hex(12)
    canary = f"Canary-ü&<'\"/+{tag}"
    leaf, password = f"nested-leaf-{secrets.token_hex(10)}", f"pw-{secrets.token_hex(10)}"
    hook = f"http://127.0.0.1:{closed_port()}/services/T0/B0/hooktoken{secrets.token_hex(10)}"
    marker = f"Marker-ü&<'\"/+{secrets.token_hex(12)}"
    sm = aws("secretsmanager")
    sm.create_secret(Name=NAMES["secret_name"], SecretString=canary)
    sm.create_secret(Name=NAMES["json_secret_name"],
                     SecretString=json.dumps({"outer": {"token": leaf}, "password": password, "user": "app"}))
    sm.create_secret(Name=NAMES["short_secret_name"], SecretString="pin42")
    sm.create_secret(Name=NAMES["webhook_secret_name"], SecretString=hook)

    res = rovn_ops("run", PROBE, "--quiet", "-p", f"marker={marker}")
    assert res.returncode == 1, res.stdout + res.stderr
    [run_dir] = [p.parent for p in evidence_dir.glob("*/*/manifest.json")]
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["outcome"] == "failed" and "[REDACTED]" in m["error"]
    assert {f["kind"] for f in m["files"]} >= {"notebook", "html"}
    s3 = aws("s3")
    objects = {o["Key"]: s3.get_object(Bucket="rovn-evidence-archive", Key=o["Key"])["Body"].read().decode()
               for o in s3.list_objects_v2(Bucket="rovn-evidence-archive", Prefix=f"runs/{m['run_id']}/")["Contents"]}
    with psycopg.connect(fresh["database_url"]) as conn:
        rows = [" ".join(map(str, r)) for r in conn.execute(
            "SELECT actor, action, target, outcome, details::text FROM audit_log")]
    assert any("leak-probe" in r and "[REDACTED]" in r for r in rows)
    everywhere = sources(evidence_dir, objects, res.stdout, res.stderr, rows)

    tried = {f"{label}/{name}": needle for label, value in
             [("canary", canary), ("leaf", leaf), ("field", password), ("hook", hook)]
             for name, needle in forms(value).items()}
    tried["hook-token"] = hook.rsplit("/", 1)[1]
    leaks = {k: where(everywhere, v) for k, v in tried.items()}
    assert {k: v for k, v in leaks.items() if v} == {}

    # positive control: every form of the marker is in the notebook and the HTML
    notebook, page = f"{run_dir.relative_to(evidence_dir)}/leak_probe.ipynb", f"{run_dir.relative_to(evidence_dir)}/leak_probe.html"
    for name, needle in forms(marker).items():
        seen = where(everywhere, needle)
        assert notebook in seen and page in seen, (name, seen)

    nb_text = (run_dir / "leak_probe.ipynb").read_text()
    assert "secret:rovn/sandbox/leak-canary-webhook" in nb_text and "NOT delivered" in nb_text
    assert "run key: [REDACTED]" in nb_text  # the per-run sealing key, printed from the environment
    assert "ShortSecretWarning" in nb_text and "rovn/sandbox/leak-canary-short" in nb_text
    assert m["short_secrets"] == ["rovn/sandbox/leak-canary-short"]


def test_the_operators_own_credentials_never_reach_the_evidence(fresh, evidence_dir, tmp_path):
    """What the operator brings (issue 20, class 6): AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
    PGPASSWORD, DATABASE_URL's password and the shared credentials file, printed by a draft."""
    import os

    from tests.scenarios.test_bad_input import draft

    session_token = "IQoJb3JpZ2luX2VjE" + secrets.token_urlsafe(24)
    pg_password = "pg-" + secrets.token_hex(8)
    file_secret = "file-" + secrets.token_hex(12)
    creds = tmp_path / "credentials"
    creds.write_text(f"[other]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = {file_secret}\n")
    db_password = "db-" + secrets.token_hex(8)  # the sandbox trusts loopback: a password is never asked for
    database_url = psycopg.conninfo.make_conninfo(fresh["database_url"], password=db_password)
    body = ("import os\n"
            "for k in ('AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'PGPASSWORD', 'DATABASE_URL'):\n"
            "    print(k, os.environ[k])\n"
            "print(open(os.environ['AWS_SHARED_CREDENTIALS_FILE']).read())\n")
    nb = draft(tmp_path, "creds_draft.ipynb", "x: int = 1\n")
    data = json.loads(Path(nb).read_text())
    data["cells"][1]["source"] = body
    Path(nb).write_text(json.dumps(data))
    run = rovn_ops("run", nb, env={"AWS_SESSION_TOKEN": session_token, "PGPASSWORD": pg_password,
                                    "AWS_SHARED_CREDENTIALS_FILE": str(creds), "DATABASE_URL": database_url})
    assert run.returncode == 0, run.stdout + run.stderr
    found = sources(evidence_dir, {}, run.stdout, run.stderr, [])
    notebook = next(k for k in found if k.endswith("creds_draft.ipynb"))
    assert "AWS_SESSION_TOKEN [REDACTED]" in "".join(found[notebook])  # it ran, and printed
    for name, value in {"AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"], "AWS_SESSION_TOKEN":
                        session_token, "PGPASSWORD": pg_password, "DATABASE_URL's password": db_password,
                        "credentials file": file_secret}.items():
        assert not where(found, value), (name, where(found, value))
