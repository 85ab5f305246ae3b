"""A production-mode run starts a fresh kernel (issue 23, acceptance 4): `rovn-ops run
--env prod`, as on-call runs it, launches a kernel that is that runner's own new child,
started after it, with nothing preloaded, and a second prod run gets another one: no
kernel kept warm for production, by a pool, a fork server or an earlier run.

The run is production-shaped end to end, so the guard (core/aws.guard) lets it through as
it would a real one: no loopback endpoint and no DATABASE_URL in its environment, the
signing key loaded from Secrets Manager and checked against the pinned id before the
kernel starts, audit_log reached through the DB secret (clients/db.from_secret). What
answers is this session's sandbox, reached through a TCP relay on this machine's
non-loopback address; the checkout (ROVN_HOME) is this one with a prod.yaml that pins
the sandbox's signing key and names no bucket (the sandbox's S3 is not the test here).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict

from tests.conftest import PROBE, ROOT, checkout, probe_report



def _outward_address() -> str:
    """This machine's address on its default route (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
        except OSError:
            pytest.skip("no non-loopback address on this machine to reach the sandbox as production")
        address = s.getsockname()[0]
    if address.startswith("127."):
        pytest.skip("no non-loopback address on this machine to reach the sandbox as production")
    return address


def _relay(host: str, target) -> int:
    """A port on `host` that forwards each connection to `target`, a loopback port or a
    Unix socket's path (the sandbox's PostgreSQL listens on one); returns its port."""
    listener = socket.create_server((host, 0))

    def connect() -> socket.socket:
        if isinstance(target, int):
            return socket.create_connection(("127.0.0.1", target))
        unix = socket.socket(socket.AF_UNIX)
        unix.connect(target)
        return unix

    def pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def serve() -> None:
        while True:
            client, _ = listener.accept()
            upstream = connect()
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pump, args=(a, b), daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def _sandbox_key(sm) -> tuple[str, str]:
    """The sandbox's evidence signing key (its PEM) and the id sandbox.yaml pins for it."""
    pinned = yaml.safe_load((ROOT / "parameters/sandbox.yaml").read_text())["evidence"]
    pem = sm.get_secret_value(SecretId=pinned["signing_key_secret"], VersionStage="AWSCURRENT")["SecretString"]
    return pem, pinned["signing_key_id"]


def _put(sm, name: str, value: str) -> None:
    try:
        sm.create_secret(Name=name, SecretString=value)
    except sm.exceptions.ResourceExistsException:
        sm.put_secret_value(SecretId=name, SecretString=value)  # AWSCURRENT moves to it


@pytest.fixture
def prod_shaped(fresh, aws, tmp_path) -> dict:
    """The environment of a prod run that reaches this sandbox as if it were production."""
    host = _outward_address()
    moto, db = urlsplit(fresh["endpoint"]), conninfo_to_dict(fresh["database_url"])
    pg = db.get("host") or "/tmp"  # noqa: S108 - libpq's default socket directory
    pg = f"{pg}/.s.PGSQL.{db.get('port') or 5432}" if pg.startswith("/") else int(db.get("port") or 5432)
    sm = aws("secretsmanager")
    prod = yaml.safe_load((ROOT / "parameters/prod.yaml").read_text())
    pem, key_id = _sandbox_key(sm)
    _put(sm, prod["evidence"]["signing_key_secret"], pem)
    _put(sm, prod["secrets"]["database"], json.dumps({  # the seeded world has one, for the sandbox's own host
        "host": host, "port": _relay(host, pg), "dbname": db["dbname"],
        "username": db["user"], "password": db.get("password") or ""}))
    prod["evidence"] |= {"signing_key_id": key_id, "bucket": ""}
    home = checkout(tmp_path, lambda name, text: yaml.safe_dump(prod) if name == "prod.yaml" else text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DATABASE_URL", "ROVN_MIGRATION"))}
    return env | {"ROVN_HOME": str(home), "ROVN_EVIDENCE_DIR": str(tmp_path / "evidence"),
                  "AWS_ENDPOINT_URL": f"http://{host}:{_relay(host, moto.port)}",
                  "AWS_ACCESS_KEY_ID": fresh["access_key_id"], "AWS_SECRET_ACCESS_KEY": fresh["secret_access_key"],
                  "AWS_EC2_METADATA_DISABLED": "true"}


def _started(pid: int) -> int:
    """A process's start, in clock ticks since boot (proc(5), /proc/PID/stat field 22)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])


def _prod_run(env: dict) -> dict:
    proc = subprocess.Popen([sys.executable, "-m", "rovn_ops.cli", "run", str(PROBE), "--quiet", "--env", "prod"],
                            cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    runner_started = _started(proc.pid)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, out + err
    report = probe_report(out)
    manifest = json.loads((Path(out.split("evidence: ", 1)[1].split()[0]).parent / "manifest.json").read_text())
    return report | {"runner": proc.pid, "runner_started": runner_started, "manifest": manifest}


def test_a_production_run_starts_a_fresh_kernel_its_own_child(prod_shaped):
    first = _prod_run(prod_shaped)
    second = _prod_run(prod_shaped | {"ROVN_PROBE_MARK": "second-prod-run"})
    for run in (first, second):
        assert run["manifest"]["environment"] == "prod" and run["manifest"]["outcome"] == "success"
        assert run["ppid"] == run["runner"]  # launched by this run's runner: no pool or server elsewhere
        assert run["preloaded"] == []  # nothing imported ahead of the run, as a warm kernel would have
        assert run["started"] >= run["runner_started"]  # begun by this run, not before it
    assert first["pid"] != second["pid"] and second["mark"] == "second-prod-run"
    assert second["started"] >= first["started"]
