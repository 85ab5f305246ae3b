"""The sandbox's PostgreSQL: embedded pgserver, or the server DATABASE_URL names."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg

from rovn_ops.audit import log as audit

DB_NAME = "rovn"
TEMPLATE = "rovn_seeded"  # the seeded database, kept for resets; nobody connects to it
SPARE = "rovn_next"  # the next reset's copy of it, made ahead
APP_ROLE = "rovn_app"
AUDIT_OWNER = "rovn_audit_owner"  # owns audit_log; NOLOGIN: nobody runs as it


def start_embedded(datadir):
    """The sandbox's own PostgreSQL, throwaway (seeded anew at every start): no fsync.
    Each reset drops the database, which forces a checkpoint; with fsync that waits on
    the disk (0.1-1 s on a busy machine), and so does every commit of every test."""
    from rovn_ops.core import paths

    paths.ensure_runtime_dir()  # pgserver reads it at import, and warns without it
    import pgserver

    pg = pgserver.get_server(datadir, cleanup_mode="stop")
    with psycopg.connect(pg.get_uri(), autocommit=True) as conn:
        for setting in ("fsync", "full_page_writes", "synchronous_commit"):
            conn.execute(f"ALTER SYSTEM SET {setting} = off")
        conn.execute("SELECT pg_reload_conf()")
    return pg


def _with(url: str, *, user: str | None = None, dbname: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if user:
        netloc = f"{user}@{netloc.split('@', 1)[-1]}"
    path = f"/{dbname}" if dbname else parts.path
    return urlunsplit((parts.scheme, netloc, path, parts.query, parts.fragment))


def recreate(admin_url: str) -> tuple[str, str]:
    """Drop and create the sandbox database; returns (admin URL, application URL).

    The admin role owns the schema and runs migrations (ROVN_MIGRATION_DATABASE_URL);
    the app role reads and writes the tables, and may only SELECT and INSERT audit_log.
    """
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
        for role, login in ((APP_ROLE, "LOGIN"), (AUDIT_OWNER, "NOLOGIN")):
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
                conn.execute(f"CREATE ROLE {role} {login}")
    admin_db = _with(admin_url, dbname=DB_NAME)
    with psycopg.connect(admin_db, autocommit=True) as conn:
        conn.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
        # Migrations run as the admin (owner) role; the app reads and writes what they create.
        conn.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE "
                     f"ON TABLES TO {APP_ROLE}")
        conn.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO {APP_ROLE}")
        audit.install(conn, app_role=APP_ROLE, owner_role=AUDIT_OWNER)
    return admin_db, _with(admin_db, user=APP_ROLE)


def keep_seeded(admin_url: str) -> None:
    """Keep the seeded database as a template (no one may be connected to it now)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        conn.execute(f"CREATE DATABASE {TEMPLATE} TEMPLATE {DB_NAME}")


def prepare_spare(admin_url: str) -> None:
    """The next reset's database, made ahead (the sandbox does it while a test runs): a
    copy of the kept one, its audit rows on a new chain. Nobody connects to it."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {SPARE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {SPARE} TEMPLATE {TEMPLATE}")
    with psycopg.connect(_with(admin_url, dbname=SPARE)) as conn:
        _rechain(conn)


def restore_seeded(admin_url: str) -> tuple[str, str]:
    """The sandbox database as `keep_seeded` kept it (the spare `prepare_spare` made):
    schema, rows, grants (roles are the cluster's and stay), and the audit rows on a
    new chain. Returns (admin URL, application URL), as recreate."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"ALTER DATABASE {SPARE} RENAME TO {DB_NAME}")
    admin_db = _with(admin_url, dbname=DB_NAME)
    return admin_db, _with(admin_db, user=APP_ROLE)


def _rechain(conn) -> None:
    """The seeded audit rows again, stamped now: new times, so new hashes. A reseeded
    world starts a new chain, and evidence tells worlds apart by its first row's hash
    (an archive of the last world must not look like this one's with rows missing).
    The spare is stamped when it is made, before its reset: as a seed's rows are.
    Each applied file's schema_migrations time becomes its audit_log 'migration' row's
    new time (the history cross-check pairs them), so the seed's order against its deploy
    rows is kept (the rollback gate reads which migrations came after which deploy)."""
    with conn.transaction():
        conn.execute("CREATE TEMP TABLE seeded ON COMMIT DROP AS "
                     "SELECT id, actor, action, target, outcome, run_id, details FROM audit_log")
        conn.execute("SET LOCAL session_replication_role = replica")  # past the append-only triggers
        conn.execute("TRUNCATE audit_log")
        conn.execute("SET LOCAL session_replication_role = origin")  # the chain trigger stamps again
        conn.execute("SELECT setval('audit_log_id_seq', 1, false)")
        conn.execute("INSERT INTO audit_log (actor, action, target, outcome, run_id, details) "
                     "SELECT actor, action, target, outcome, run_id, details FROM seeded ORDER BY id")
        if conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0]:
            conn.execute("UPDATE schema_migrations s SET applied_at = a.at FROM (SELECT target, max(occurred_at) AS at "
                         "FROM audit_log WHERE action = 'migration' AND outcome = 'applied' GROUP BY target) a "
                         "WHERE a.target = s.name")


def seed_history(admin_db_url: str, spec: dict, migrations_dir, registry_file) -> None:
    """Apply the sample migrations through `applied_through` with the real engine
    (recorded as the sandbox seed), then insert the sample rows."""
    from rovn_ops.migrations import engine, phi

    actor = engine.Actor("arn:aws:iam::123456789012:user/sandbox-seed", "sandbox-seed", "sandbox-seed")
    with psycopg.connect(admin_db_url, autocommit=True) as conn:
        engine.apply(conn, migrations_dir, actor=actor, approvers=spec.get("seed_approvers", []),
                     registry=phi.load_registry(registry_file), through=spec["applied_through"])
        for table, rows in spec.get("rows", {}).items():
            for row in rows:
                cols = list(row)
                conn.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                             f"({', '.join(['%s'] * len(cols))})", [row[c] for c in cols])
        for d in spec.get("deploys", []):  # history as the deploy runbook writes it
            audit.append(conn, actor="arn:aws:iam::123456789012:user/claude-deploy", action="deploy",
                         target="rovn-passport-api", outcome="success", run_id=d["run_id"],
                         details={k: v for k, v in d.items() if k != "run_id"} | {"sandbox_history": True})


def scratch(admin_url: str, name: str) -> str:
    """A new, empty database beside the sandbox's, with audit_log; returns its admin URL
    (tests and benchmarks apply migrations to it)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    url = _with(admin_url, dbname=name)
    with psycopg.connect(url, autocommit=True) as conn:
        audit.install(conn)
    return url
