"""PostgreSQL connections (psycopg 3). DATABASE_URL names the database; in prod the
connection is built at run time from the Secrets Manager DB secret (§8), never from a
URL in the environment, so it survives every rotation."""
from __future__ import annotations

import os

from rovn_ops.core.errors import BadInput


def _prod() -> bool:
    """A runbook running against production (context.begin sets it): no URL from the environment."""
    return os.environ.get("ROVN_TARGET_ENV") == "prod"


def url():
    if _prod():
        return from_secret()
    value = os.environ.get("DATABASE_URL")
    if not value:
        raise BadInput("DATABASE_URL is not set: expected a PostgreSQL URL "
                       "(for the sandbox: eval \"$(rovn-ops sandbox env)\")")
    return value


def connect(database_url=None, *, autocommit: bool = True):
    """`database_url`: a URL, or a masked conninfo (a Secret) built from Secrets Manager."""
    import psycopg  # lazy: keeps `import rovn_ops` fast

    target = database_url or url()
    return psycopg.connect(target.reveal() if hasattr(target, "reveal") else target, autocommit=autocommit)


def migration_url():
    """Migrations run as the schema's owner: ROVN_MIGRATION_DATABASE_URL, else DATABASE_URL;
    in prod, the master credentials the DB secret's `masterarn` names."""
    if _prod():
        return from_secret(master=True)
    return os.environ.get("ROVN_MIGRATION_DATABASE_URL") or url()


def conninfo(sm, name: str, *, master: bool = False):
    """A masked libpq conninfo built from a Secrets Manager DB secret's AWSCURRENT, read
    now: right after a rotation, the next connection already uses the new user."""
    import json

    from psycopg.conninfo import make_conninfo

    from rovn_ops.safety import secret_values

    def read(secret_id: str) -> dict:
        # A credentials document: its password is the secret (user, host, dbname name things).
        doc = json.loads(sm.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")["SecretString"])
        if doc.get("password"):
            secret_values.wrap(doc["password"], f"{secret_id}#password")
        return doc

    creds = read(name)
    if master:
        creds = read(creds["masterarn"])
    info = make_conninfo(host=creds["host"], port=str(creds.get("port") or ""), dbname=creds["dbname"],
                         user=creds["username"], password=creds["password"])
    return secret_values.wrap(info, f"{name} (connection)")


def from_secret(*, master: bool = False):
    """Production's database, from the secret parameters/prod.yaml names (`secrets.database`)."""
    from rovn_ops.core import aws
    from rovn_ops.safety import params

    name = params.environment_section("prod", "secrets").get("database")
    if not name:
        raise BadInput("parameters/prod.yaml: secrets.database is not set: expected the DB secret's name")
    region = params.environment_defaults("prod").get("region") or "us-east-2"
    return conninfo(aws.client("secretsmanager", env="prod", region=region), name, master=master)


def connect_with(creds: dict, *, autocommit: bool = True, connect_timeout: int = 10):
    """Connect with a credentials document (a Secrets Manager DB secret's JSON): the
    password goes to libpq as a keyword, never through a URL string."""
    import psycopg

    return psycopg.connect(host=creds["host"], port=creds.get("port") or None, dbname=creds["dbname"],
                           user=creds["username"], password=creds["password"], autocommit=autocommit,
                           connect_timeout=connect_timeout)
