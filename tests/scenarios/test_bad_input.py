"""Bad input, as a careless operator or a hostile insider types it: each is refused
before any kernel starts, with one line naming what was expected and exit code 2;
nothing is archived and audit_log gains no row (so a rejected value is never in it)."""
import json

import psycopg
import pytest

from tests.conftest import ROOT, rovn_ops

PEM_NO_FOOTER = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHh4eHh4eHh4eHh4eHh4eHh4eHh4\n"
SECRET_ITEMS = {
    "password name": "DB_PASSWORD=hunter2-hunter2",
    "aws secret key name": "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "aws secret key shape": "S3_SYNC=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "github token": "GH=ghp_" + "a1B2c3D4e5" * 4,
    "github pat": "GH=github_pat_11ABCDEFG0" + "x" * 40,
    "slack token": "CHAT=xoxb-1234567890-abcdefghij",
    "slack webhook": "HOOK=https://hooks.slack.com/services/T0001/B0002/abcdefghijklmnopqrstuvwx",
    "pagerduty webhook": "PD=https://events.pagerduty.com/integration/0123456789abcdef0123456789abcdef/enqueue",
}


def draft(tmp_path, name: str, body) -> str:
    path = tmp_path / name
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        cells = [{"cell_type": "code", "id": "p", "metadata": {"tags": ["parameters"]}, "source": body,
                  "outputs": [], "execution_count": None},
                 {"cell_type": "code", "id": "b", "metadata": {}, "source": "print('ran')", "outputs": [],
                  "execution_count": None}]
        path.write_text(json.dumps({"cells": cells, "metadata": {"kernelspec": {
            "name": "python3", "language": "python", "display_name": "Python 3"}}, "nbformat": 4, "nbformat_minor": 5}))
    return str(path)


# 306 bytes that expand to 9**9 strings (the "billion laughs" of YAML)
BOMB = b"a: &a [x,x,x,x,x,x,x,x,x]\n" + b"".join(
    f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]\n".encode() for p, n in zip("abcdefgh", "bcdefghi"))


