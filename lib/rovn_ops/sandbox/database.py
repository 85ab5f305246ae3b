"""The sandbox's PostgreSQL: embedded pgserver, or the server DATABASE_URL names."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg

from .. import audit

DB_NAME = "rovn"
APP_ROLE = "rovn_app"


def start_embedded(datadir):
    import pgserver

    return pgserver.get_server(datadir, cleanup_mode="stop")


def _with(url: str, *, user: str | None = None, dbname: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if user:
        netloc = f"{user}@{netloc.split('@', 1)[-1]}"
    path = f"/{dbname}" if dbname else parts.path
    return urlunsplit((parts.scheme, netloc, path, parts.query, parts.fragment))


def recreate(admin_url: str) -> tuple[str, str]:
    """Drop and create the sandbox database; returns (admin URL, application URL).

    audit_log is owned by the admin role and the app role may only insert, as in
    production; the app role owns the rest of the schema (migrations run as it).
    """
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE]).fetchone():
            conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN")
    admin_db = _with(admin_url, dbname=DB_NAME)
    with psycopg.connect(admin_db, autocommit=True) as conn:
        conn.execute(f"GRANT ALL ON SCHEMA public TO {APP_ROLE}")
        audit.install(conn, app_role=APP_ROLE)
    return admin_db, _with(admin_db, user=APP_ROLE)
