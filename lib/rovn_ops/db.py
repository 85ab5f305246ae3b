"""PostgreSQL connections (psycopg 3). DATABASE_URL names the database."""
from __future__ import annotations

import os

from .errors import BadInput


def url() -> str:
    value = os.environ.get("DATABASE_URL")
    if not value:
        raise BadInput("DATABASE_URL is not set: expected a PostgreSQL URL "
                       "(for the sandbox: eval \"$(rovn-ops sandbox env)\")")
    return value


def connect(database_url: str | None = None, *, autocommit: bool = True):
    import psycopg  # lazy: keeps `import rovn_ops` fast

    return psycopg.connect(database_url or url(), autocommit=autocommit)


def migration_url() -> str:
    """Migrations run as the schema's owner: ROVN_MIGRATION_DATABASE_URL, else DATABASE_URL."""
    return os.environ.get("ROVN_MIGRATION_DATABASE_URL") or url()


def connect_with(creds: dict, *, autocommit: bool = True, connect_timeout: int = 10):
    """Connect with a credentials document (a Secrets Manager DB secret's JSON): the
    password goes to libpq as a keyword, never through a URL string."""
    import psycopg

    return psycopg.connect(host=creds["host"], port=creds.get("port") or None, dbname=creds["dbname"],
                           user=creds["username"], password=creds["password"], autocommit=autocommit,
                           connect_timeout=connect_timeout)