def cases(tmp_path) -> dict[str, tuple[list[str], dict, str]]:
    """name: (arguments, extra environment, what the one line must say)."""
    def yaml_file(name, content: bytes):
        (tmp_path / name).write_bytes(content)
        return str(tmp_path / name)

    run = ["run", "deploy", "--quiet"]
    out = {f"set_env {k}": (run + ["-p", f"set_env={v}"], {}, "would carry a secret") for k, v in SECRET_ITEMS.items()}
    out |= {
        "set_env PEM without footer": (run + ["-f", yaml_file("pem.yaml", json.dumps(
            {"set_env": [f"CERT={PEM_NO_FOOTER}"]}).encode())], {}, "would carry a secret"),
        "tag with a trailing newline": (run + ["-f", yaml_file("tag.yaml", b'image_tag: "prod-20261127031500\\n"\n')],
                                        {}, "parameter 'image_tag'"),
        "nan float": (run + ["-p", "poll_min=nan"], {}, "parameter 'poll_min'"),
        "infinite float": (run + ["-p", "deadline_s=inf"], {}, "parameter 'deadline_s'"),
        "10 MB value in a file": (run + ["-f", yaml_file("big.yaml", b"cpu: '" + b"1" * 10_000_000 + b"'\n")],
                                  {}, "expected a parameter file under"),
        "long -p value": (run + ["-p", "memory=" + "9" * 5000], {}, "at most 4096"),
        "service not an ECS name": (["run", "service_status", "--quiet", "-p", "service=rovn api;rm"], {},
                                    "parameter 'service'"),
        "cluster path": (["run", "service_status", "--quiet", "-p", "cluster=../../x"], {}, "parameter 'cluster'"),
        "region format": (["run", "service_status", "--quiet", "-p", "region=mars-1"], {}, "parameter 'region'"),
        "region not allowed": (["run", "service_status", "--quiet", "-p", "region=eu-west-1"], {},
                               "expected one of the sandbox environment's regions (us-east-2)"),
        "yaml not utf-8": (["run", "service_status", "--quiet", "-f", yaml_file("latin1.yaml", "service: caf\xe9\n".encode(
            "latin-1"))], {}, "not UTF-8 text"),
        "draft not a notebook": (["run", draft(tmp_path, "junk.ipynb", b"\x89PNG not json"), "--quiet"], {},
                                 "not a Jupyter notebook"),
        "draft default is a name": (["run", draft(tmp_path, "name.ipynb", "limit: int = DEFAULT_LIMIT\n"), "--quiet"],
                                    {}, "parameter 'limit': default 'DEFAULT_LIMIT' is not a literal"),
        "draft default runs code": (["run", draft(tmp_path, "evil.ipynb", 'x: str = __import__("os").system("touch '
                                                  f'{tmp_path}/pwned")\n'), "--quiet"], {}, "is not a literal"),
        # -f takes parameter files only (issue 20, classes 6 and 7)
        "yaml alias bomb in -f": (["run", "service_status", "--quiet", "-f", yaml_file("bomb.yaml", BOMB)], {},
                                  "anchors and aliases (&, *) are not accepted"),
        "-f a credentials file": (["run", "service_status", "--quiet", "-f", yaml_file(
            "credentials", b"[default]\naws_secret_access_key = hunter2hunter2hunter2\n")], {},
            "expected a parameter file (.yaml, .yml or .json)"),
        "-f /proc/self/environ": (["run", "service_status", "--quiet", "-f", "/proc/self/environ"], {},
                                  "expected a parameter file"),
        "-f a nested mapping": (["run", "service_status", "--quiet", "-f", yaml_file(
            "nested.yaml", b"health_url: {password: hunter2hunter2}\n")], {}, "not a nested mapping or list"),
        "-f a secret-shaped value": (["run", "service_status", "--quiet", "-f", yaml_file(
            "secret.yaml", b"events: 'postgresql://app:hunter2@db/x'\n")], {}, "looks like a secret value"),
        # junk accepted before, failing mid-run (issue 20, class 7); tests/unit/test_params_fuzz.py has every field
        "cpu not a Fargate size": (run + ["-p", "cpu=abc"], {}, "parameter 'cpu'"),
        "empty alarm_prefix": (["run", "service_status", "--quiet", "-p", "alarm_prefix="], {},
                               "parameter 'alarm_prefix': expected a CloudWatch alarm name"),
        "migrations_dir=/etc": (["run", "migration_reversal", "--quiet", "-p", "migrations_dir=/etc"], {},
                                "parameter 'migrations_dir': expected a directory of NNNN_name.sql migrations"),
        # the attack review's MEDIUM 5, LOW 7 and LOW 8: each started a kernel (exit 1 or 3, archived)
        "phi_registry=/etc/passwd": (run + ["-p", "phi_registry=/etc/passwd"], {}, "parameter 'phi_registry': "
                                     "expected a PHI column registry (a YAML mapping of table → columns)"),
        "confirm without plan_hash": (run + ["-p", "confirm=yes", "-p", "approved_by=giles"], {},
                                      "parameter 'plan_hash': expected the hash a preview printed"),
        "deadline_s of 1e20 s": (run + ["-p", "deadline_s=99999999999999999999"], {},
                                 "parameter 'deadline_s': expected less than or equal to 10800"),
        "300-character runbook name": (["run", "r" * 300, "--quiet"], {}, "not a runbook name or notebook path"),
        "audit tail -n -5": (["audit", "tail", "-n", "-5"], {}, "audit tail: argument -n: expected a whole number"),
        "unknown command": (["deploy-now"], {}, "invalid choice: 'deploy-now'"),
        "public key not a key": (["evidence", "verify", "--offline", "--public-key",
                                  yaml_file("key.pem", b"hello\n")], {}, "not a PEM public key"),
        "public key not ed25519": (["evidence", "verify", "--offline", "--public-key", yaml_file("rsa.pem", _rsa_pem())],
                                   {}, "key; expected Ed25519"),
        "endpoint 127.attacker": (["run", "service_status", "--quiet"], {"AWS_ENDPOINT_URL": "http://127.attacker.invalid:8080"},
                                  "AWS_ENDPOINT_URL (host 127.attacker.invalid) is not a sandbox"),
        "sandbox with a remote database": (["run", "service_status", "--quiet"], {
            "DATABASE_URL": "postgresql://app:pw-should-not-show@db.example.invalid/rovn"},
            "DATABASE_URL (host db.example.invalid) is not a sandbox"),
        "prod with the sandbox's database": (["run", "service_status", "--quiet", "--env", "prod"], {"AWS_ENDPOINT_URL": ""},
                                             "--env prod refused: DATABASE_URL"),
    }
    return out


def _rsa_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_each_bad_input_is_one_line_and_exit_2_with_nothing_changed(fresh, tmp_path, evidence_dir):
    def audit_rows():
        with psycopg.connect(fresh["database_url"]) as conn:
            return conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]

    before = audit_rows()
    all_cases = cases(tmp_path)
    results = {}
    for name, (args, env, expect) in all_cases.items():
        res = rovn_ops(*args, env=env)
        lines = res.stderr.strip().splitlines()
        results[name] = (res.returncode, lines)
        assert res.returncode == 2 and len(lines) == 1 and expect in lines[0], (name, res.returncode, res.stderr[-800:])
        assert lines[0].startswith("rovn-ops: error: ") and "Traceback" not in res.stderr + res.stdout, name
        assert "pw-should-not-show" not in res.stderr and "hunter2" not in res.stderr, name
    assert len(results) == len(all_cases) >= 25
    assert not evidence_dir.exists() or not list(evidence_dir.glob("*/*/manifest.json"))
    assert not (tmp_path / "pwned").exists()
    assert audit_rows() == before
